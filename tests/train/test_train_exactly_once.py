"""Exactly one version per training key, crash or not (issue 11.4), on in-memory storage and registry.

The forecasting is computed once per module and replayed, so every test here exercises only the
keying, lease and registry steps, and the whole file runs in seconds. The same scenario through the
real MLflow server is in test_train_registry_real.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time

import pytest
from tests.fake_registry import FakeMlflowClient, InjectedCrash, MemoryRegistry
from tests.fakes import MemoryBucket

from gasforecast import dataset
from gasforecast.config import Settings
from gasforecast.errors import TransientError
from gasforecast.lease import LeaseLost
from gasforecast.messaging import RetrainRequest, utc_now_iso
from gasforecast.registry import Registry
from gasforecast.sample import synthetic_history, to_csv_bytes
from gasforecast.training import LEASE_OBJECT, ForecastResult, run_forecasting, train

SETTINGS = Settings(nested_origins=4, max_drivers=2, forecast_horizon_max=60,
                    train_lock_wait_seconds=5)


@pytest.fixture(scope="module")
def curated_bytes() -> bytes:
    return dataset.curated_to_bytes(dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11))))


@pytest.fixture(scope="module")
def forecast_result(curated_bytes) -> ForecastResult:
    frame, _ = dataset.training_frame(dataset.read_curated(curated_bytes), SETTINGS.target_column)
    return run_forecasting(SETTINGS, frame, None)


@pytest.fixture()
def bucket(curated_bytes) -> MemoryBucket:
    bucket = MemoryBucket("data")
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")
    return bucket


@pytest.fixture()
def fake() -> FakeMlflowClient:
    return FakeMlflowClient()


@pytest.fixture()
def events(caplog):
    caplog.set_level(logging.INFO)
    return lambda name: [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == name]


def deliver(bucket, fake, result, message_id="m-1", force=False, **request):
    """One delivery of a retrain message to the train function, as after a fresh start."""
    registry = MemoryRegistry(SETTINGS, fake)
    return train(SETTINGS, RetrainRequest("manual", utc_now_iso(), force=force, **request), bucket,
                 SETTINGS.curated_object, bucket, registry, message_id=message_id,
                 forecaster=lambda settings, frame, champion: result)


def leave_dead_lease(bucket) -> None:
    """What a killed trainer leaves behind: its lease, expired by the time the retry comes."""
    body = json.dumps({"holder": "killed-trainer", "expires_at": time.time() - 1}).encode()
    bucket.write(LEASE_OBJECT, body, content_type="application/json")


def assert_one_promoted_version(fake, name=SETTINGS.model_name) -> str:
    versions = fake.model_versions(name)
    assert len(versions) == 1, [v.version for v in versions]
    (version,) = versions
    assert fake.champion(name) == version.version
    assert version.tags[Registry.STATE_TAG] == "promoted"
    run = fake.runs[version.run_id]
    assert run.info.status == "FINISHED" and run.data.tags[Registry.VERSION_TAG] == version.version
    assert not [r for r in fake.runs.values() if r.info.status == "RUNNING"], "a run was left RUNNING"
    return version.version


def test_a_training_registers_and_promotes_one_version_tagged_with_its_key(bucket, fake, forecast_result, events):
    outcome = deliver(bucket, fake, forecast_result)
    assert outcome.status == "trained" and outcome.version == "1"
    assert_one_promoted_version(fake)
    version = fake.model_versions(SETTINGS.model_name)[0]
    assert version.tags[Registry.KEY_TAG] == outcome.key
    assert json.loads(version.tags[Registry.CONFIG_TAG]) == forecast_result.winner.to_dict()
    forecast = json.loads(fake.runs[outcome.run_id].artifacts["forecast.json"])
    assert forecast["sanity"]["servable"] is True and forecast["sanity"]["band_ratio"] > 0
    assert bucket.read(LEASE_OBJECT) is None, "the lease is released"
    assert [e["status"] for e in events("train.finished")] == ["trained"]


def test_the_same_key_delivered_again_is_a_duplicate(bucket, fake, forecast_result, events):
    first = deliver(bucket, fake, forecast_result)
    runs = len(fake.runs)
    again = deliver(bucket, fake, forecast_result, message_id="m-2")
    assert again.status == "duplicate" and again.version == first.version
    assert len(fake.runs) == runs and len(fake.model_versions(SETTINGS.model_name)) == 1
    assert len(events("train.duplicate")) == 1


def test_new_data_is_a_new_key(bucket, fake, forecast_result, curated_bytes):
    deliver(bucket, fake, forecast_result)
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")  # a new generation
    outcome = deliver(bucket, fake, forecast_result, message_id="m-2")
    assert outcome.status == "trained" and outcome.version == "2" and fake.champion(SETTINGS.model_name) == "2"


def test_a_crash_right_after_registration_is_finished_by_the_retry_with_the_same_version(
        bucket, fake, forecast_result, events):
    fake.crash_after["create_model_version"] = 1
    with pytest.raises(InjectedCrash):
        deliver(bucket, fake, forecast_result)
    leave_dead_lease(bucket)
    assert fake.champion(SETTINGS.model_name) is None
    (orphan,) = fake.model_versions(SETTINGS.model_name)
    outcome = deliver(bucket, fake, forecast_result)
    assert outcome.status == "resumed" and outcome.version == orphan.version and outcome.run_id == orphan.run_id
    assert assert_one_promoted_version(fake) == orphan.version
    assert len(fake.runs) == 1
    assert len(events("train.resumed")) == 1 and len(events("lease.broken")) == 1


def test_a_crash_at_any_step_leaves_exactly_one_promoted_version_after_the_retry(bucket, curated_bytes,
                                                                                  forecast_result):
    clean = FakeMlflowClient()
    deliver(bucket, clean, forecast_result)
    steps = list(clean.writes)
    assert {"create_run", "create_model_version", "set_registered_model_alias", "set_model_version_tag"} <= set(steps)
    for number, step in enumerate(steps, start=1):
        fake = FakeMlflowClient()
        fake.crash_after_write = number
        data = MemoryBucket("data")
        data.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")
        with pytest.raises(InjectedCrash):
            deliver(data, fake, forecast_result)
        leave_dead_lease(data)
        fake.crash_after_write = None
        outcome = deliver(data, fake, forecast_result)
        assert outcome.status in ("trained", "resumed", "duplicate"), (number, step)
        assert assert_one_promoted_version(fake) == outcome.version, (number, step)
        crashed_runs = [r for r in fake.runs.values() if r.info.run_id != outcome.run_id]
        assert all(r.info.status == "FAILED" for r in crashed_runs), (number, step)


def test_a_retried_create_request_that_made_two_versions_settles_on_the_first(bucket, fake, forecast_result, events):
    fake.duplicate_creates = True
    outcome = deliver(bucket, fake, forecast_result)
    assert outcome.version == "1"
    assert_one_promoted_version(fake)
    assert [e["model_version"] for e in events("registry.duplicate_version_deleted")] == ["2"]


def test_mlflow_down_mid_training_is_transient_and_the_retry_registers_once(bucket, fake, forecast_result):
    fake.crash_after["log_batch"] = 1  # the trainer dies after logging its metrics
    with pytest.raises(InjectedCrash):
        deliver(bucket, fake, forecast_result)
    leave_dead_lease(bucket)
    fake.unreachable = 1  # the next delivery finds MLflow down
    with pytest.raises(TransientError):
        deliver(bucket, fake, forecast_result)
    assert bucket.read(LEASE_OBJECT) is None, "a delivery that fails releases its lease"
    outcome = deliver(bucket, fake, forecast_result)
    assert outcome.status == "trained"
    assert_one_promoted_version(fake)
    assert [r.info.status for r in fake.runs.values()] == ["FAILED", "FINISHED"]


def test_a_lost_lease_stops_the_training_before_it_registers(bucket, fake, forecast_result, monkeypatch):
    from gasforecast.lease import Lease

    monkeypatch.setattr(Lease, "ensure_held", lambda self: (_ for _ in ()).throw(LeaseLost("broken by another")))
    with pytest.raises(LeaseLost):
        deliver(bucket, fake, forecast_result)
    assert fake.model_versions(SETTINGS.model_name) == []


def test_a_forced_retrain_registers_once_per_message(bucket, fake, forecast_result):
    deliver(bucket, fake, forecast_result)
    forced = deliver(bucket, fake, forecast_result, message_id="force-1", force=True)
    again = deliver(bucket, fake, forecast_result, message_id="force-1", force=True)
    assert forced.status == "trained" and forced.version == "2"
    assert again.status == "duplicate" and again.version == "2"
    assert len(fake.model_versions(SETTINGS.model_name)) == 2 and fake.champion(SETTINGS.model_name) == "2"


def _wild(result: ForecastResult, factor: float) -> ForecastResult:
    """The same fit with a 95 % band `factor` times as wide in log space (a poisoned history's band)."""
    points = result.fitted.points.copy()
    centre = points["mean"].map(math.log)
    for side, sign in (("lower_95", -1), ("upper_95", 1)):
        points[side] = (centre + factor * (points[side].map(math.log) - centre)).map(math.exp)
    return dataclasses.replace(result, fitted=dataclasses.replace(result.fitted, points=points))


def test_an_unservable_bundle_is_never_registered_and_the_champion_stays(bucket, fake, forecast_result,
                                                                        curated_bytes, events):
    champion = deliver(bucket, fake, forecast_result)
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")
    refused = deliver(bucket, fake, _wild(forecast_result, 12.0), message_id="m-2")
    assert refused.status == "refused" and refused.version is None
    assert [v.version for v in fake.model_versions(SETTINGS.model_name)] == [champion.version]
    assert fake.champion(SETTINGS.model_name) == champion.version
    run = fake.runs[refused.run_id]
    assert run.info.status == "FINISHED" and run.data.tags[Registry.OUTCOME_TAG] == "refused"
    stored = json.loads(run.artifacts["forecast.json"])["sanity"]
    assert stored["servable"] is False and stored["band_ratio"] > stored["max_band_ratio"]
    (logged,) = events("train.promotion_refused")
    assert logged["sanity"]["band_ratio"] == stored["band_ratio"] and logged["reasons"]
    runs = len(fake.runs)
    assert deliver(bucket, fake, _wild(forecast_result, 12.0), message_id="m-3").status == "duplicate"
    assert len(fake.runs) == runs, "retrying cannot fix the bundle: no new run"


def test_a_non_finite_forecast_is_refused(bucket, fake, forecast_result):
    points = forecast_result.fitted.points.copy()
    points.loc[points.index[5], "upper_95"] = math.inf
    poisoned = dataclasses.replace(forecast_result, fitted=dataclasses.replace(forecast_result.fitted, points=points))
    outcome = deliver(bucket, fake, poisoned)
    assert outcome.status == "refused" and fake.model_versions(SETTINGS.model_name) == []


def test_the_champions_configuration_is_handed_to_the_forecasting(bucket, fake, forecast_result, curated_bytes):
    deliver(bucket, fake, forecast_result)
    seen = []
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")
    train(SETTINGS, RetrainRequest("manual", utc_now_iso()), bucket, SETTINGS.curated_object, bucket,
          MemoryRegistry(SETTINGS, fake), message_id="m-2",
          forecaster=lambda settings, frame, champion: seen.append(champion) or forecast_result)
    assert seen == [forecast_result.winner.to_dict()]


def test_a_legacy_champion_without_a_configuration_tag_is_read_from_its_run(fake):
    registry = MemoryRegistry(SETTINGS, fake)
    run = fake.create_run("0", tags={Registry.CONFIG_TAG: json.dumps({"kind": "ar"})})
    fake.create_registered_model(SETTINGS.model_name)
    old = fake.create_model_version(SETTINGS.model_name, source="models:/m-old", run_id=run.info.run_id)
    fake.set_registered_model_alias(SETTINGS.model_name, SETTINGS.champion_alias, old.version)
    assert registry.champion_config() == {"kind": "ar"}


def test_too_little_history_is_acknowledged_without_a_run(fake):
    bucket = MemoryBucket("data")
    short = dataset.read_curated(to_csv_bytes(synthetic_history(60)))
    bucket.write(SETTINGS.curated_object, dataset.curated_to_bytes(short), content_type="text/csv")
    outcome = train(
        SETTINGS, RetrainRequest("upload", utc_now_iso()), bucket, SETTINGS.curated_object, bucket,
        MemoryRegistry(SETTINGS, fake), message_id="short", forecaster=run_forecasting)
    assert outcome.status == "insufficient_history"
    assert fake.experiments == {} and fake.runs == {} and bucket.read(LEASE_OBJECT) is None
