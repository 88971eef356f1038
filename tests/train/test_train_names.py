"""MLflow-safe names (issue 11.6): no column name can make MLflow refuse a training run.

A driver column with a 300-character name made every later training fail ("Metric name exceeds
250") after registering a version each time. Here the run goes through MLflow's own validators (the
fake client calls them); test_train_registry_real.py sends the same column to the real server.
"""

from __future__ import annotations

import re

import pytest

from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.platform.config import Settings
from gasforecast.platform.messaging import RetrainRequest, utc_now_iso
from gasforecast.training.registry import MAX_NAME_LENGTH, bounded, safe_name
from gasforecast.training.retrain import TrainingPlaces, run_forecasting, train
from tests.fake_registry import FakeMlflowClient, MemoryRegistry
from tests.fakes import MemoryBucket

SETTINGS = Settings(nested_origins=4, max_drivers=2, forecast_horizon_max=60,
                    train_lock_wait_seconds=5)
HOSTILE = "=cmd|' /C calc'!A0 ../" + "ü" * 40 + "x" * 260  # 300+ characters, none of them name-safe
_MLFLOW_NAME = re.compile(r"^[/\w.\- :]*$")


def hostile_history() -> bytes:
    """The sample with its leading driver (TTF, which the price follows by a day) under a hostile name."""
    history = synthetic_history(3 * 365, seed=11).rename(columns={"ttf_price": HOSTILE})
    return dataset.curated_to_bytes(dataset.read_curated(to_csv_bytes(history)))


def test_safe_name_is_bounded_valid_and_keeps_long_labels_apart():
    first, second = safe_name(f"var[{HOSTILE}a]"), safe_name(f"var[{HOSTILE}b]")
    assert first != second
    for name in (first, second, safe_name("var[ttf_price,hdd]"), safe_name("///"), safe_name("")):
        assert 0 < len(name) <= 120 and _MLFLOW_NAME.match(name) and "/" not in name
    assert safe_name("var[ttf_price,hdd]") == "var_ttf_price_hdd"  # short labels stay readable


def test_bounded_values_fit_and_say_they_were_cut():
    assert bounded("short", 10) == "short"
    cut = bounded("x" * 7000, 6000)
    assert len(cut) == 6000 and cut.endswith("(+1000 chars)")


@pytest.mark.timeout(300)
def test_a_300_character_driver_name_trains_and_registers():
    bucket = MemoryBucket("data")
    bucket.write(SETTINGS.curated_object, hostile_history(), content_type="text/csv")
    fake = FakeMlflowClient()
    places = TrainingPlaces(bucket, SETTINGS.curated_object, bucket, MemoryRegistry(SETTINGS, fake), run_forecasting)
    outcome = train(SETTINGS, RetrainRequest("manual", utc_now_iso()), places, message_id="hostile")
    assert outcome.status == "trained"
    run = fake.runs[outcome.run_id]
    assert run.data.params["drivers"] == HOSTILE, "the model uses the hostile driver"
    assert f"candidate.{safe_name(f'var[{HOSTILE}]')}.h1.test_ratio" in run.data.metrics
    assert all(len(name) <= MAX_NAME_LENGTH for name in (*run.data.metrics, *run.data.params, *run.data.tags))
