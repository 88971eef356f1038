"""The service's REST reading of a run's bundle, against a stand-in MLflow server that answers like the
artifact proxy on Google Cloud Storage: 500 (not 404) for a file the run does not have."""

from __future__ import annotations

import json
import threading

import pytest
from service_fakes import make_bundle

from gasforecast import registry_rest
from gasforecast.bundle import FORECAST_ARTIFACT, HISTORY_ARTIFACT, TRACK_RECORD_ARTIFACT
from gasforecast.config import Settings
from gasforecast.errors import TransientError
from gasforecast.registry_rest import ChampionPointer


class FakeArtifactProxy:
    """runs/get and the mlflow-artifacts list/download endpoints for runs held in `files`."""

    def __init__(self) -> None:
        from flask import Flask, jsonify, request

        self.files: dict[str, dict[str, str]] = {}  # run id -> artifact name -> text
        self.downloads: list[str] = []
        app = Flask("fake-mlflow")

        @app.get("/api/2.0/mlflow/runs/get")
        def run():
            run_id = request.args["run_id"]
            if run_id not in self.files:
                return jsonify(error_code="RESOURCE_DOES_NOT_EXIST"), 404
            return jsonify(run={"info": {"run_id": run_id, "artifact_uri": f"mlflow-artifacts:/1/{run_id}/artifacts"}})

        @app.get("/api/2.0/mlflow-artifacts/artifacts")
        def listing():
            run_id = request.args["path"].split("/")[1]
            return jsonify(files=[{"path": name, "is_dir": False, "file_size": str(len(text))}
                                  for name, text in self.files.get(run_id, {}).items()]
                           + [{"path": "model", "is_dir": True}])

        @app.get("/api/2.0/mlflow-artifacts/artifacts/1/<run_id>/artifacts/<name>")
        def download(run_id, name):
            self.downloads.append(name)
            text = self.files.get(run_id, {}).get(name)
            if text is None:  # what the proxy does on GCS for a missing object
                return "Internal Server Error", 500
            return text

        self.app = app


@pytest.fixture(scope="module")
def proxy():
    from werkzeug.serving import make_server

    fake = FakeArtifactProxy()
    server = make_server("127.0.0.1", 0, fake.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="fake-mlflow", daemon=True)
    thread.start()
    fake.settings = Settings(mlflow_tracking_uri=f"http://127.0.0.1:{server.server_port}")
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(10)


def _store(proxy: FakeArtifactProxy, run_id: str, with_track_record: bool) -> None:
    bundle = make_bundle()
    proxy.files[run_id] = {FORECAST_ARTIFACT: bundle.forecast.model_dump_json(by_alias=True),
                           HISTORY_ARTIFACT: bundle.history.model_dump_json()}
    if with_track_record:
        proxy.files[run_id][TRACK_RECORD_ARTIFACT] = bundle.track_record.model_dump_json()


def test_a_run_with_a_track_record_loads_it_with_the_bundle(proxy):
    _store(proxy, "run-new", with_track_record=True)
    bundle = registry_rest.load_bundle(proxy.settings, ChampionPointer("5", "run-new"))
    assert bundle.version == "5" and bundle.track_record is not None
    assert bundle.track_record.to_json_dict() == json.loads(proxy.files["run-new"][TRACK_RECORD_ARTIFACT])


def test_an_older_run_without_one_loads_without_asking_for_the_missing_file(proxy):
    _store(proxy, "run-old", with_track_record=False)
    proxy.downloads.clear()
    bundle = registry_rest.load_bundle(proxy.settings, ChampionPointer("2", "run-old"))
    assert bundle.track_record is None and bundle.points
    assert sorted(proxy.downloads) == [FORECAST_ARTIFACT, HISTORY_ARTIFACT]


def test_a_run_missing_its_forecast_is_not_loaded(proxy):
    _store(proxy, "run-broken", with_track_record=True)
    del proxy.files["run-broken"][FORECAST_ARTIFACT]
    with pytest.raises(TransientError, match="500"):
        registry_rest.load_bundle(proxy.settings, ChampionPointer("3", "run-broken"))
