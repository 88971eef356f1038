"""The real service under gunicorn with a real champion from the MLflow server (integration)."""

from __future__ import annotations

import time

import pytest
from openapi_check import validate_response

from devstack.processes import wait_for


@pytest.fixture(scope="module")
def live_openapi(live_service) -> dict:
    response = live_service.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    "path",
    ["/api/v1/forecast", "/api/v1/forecast?horizon=7", "/api/v1/history", "/api/v1/history?days=30",
     "/api/v1/model", "/healthz", "/readyz", "/api/v1/forecast?horizon=0", "/api/v1/history?days=x"],
)
def test_real_responses_match_the_openapi_document(live_service, live_openapi, path):
    response = live_service.get(path)
    assert response.headers["Content-Type"].startswith("application/json")
    validate_response(live_openapi, path.split("?")[0], response.status_code, response.json())


def test_real_forecast_comes_from_the_registered_champion(live_service, champion):
    from gasforecast.training.registry import Registry

    pointer = Registry(champion).champion()
    body = live_service.get("/api/v1/forecast?horizon=30").json()
    assert body["model"]["run_id"] == pointer.run_id and len(body["points"]) == 30
    assert all(p["lower_95"] <= p["lower_80"] <= p["mean"] <= p["upper_80"] <= p["upper_95"] for p in body["points"])
    maximum = live_service.get("/api/v1/forecast").json()
    assert maximum["horizon"] == champion.forecast_horizon_max


def test_real_errors_are_json_and_etags_revalidate(live_service):
    assert live_service.get("/nowhere").json()["error"]["status"] == 404
    import requests

    wrong = requests.post(live_service.url + "/api/v1/model", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"]["status"] == 405
    first = live_service.get("/api/v1/model")
    again = live_service.get("/api/v1/model", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def _served_version(live_service) -> str | None:
    response = live_service.get("/api/v1/model")
    return response.json()["model"]["version"] if response.status_code == 200 else None


def test_a_newly_promoted_champion_is_served_within_60_seconds_without_restart(live_service, champion, gcs_emulator):
    from gasforecast.platform.storage import Bucket
    from gasforecast.publication import serving
    from gasforecast.training.registry import Registry

    registry = Registry(champion)
    client = registry.client
    current = client.get_model_version_by_alias(champion.model_name, champion.champion_alias)
    # Promote a new version of the same trained run, as training does (alias, then serving pointer):
    # other tests keep the same champion model. MLflow 3 sources read `models:/<model id>`; the
    # alias lookup does not always fill `model_id`.
    model_id = current.model_id or current.source.removeprefix("models:/")
    promoted = client.create_model_version(
        champion.model_name, source=current.source, run_id=current.run_id, model_id=model_id
    )
    pid = live_service.process.pid
    began = time.monotonic()
    client.set_registered_model_alias(champion.model_name, champion.champion_alias, promoted.version)
    bundle = registry.load_bundle(registry.version(str(promoted.version)))
    serving.publish(Bucket(gcs_emulator.client, champion.data_bucket), bundle,
                    serving.ChampionPointer(str(promoted.version), current.run_id))
    wait_for(lambda: _served_version(live_service) == str(promoted.version), timeout=60, what="the new champion")
    assert time.monotonic() - began < 60
    assert live_service.process.pid == pid and live_service.process.running()
    assert live_service.get("/readyz").json()["model_version"] == str(promoted.version)


def test_an_mlflow_outage_does_not_reach_the_service(live_service, mlflow_server):
    """The service reads the serving pointer in the bucket, never MLflow: with MLflow down its
    refreshes go on succeeding and it stays ready (a storage outage is the cache tests' degraded case)."""
    served = _served_version(live_service)
    mlflow_server.stop()
    try:
        before = live_service.get("/readyz").json()["last_success_at"]
        ready = wait_for(
            lambda: (r := live_service.get("/readyz")).json()["last_success_at"] != before and r, timeout=60,
            what="a refresh that succeeds while MLflow is down",
        )
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert ready.json()["model_version"] == served
        forecast = live_service.get("/api/v1/forecast?horizon=5")
        assert forecast.status_code == 200 and forecast.json()["model"]["version"] == served
        assert live_service.get("/").status_code == 200
    finally:
        mlflow_server.start()
