"""Configuration comes from the environment with defaults; logs are one JSON object per line."""

import json
import logging
from pathlib import Path

import pytest

from gasforecast.config import Settings, env_names, load_settings
from gasforecast.logs import JsonLineFormatter

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
        "import gasforecast.training, gasforecast.registry, gasforecast.lease, gasforecast.ingest, service.app\n"
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
