"""The registry as the service reads it: plain REST calls to the MLflow server, no MLflow client.

The service imports this module on its start-up path and must not pay the import of mlflow (about
1.5 s) nor carry it in its image; training goes through `gasforecast.registry.Registry` instead.
Every failure to reach the server is a `TransientError`, so the caller can keep what it serves.

Optional artifacts (`bundle.OPTIONAL_ARTIFACTS`, e.g. `track_record.json`) are downloaded only when
the run's artifact listing shows them: on Google Cloud Storage the artifact proxy answers 500, not
404, for a missing file, which would read as "MLflow is failing" for every older run.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import requests

from gasforecast.bundle import OPTIONAL_ARTIFACTS, REQUIRED_ARTIFACTS, ForecastBundle
from gasforecast.config import Settings
from gasforecast.errors import TransientError

_TIMEOUT = (3, 10)  # connect, read (seconds): the service's refresh must stay short


@dataclass(frozen=True)
class ChampionPointer:
    """One registered version and the run that holds its bundle."""

    version: str
    run_id: str


def _get(settings: Settings, path: str, params: dict[str, str | list[str]], what: str) -> requests.Response | None:
    """GET on the MLflow server's REST API; None on 404, `TransientError` when unreachable."""
    url = f"{settings.mlflow_tracking_uri.rstrip('/')}/{path}"
    try:
        response = requests.get(url, params=params, timeout=_TIMEOUT)
    except requests.RequestException as exc:
        raise TransientError(f"MLflow unreachable ({what}): {exc}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise TransientError(f"MLflow answered {response.status_code} ({what}): {response.text[:200]}")
    return response


def _pointer(version: dict) -> ChampionPointer:
    return ChampionPointer(version=str(version["version"]), run_id=str(version["run_id"]))


def champion_pointer(settings: Settings) -> ChampionPointer | None:
    """The version the champion alias points to, or None when there is no champion yet."""
    response = _get(
        settings,
        "api/2.0/mlflow/registered-models/alias",
        {"name": settings.model_name, "alias": settings.champion_alias},
        "alias lookup",
    )
    return None if response is None else _pointer(response.json()["model_version"])


def quoted(value: str) -> str:
    """`value` as a string literal of MLflow's search filter language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def recent_versions(settings: Settings, limit: int) -> list[ChampionPointer]:
    """The model's newest `limit` registered versions, newest first (for the service's fallback)."""
    response = _get(
        settings,
        "api/2.0/mlflow/model-versions/search",
        {"filter": f"name = {quoted(settings.model_name)}", "order_by": ["version_number DESC"],
         "max_results": str(limit)},
        "version search",
    )
    if response is None:
        return []
    return [_pointer(v) for v in response.json().get("model_versions", []) if v.get("run_id")]


def _artifact_names(settings: Settings, root: str) -> set[str]:
    """The names of the files at the top of a run's artifact folder."""
    response = _get(settings, "api/2.0/mlflow-artifacts/artifacts", {"path": root}, "list artifacts")
    files = response.json().get("files", []) if response is not None else []
    return {f["path"] for f in files if isinstance(f, dict) and not f.get("is_dir") and isinstance(f.get("path"), str)}


def load_bundle(settings: Settings, pointer: ChampionPointer) -> ForecastBundle:
    """Download the run's bundle (forecast, history and, when the run has one, its track record)
    through the server's artifact proxy."""
    run = _get(settings, "api/2.0/mlflow/runs/get", {"run_id": pointer.run_id}, "run lookup")
    if run is None:
        raise TransientError(f"run {pointer.run_id} of version {pointer.version} not found")
    artifact_uri = run.json()["run"]["info"]["artifact_uri"]
    parsed = urlparse(artifact_uri)
    if parsed.scheme != "mlflow-artifacts":
        raise TransientError(f"artifacts at {artifact_uri} are not served by the tracking server (--serve-artifacts)")
    root = parsed.path.strip("/")
    present = _artifact_names(settings, root)
    texts = {}
    for name in (*REQUIRED_ARTIFACTS, *(n for n in OPTIONAL_ARTIFACTS if n in present)):
        response = _get(settings, f"api/2.0/mlflow-artifacts/artifacts/{root}/{name}", {}, f"download {name}")
        if response is None:
            raise TransientError(f"run {pointer.run_id} has no {name}")
        texts[name] = response.content.decode("utf-8")
    return ForecastBundle.from_artifacts(texts, version=pointer.version)
