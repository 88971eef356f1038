"""MLflow: the experiment, the model registry and the `champion` alias.

Training logs runs and registers versions here; the service only asks which version the alias points
to and reads that run's bundle. Calls are bounded in time so that an unreachable tracking server
turns into a `TransientError` (redelivery) instead of a hung function.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gasforecast.bundle import FORECAST_ARTIFACT, HISTORY_ARTIFACT, ForecastBundle
from gasforecast.config import Settings
from gasforecast.errors import TransientError

# Fail fast: MLflow's default is 7 retries with exponential backoff (minutes).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")


@dataclass(frozen=True)
class ChampionPointer:
    version: str
    run_id: str


def client(settings: Settings):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=settings.mlflow_tracking_uri, registry_uri=settings.mlflow_tracking_uri)


def is_unreachable(exc: BaseException) -> bool:
    """True for errors that mean "MLflow is down or overloaded", as opposed to a real answer."""
    import requests
    from mlflow.exceptions import MlflowException

    if isinstance(exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError)):
        return True
    if isinstance(exc, MlflowException):
        text = str(exc)
        return any(s in text for s in ("Max retries", "Connection", "timed out", "API request to", "503", "502"))
    return False


def _is_missing(exc: BaseException) -> bool:
    from mlflow.exceptions import MlflowException

    return isinstance(exc, MlflowException) and exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def champion_pointer(settings: Settings) -> ChampionPointer | None:
    """The version the champion alias points to, or None when there is no champion yet."""
    try:
        version = client(settings).get_model_version_by_alias(settings.model_name, settings.champion_alias)
    except Exception as exc:
        if _is_missing(exc):
            return None
        raise TransientError(f"MLflow alias lookup failed: {exc}") from exc
    return ChampionPointer(version=str(version.version), run_id=version.run_id)


def load_bundle(settings: Settings, pointer: ChampionPointer) -> ForecastBundle:
    """Download the run's forecast and history artifacts (through the tracking server)."""
    from mlflow.artifacts import download_artifacts

    with tempfile.TemporaryDirectory() as tmp:
        try:
            texts = []
            for name in (FORECAST_ARTIFACT, HISTORY_ARTIFACT):
                path = download_artifacts(
                    run_id=pointer.run_id,
                    artifact_path=name,
                    dst_path=tmp,
                    tracking_uri=settings.mlflow_tracking_uri,
                )
                texts.append(Path(path).read_text(encoding="utf-8"))
        except Exception as exc:
            raise TransientError(f"downloading the bundle of run {pointer.run_id}: {exc}") from exc
    bundle = ForecastBundle.from_files(texts[0], texts[1], version=pointer.version)
    return bundle


def dumps(obj: object) -> str:
    return json.dumps(obj, indent=None, sort_keys=True, default=str)
