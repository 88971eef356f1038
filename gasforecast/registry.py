"""MLflow: the experiment, the model registry and the `champion` alias.

Training logs runs and registers versions here; the service only asks which version the alias points
to and reads that run's bundle. Calls are bounded in time so that an unreachable tracking server
turns into a `TransientError` (redelivery) instead of a hung function.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from gasforecast.bundle import FORECAST_ARTIFACT, HISTORY_ARTIFACT, ForecastBundle
from gasforecast.config import Settings
from gasforecast.errors import TransientError

if TYPE_CHECKING:  # the service imports this module and must not pay for mlflow
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

# Fail fast: MLflow's default is 7 retries with exponential backoff (minutes).
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")


@dataclass(frozen=True)
class ChampionPointer:
    version: str
    run_id: str


def client(settings: Settings) -> MlflowClient:
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


_REST_TIMEOUT = (3, 10)  # connect, read (seconds): the service's refresh must stay short


def _rest_get(settings: Settings, path: str, params: dict[str, str], what: str):
    """GET on the MLflow server's REST API; None on 404, `TransientError` when unreachable."""
    import requests

    url = f"{settings.mlflow_tracking_uri.rstrip('/')}/{path}"
    try:
        response = requests.get(url, params=params, timeout=_REST_TIMEOUT)
    except requests.RequestException as exc:
        raise TransientError(f"MLflow unreachable ({what}): {exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise TransientError(f"MLflow answered {response.status_code} ({what}): {response.text[:200]}")
    return response


def champion_pointer(settings: Settings) -> ChampionPointer | None:
    """The version the champion alias points to, or None when there is no champion yet.

    Plain REST, no MLflow client: the service calls this on its refresh path and must not pay the
    1.5 s import of mlflow at start-up.
    """
    response = _rest_get(
        settings,
        "api/2.0/mlflow/registered-models/alias",
        {"name": settings.model_name, "alias": settings.champion_alias},
        "alias lookup",
    )
    if response is None:
        return None
    version = response.json()["model_version"]
    return ChampionPointer(version=str(version["version"]), run_id=version["run_id"])


def load_bundle(settings: Settings, pointer: ChampionPointer) -> ForecastBundle:
    """Download the run's forecast and history artifacts through the server's artifact proxy."""
    run = _rest_get(settings, "api/2.0/mlflow/runs/get", {"run_id": pointer.run_id}, "run lookup")
    if run is None:
        raise TransientError(f"run {pointer.run_id} of version {pointer.version} not found")
    artifact_uri = run.json()["run"]["info"]["artifact_uri"]
    parsed = urlparse(artifact_uri)
    if parsed.scheme != "mlflow-artifacts":
        raise TransientError(f"artifacts at {artifact_uri} are not served by the tracking server (--serve-artifacts)")
    root = parsed.path.strip("/")
    texts = []
    for name in (FORECAST_ARTIFACT, HISTORY_ARTIFACT):
        response = _rest_get(settings, f"api/2.0/mlflow-artifacts/artifacts/{root}/{name}", {}, f"download {name}")
        if response is None:
            raise TransientError(f"run {pointer.run_id} has no {name}")
        texts.append(response.content.decode("utf-8"))
    return ForecastBundle.from_files(texts[0], texts[1], version=pointer.version)


def find_trained_run(mlflow_client: MlflowClient, settings: Settings, key_tag: str, key: str) -> Run | None:
    """The finished, registered run for a training key, or None."""
    experiment = mlflow_client.get_experiment_by_name(settings.mlflow_experiment)
    if experiment is None:
        return None
    runs = mlflow_client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`{key_tag}` = '{key}' and attributes.status = 'FINISHED'",
        max_results=5,
    )
    registered = [run for run in runs if "gasforecast.registered_version" in run.data.tags]
    return registered[0] if registered else None


def champion_config(settings: Settings, config_tag: str) -> dict | None:
    """The model configuration of the current champion (from its run), or None without a champion."""
    pointer = champion_pointer(settings)
    if pointer is None:
        return None
    run = client(settings).get_run(pointer.run_id)
    text = run.data.tags.get(config_tag)
    return json.loads(text) if text else None


MODEL_CODE = Path(__file__).resolve().parent / "model_artifact.py"
MODEL_PIP_REQUIREMENTS = ["mlflow-skinny==3.17.2", "numpy==2.4.6", "pandas==3.1.1", "statsmodels==0.15.0", "scipy==1.17.1"]


def register_forecaster(settings: Settings, fitted_model: object | None, forecast_path: Path) -> str:
    """Log the model (code file + forecast + pickled statsmodels results) in the active run and
    register it as a new version of `settings.model_name`; return the version."""
    import pickle

    import mlflow

    artifacts = {"forecast": str(forecast_path)}
    if fitted_model is not None:
        fitted_path = forecast_path.with_name("fitted_model.pkl")
        fitted_path.write_bytes(pickle.dumps(fitted_model))
        artifacts["fitted_model"] = str(fitted_path)
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=str(MODEL_CODE),
        artifacts=artifacts,
        pip_requirements=MODEL_PIP_REQUIREMENTS,
        registered_model_name=settings.model_name,
    )
    return str(info.registered_model_version)


def promote(settings: Settings, version: str, training_key: str) -> None:
    """Point the champion alias at `version` (training holds the lease, so versions only increase)."""
    mlflow_client = client(settings)
    mlflow_client.set_model_version_tag(settings.model_name, version, "training_key", training_key)
    mlflow_client.set_registered_model_alias(settings.model_name, settings.champion_alias, version)
