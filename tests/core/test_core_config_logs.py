"""Configuration comes from the environment with defaults; logs are one JSON object per line."""

import json
import logging
from pathlib import Path

import pytest

from gasforecast.platform.config import Settings, env_names, load_settings
from gasforecast.platform.logs import JsonLineFormatter

REPO = Path(__file__).resolve().parents[2]


def test_defaults_without_environment():
    settings = load_settings({})
    assert settings == Settings()
    assert settings.curated_uri == "gs://gasforecast-data/curated/history.csv"


def test_every_setting_has_an_environment_variable_and_is_read():
    settings = load_settings({"DATA_BUCKET": "d", "BACKTEST_HORIZONS": "1,5", "FORECAST_HORIZON_MAX": "30",
                              "TRAINING_WINDOW_YEARS": "2.5", "NESTED_ORIGINS": "8"})
    assert (settings.data_bucket, settings.backtest_horizons, settings.forecast_horizon_max) == ("d", (1, 5), 30)
    assert settings.training_window_years == 2.5 and settings.nested_origins == 8
    assert set(env_names()) == set(Settings.__dataclass_fields__)


def test_invalid_values_name_the_variable():
    with pytest.raises(ValueError, match="FORECAST_HORIZON_MAX"):
        load_settings({"FORECAST_HORIZON_MAX": "many"})
    with pytest.raises(ValueError, match="at least the largest backtest horizon"):
        load_settings({"FORECAST_HORIZON_MAX": "7"})
    with pytest.raises(ValueError, match="TRAIN_LOCK_TTL_SECONDS"):
        load_settings({"TRAIN_LOCK_TTL_SECONDS": "0"})
    with pytest.raises(ValueError, match="TRAIN_TIMEOUT_SECONDS must be longer"):
        load_settings({"TRAIN_TIMEOUT_SECONDS": "60"})


def test_log_lines_are_json_with_severity_and_fields():
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "train.failed", None, None)
    record.fields = {"event": "train.failed", "message_id": "m-1", "generation": 5}
    line = JsonLineFormatter().format(record)
    entry = json.loads(line)
    assert entry["severity"] == "WARNING" and entry["message_id"] == "m-1" and entry["generation"] == 5
    assert "\n" not in line


def test_importing_the_package_has_no_environment_or_logging_side_effects():
    """Only entry points configure logging (and the MLflow client's retries when a Registry is built)."""
    import subprocess
    import sys

    code = (
        "import logging, os, sys\n"
        "before = dict(os.environ)\n"
        "import gasforecast.training.retrain, gasforecast.training.registry, gasforecast.training.lease, gasforecast.ingestion.ingest, service.app\n"
        "print(sorted(set(os.environ) ^ set(before)), logging.getLogger().handlers)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "[] []"


def test_the_entry_points_configure_json_lines_on_stdout():
    import subprocess
    import sys

    code = "import functions.train.main, logging; print(type(logging.getLogger().handlers[0].formatter).__name__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "JsonLineFormatter"


# ---- Cloud Logging's trace fields (issue 21) ----------------------------------------------------------

def test_trace_fields_follow_the_cloud_trace_header():
    from gasforecast.platform.logs import SAMPLED_FIELD, SPAN_FIELD, TRACE_FIELD, trace_fields

    trace = "105445aa7843bc8bf206b12000100000"
    assert trace_fields(f"{trace}/1;o=1", "proj") == {TRACE_FIELD: f"projects/proj/traces/{trace}",
                                                      SPAN_FIELD: "0000000000000001", SAMPLED_FIELD: True}
    assert trace_fields(trace, "proj") == {TRACE_FIELD: f"projects/proj/traces/{trace}"}
    for hostile in (None, "", "not-a-trace", f"{trace}/1;o=1\nforged", "x" * 32, f"{trace}/12a"):
        assert trace_fields(hostile, "proj") == {}, hostile


def test_service_request_logs_carry_the_trace_of_their_request():
    """A line the service logs while answering carries the request's trace; a line after it does not."""
    import io
    import json as json_module
    import logging

    from flask import Flask

    from gasforecast.platform.config import Settings
    from gasforecast.platform.logs import TRACE_FIELD, JsonLineFormatter, get_logger
    from service import http

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonLineFormatter())
    logger = logging.getLogger("test.trace")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    app = Flask(__name__)
    app.extensions["gasforecast_settings"] = Settings(project="my-project")
    http.install(app)
    log = get_logger("test.trace")

    @app.get("/work")
    def work():
        log.info("test.inside_request")
        return "ok"

    trace = "0123456789abcdef0123456789abcdef"
    client = app.test_client()
    assert client.get("/work", headers={"X-Cloud-Trace-Context": f"{trace}/42;o=1"}).status_code == 200
    client.get("/work")
    log.info("test.outside_request")
    logger.removeHandler(handler)
    lines = [json_module.loads(line) for line in out.getvalue().splitlines()]
    inside = [line for line in lines if line.get("event") == "test.inside_request"]
    assert inside[0][TRACE_FIELD] == f"projects/my-project/traces/{trace}"
    assert inside[0]["logging.googleapis.com/spanId"] == f"{42:016x}"
    assert TRACE_FIELD not in inside[1], "a request without the header has no trace"
    assert all(TRACE_FIELD not in line for line in lines if line.get("event") == "test.outside_request")
