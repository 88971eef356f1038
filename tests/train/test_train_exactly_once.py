"""Exactly one version per training key, crash or not (issue 11.4), on in-memory storage and registry,
and exactly one forecast-ledger entry per promoted version (issue 13).

The forecasting is computed once per module and replayed, so every test here exercises only the
keying, lease, ledger and registry steps, and the whole file runs in seconds. The same scenario
through the real MLflow server is in test_train_registry_real.py.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time

import pytest

from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.series_calendar import NO_HOLIDAYS
from gasforecast.platform.config import Settings
from gasforecast.platform.errors import TransientError
from gasforecast.platform.messaging import RetrainRequest, utc_now_iso
from gasforecast.publication.documents import TrackRecordDocument
from gasforecast.publication.serving import ChampionPointer, PublishedChampions
from gasforecast.scoring.ledger import LEDGER_PREFIX, read_ledger
from gasforecast.scoring.track_record import day_index
from gasforecast.training.lease import LeaseLost
from gasforecast.training.registry import Registry
from gasforecast.training.retrain import LEASE_OBJECT, ForecastResult, TrainingPlaces, roll_back, run_forecasting, train
from tests.fake_registry import FakeMlflowClient, InjectedCrash, MemoryRegistry
from tests.fakes import MemoryBucket

SETTINGS = Settings(nested_origins=4, max_drivers=2, forecast_horizon_max=60,
                    train_lock_wait_seconds=5)


@pytest.fixture(scope="module")
def curated_bytes() -> bytes:
    return dataset.curated_to_bytes(dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11))))


@pytest.fixture(scope="module")
def forecast_result(curated_bytes) -> ForecastResult:
    frame, _ = dataset.training_frame(dataset.read_curated(curated_bytes), SETTINGS.target_column)
    return run_forecasting(SETTINGS, frame, None, NO_HOLIDAYS)


@pytest.fixture(scope="module")
def later_bytes() -> bytes:
    """The same series 30 days further on (the sample is prefix-stable): the first forecast matures."""
    return dataset.curated_to_bytes(dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365 + 30, seed=11))))


@pytest.fixture(scope="module")
def later_result(later_bytes) -> ForecastResult:
    frame, _ = dataset.training_frame(dataset.read_curated(later_bytes), SETTINGS.target_column)
    return run_forecasting(SETTINGS, frame, None, NO_HOLIDAYS)


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


def deliver(bucket, fake, result, message_id="m-1", force=False, settings=SETTINGS, **request):
    """One delivery of a retrain message to the train function, as after a fresh start."""
    registry = MemoryRegistry(settings, fake)
    places = TrainingPlaces(bucket, settings.curated_object, bucket, registry,
                            lambda settings, frame, champion, holidays: result)
    return train(settings, RetrainRequest("manual", utc_now_iso(), force=force, **request), places,
                 message_id=message_id)


def leave_dead_lease(bucket) -> None:
    """What a killed trainer leaves behind: its lease, expired by the time the retry comes."""
    body = json.dumps({"holder": "killed-trainer", "expires_at": time.time() - 1}).encode()
    bucket.write(LEASE_OBJECT, body, content_type="application/json")


def assert_one_promoted_version(fake, bucket, name=SETTINGS.model_name) -> str:
    """One version, the champion, marked promoted, its run finished, its forecast in the ledger once,
    and published for the service."""
    versions = fake.model_versions(name)
    assert len(versions) == 1, [v.version for v in versions]
    (version,) = versions
    assert fake.champion(name) == version.version
    assert version.tags[Registry.STATE_TAG] == "promoted"
    run = fake.runs[version.run_id]
    assert run.info.status == "FINISHED" and run.data.tags[Registry.VERSION_TAG] == version.version
    assert not [r for r in fake.training_runs() if r.info.status == "RUNNING"], "a run was left RUNNING"
    assert_ledger(bucket, fake, [version.version])
    assert_published(bucket, fake, version.version)
    return version.version


def assert_published(bucket, fake, version: str) -> None:
    """The serving pointer names `version`, whose published documents are its run's own."""
    published = PublishedChampions(bucket)
    (registered,) = [v for v in fake.model_versions(SETTINGS.model_name) if v.version == version]
    pointer = published.pointer()
    assert pointer == ChampionPointer(version, registered.run_id)
    stored = json.loads(fake.runs[registered.run_id].artifacts["forecast.json"])
    assert published.load(pointer).forecast.to_json_dict() == stored


def assert_ledger(bucket, fake, versions: list[str]) -> None:
    """The ledger holds exactly one entry per promoted version, each the forecast its run stored."""
    assert len(bucket.list_names(LEDGER_PREFIX)) == len(versions), bucket.list_names(LEDGER_PREFIX)
    entries = [e.to_json_dict() for e in read_ledger(bucket)]
    assert [e["model_version"] for e in entries] == versions
    for entry in entries:
        (version,) = [v for v in fake.model_versions(SETTINGS.model_name) if v.version == entry["model_version"]]
        stored = json.loads(fake.runs[version.run_id].artifacts["forecast.json"])
        assert (entry["run_id"], entry["training_key"]) == (version.run_id, version.tags[Registry.KEY_TAG])
        assert [p["mean"] for p in entry["points"]] == [p["mean"] for p in stored["points"]]


def monitoring_run(fake):
    (run,) = [r for r in fake.runs.values() if r.data.tags.get(Registry.MONITORING_TAG) == "track_record"]
    return run


def test_a_training_registers_and_promotes_one_version_tagged_with_its_key(bucket, fake, forecast_result, events):
    outcome = deliver(bucket, fake, forecast_result)
    assert outcome.status == "trained" and outcome.version == "1"
    assert_one_promoted_version(fake, bucket)
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
    assert_one_promoted_version(fake, bucket)


def test_new_data_is_a_new_key(bucket, fake, forecast_result, curated_bytes):
    deliver(bucket, fake, forecast_result)
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")  # a new generation
    outcome = deliver(bucket, fake, forecast_result, message_id="m-2")
    assert outcome.status == "trained" and outcome.version == "2" and fake.champion(SETTINGS.model_name) == "2"


def test_a_rollback_serves_an_earlier_version_until_a_training_promotes_anew(bucket, fake, forecast_result,
                                                                          curated_bytes, events):
    deliver(bucket, fake, forecast_result)
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")
    deliver(bucket, fake, forecast_result, message_id="m-2")
    assert_published(bucket, fake, "2")
    target = roll_back(SETTINGS, bucket, MemoryRegistry(SETTINGS, fake), "1")
    assert target.version == "1" and fake.champion(SETTINGS.model_name) == "1"
    assert_published(bucket, fake, "1")
    assert bucket.read(LEASE_OBJECT) is None, "the lease is released"
    assert [e["model_version"] for e in events("train.rolled_back")] == ["1"]
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")
    deliver(bucket, fake, forecast_result, message_id="m-3")
    assert_published(bucket, fake, "3")


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
    assert assert_one_promoted_version(fake, bucket) == orphan.version
    assert len(fake.training_runs()) == 1
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
        assert assert_one_promoted_version(fake, data) == outcome.version, (number, step)
        crashed_runs = [r for r in fake.training_runs() if r.info.run_id != outcome.run_id]
        assert all(r.info.status == "FAILED" for r in crashed_runs), (number, step)
        # At least once, and only a crash between its metrics and its key tag logs a record twice.
        assert 1 <= len(monitoring_run(fake).data.history["live.degraded"]) <= 2, (number, step)


class CrashAfterLedgerWrite(MemoryBucket):
    """A bucket whose first ledger write lands, then the trainer dies before its next step."""

    armed = True

    def write(self, object_name: str, data: bytes, **options) -> int:
        generation = super().write(object_name, data, **options)
        if self.armed and object_name.startswith(LEDGER_PREFIX):
            self.armed = False
            raise InjectedCrash(f"crashed right after writing {object_name}")
        return generation


def test_a_crash_right_after_the_ledger_write_is_finished_by_the_retry_without_a_second_entry(
        curated_bytes, fake, forecast_result, events):
    bucket = CrashAfterLedgerWrite("data")
    bucket.write(SETTINGS.curated_object, curated_bytes, content_type="text/csv")
    with pytest.raises(InjectedCrash):
        deliver(bucket, fake, forecast_result)
    leave_dead_lease(bucket)
    (written,) = bucket.list_names(LEDGER_PREFIX)
    generation = bucket.generation(written)
    outcome = deliver(bucket, fake, forecast_result)
    assert outcome.status == "resumed"
    assert assert_one_promoted_version(fake, bucket) == outcome.version
    assert bucket.generation(written) == generation, "the entry is never rewritten"
    assert [e["model_version"] for e in events("ledger.already_recorded")] == [outcome.version]


@pytest.mark.parametrize("force", [False, True], ids=["new-data", "forced"])
def test_a_champion_stranded_before_its_ledger_entry_is_finished_by_the_next_training(
        bucket, fake, forecast_result, later_bytes, later_result, events, force):
    """The alias moved, the trainer died, and its retry never came for that key (dead-lettered, then
    newer data or a forced retrain): the forecast was served, so the next training records it."""
    fake.crash_after["set_registered_model_alias"] = 1
    with pytest.raises(InjectedCrash):
        deliver(bucket, fake, forecast_result)
    leave_dead_lease(bucket)
    (stranded,) = fake.model_versions(SETTINGS.model_name)
    assert fake.champion(SETTINGS.model_name) == stranded.version and not bucket.list_names(LEDGER_PREFIX)
    if not force:
        bucket.write(SETTINGS.curated_object, later_bytes, content_type="text/csv")
    result = forecast_result if force else later_result
    outcome = deliver(bucket, fake, result, message_id="m-2", force=force)
    assert outcome.status == "trained" and outcome.version != stranded.version
    assert_ledger(bucket, fake, [stranded.version, outcome.version])
    assert stranded.tags[Registry.STATE_TAG] == "promoted"
    assert fake.runs[stranded.run_id].info.status == "FINISHED", "the stranded run is finished, not failed"
    (completed,) = events("train.promotion_completed")
    assert (completed["stranded_version"], completed["stranded_key"]) == (stranded.version, stranded.tags[Registry.KEY_TAG])
    assert not events("train.abandoned_runs_closed")
    assert deliver(bucket, fake, result, message_id="m-3").status == "duplicate"
    assert len(events("train.promotion_completed")) == 1, "a finished champion is left alone"


def test_a_stranded_champion_with_an_unreadable_bundle_does_not_stop_the_next_training(
        bucket, fake, forecast_result, later_bytes, later_result, events):
    fake.crash_after["set_registered_model_alias"] = 1
    with pytest.raises(InjectedCrash):
        deliver(bucket, fake, forecast_result)
    leave_dead_lease(bucket)
    (stranded,) = fake.model_versions(SETTINGS.model_name)
    fake.runs[stranded.run_id].artifacts["forecast.json"] = b'{"schema_version": 1, "points": [{"mean": Infinity'  # cut off mid-write
    bucket.write(SETTINGS.curated_object, later_bytes, content_type="text/csv")
    outcome = deliver(bucket, fake, later_result, message_id="m-2")
    assert outcome.status == "trained" and fake.champion(SETTINGS.model_name) == outcome.version
    assert_ledger(bucket, fake, [outcome.version])
    assert stranded.tags[Registry.STATE_TAG] == "pending", "never marked promoted without its ledger entry"
    (failed,) = events("train.promotion_completion_failed")
    assert failed["stranded_version"] == stranded.version and failed["error"]
    first, skipped = events("train.level_guard_skipped")  # nothing to guard against: said so, both times
    assert "no champion" in first["note"]
    assert skipped["champion_version"] == stranded.version and "cannot be read" in skipped["note"]
    level = json.loads(fake.runs[outcome.run_id].artifacts["forecast.json"])["sanity"]["level_guard"]
    assert not level["applies"] and level["passed"]


def test_the_next_training_scores_the_served_forecast_and_ships_the_track_record(
        bucket, fake, forecast_result, later_bytes, later_result, events):
    """Issue 13's scenario on the fakes: a first champion, then the series 30 days further on."""
    first = deliver(bucket, fake, forecast_result)
    origin = read_ledger(bucket)[0].data_through
    bucket.write(SETTINGS.curated_object, later_bytes, content_type="text/csv")
    second = deliver(bucket, fake, later_result, message_id="m-2")
    assert second.status == "trained"
    track = TrackRecordDocument.model_validate_json(fake.runs[second.run_id].artifacts["track_record.json"])
    assert {(p.horizon, p.model_version, p.forecast_date) for p in track.points} == {
        (h, first.version, origin) for h in SETTINGS.backtest_horizons}
    prices = dataset.read_curated(later_bytes)[SETTINGS.target_column]
    (h30,) = [p for p in track.points if p.horizon == 30]
    assert h30.actual == prices[h30.target_date] and track.data_through == prices.index[-1].date().isoformat()
    assert_ledger(bucket, fake, [first.version, second.version])
    assert events("track_record.scored")[-1]["scored_points"] == len(SETTINGS.backtest_horizons)

    history = monitoring_run(fake).data.history
    assert history["live.h30.all.points"] == [(day_index(origin), 0.0), (day_index(track.data_through), 1.0)]
    again = deliver(bucket, fake, later_result, message_id="m-3")  # a redelivered promotion
    assert again.status == "duplicate" and again.version == second.version
    assert_ledger(bucket, fake, [first.version, second.version])
    assert len(monitoring_run(fake).data.history["live.h30.all.points"]) == 2


def test_a_retried_create_request_that_made_two_versions_settles_on_the_first(bucket, fake, forecast_result, events):
    fake.duplicate_creates = True
    outcome = deliver(bucket, fake, forecast_result)
    assert outcome.version == "1"
    assert_one_promoted_version(fake, bucket)
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
    assert_one_promoted_version(fake, bucket)
    assert [r.info.status for r in fake.training_runs()] == ["FAILED", "FINISHED"]


def test_a_lost_lease_stops_the_training_before_it_registers(bucket, fake, forecast_result, monkeypatch):
    from gasforecast.training.lease import Lease

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


def test_forced_retrains_are_rate_limited_per_training_key_and_logged(bucket, fake, forecast_result, events):
    """Issue 20: three identical forced messages promoted three versions; now one per key and interval."""
    deliver(bucket, fake, forecast_result)
    forced = deliver(bucket, fake, forecast_result, message_id="force-1", force=True)
    limited = deliver(bucket, fake, forecast_result, message_id="force-2", force=True)
    again = deliver(bucket, fake, forecast_result, message_id="force-3", force=True)
    assert (forced.status, limited.status, again.status) == ("trained", "duplicate", "duplicate")
    assert [v.version for v in fake.model_versions(SETTINGS.model_name)] == ["1", "2"]
    assert [e["message_id"] for e in events("train.forced")] == ["force-1"]
    assert [e["message_id"] for e in events("train.force_limited")] == ["force-2", "force-3"]
    assert events("train.force_limited")[0]["min_interval_s"] == SETTINGS.force_min_interval_seconds == 3600
    unlimited = dataclasses.replace(SETTINGS, force_min_interval_seconds=0)
    assert deliver(bucket, fake, forecast_result, message_id="force-4", force=True, settings=unlimited).version == "3"


def test_an_override_behind_a_request_is_logged_by_the_train_function(bucket, fake, forecast_result, caplog):
    caplog.set_level(logging.INFO)
    deliver(bucket, fake, forecast_result, override="accept", source="gs://uploads/spike.csv")
    (line,) = [r for r in caplog.records if r.getMessage() == "train.override"]
    assert line.levelno == logging.WARNING
    assert (line.fields["override"], line.fields["source"], line.fields["message_id"]) == (
        "accept", "gs://uploads/spike.csv", "m-1")


def test_a_refused_override_is_logged_and_trains_nothing(bucket, fake, forecast_result, caplog):
    caplog.set_level(logging.INFO)
    outcome = deliver(bucket, fake, forecast_result, override="accept", source="gs://data/archive/x.csv",
                      refused="'gs://data/archive/x.csv' is not a held upload")
    assert outcome.status == "override_refused"
    (line,) = [r for r in caplog.records if r.getMessage() == "train.override_refused"]
    assert line.levelno == logging.WARNING
    assert (line.fields["override"], line.fields["source"], line.fields["message_id"]) == (
        "accept", "gs://data/archive/x.csv", "m-1")
    assert "is not a held upload" in line.fields["refused"]
    assert fake.model_versions(SETTINGS.model_name) == [] and bucket.writes == [SETTINGS.curated_object], \
        "no lease taken, nothing trained or registered"


def _wild(result: ForecastResult, factor: float) -> ForecastResult:
    """The same fit with a 95 % band `factor` times as wide in log space (a poisoned history's band)."""
    points = result.fitted.points.copy()
    centre = points["mean"].map(math.log)
    for side, _sign in (("lower_95", -1), ("upper_95", 1)):
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
    assert TrackRecordDocument.model_validate_json(run.artifacts["track_record.json"]), "scored even when refused"
    assert_ledger(bucket, fake, [champion.version])
    assert_published(bucket, fake, champion.version)
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
    places = TrainingPlaces(bucket, SETTINGS.curated_object, bucket, MemoryRegistry(SETTINGS, fake),
                            lambda settings, frame, champion, holidays: seen.append(champion) or forecast_result)
    train(SETTINGS, RetrainRequest("manual", utc_now_iso()), places, message_id="m-2")
    assert seen == [forecast_result.winner.to_dict()]


def test_training_reads_only_the_trailing_years_max_training_years_allows(bucket, fake, forecast_result,
                                                                           curated_bytes):
    seen = []
    one_year = dataclasses.replace(SETTINGS, max_training_years=1.0)
    places = TrainingPlaces(bucket, SETTINGS.curated_object, bucket, MemoryRegistry(one_year, fake),
                            lambda settings, frame, champion, holidays: seen.append(frame) or forecast_result)
    train(one_year, RetrainRequest("manual", utc_now_iso()), places, message_id="m-window")
    curated = dataset.read_curated(curated_bytes)
    (frame,) = seen
    assert frame.index[-1] == curated.index[-1]
    assert (frame.index[-1] - frame.index[0]).days <= 366 < (curated.index[-1] - curated.index[0]).days


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
    places = TrainingPlaces(bucket, SETTINGS.curated_object, bucket, MemoryRegistry(SETTINGS, fake), run_forecasting)
    outcome = train(SETTINGS, RetrainRequest("upload", utc_now_iso()), places, message_id="short")
    assert outcome.status == "insufficient_history"
    assert fake.experiments == {} and fake.runs == {} and bucket.read(LEASE_OBJECT) is None


@pytest.fixture(scope="module")
def tenfold_bytes(curated_bytes) -> bytes:
    """Issue 20: the whole target history rescaled ×10 (no suspicious step for plausibility to see)."""
    frame = dataset.read_curated(curated_bytes)
    frame[SETTINGS.target_column] *= 10
    return dataset.curated_to_bytes(frame)


@pytest.fixture(scope="module")
def tenfold_result(tenfold_bytes) -> ForecastResult:
    frame, _ = dataset.training_frame(dataset.read_curated(tenfold_bytes), SETTINGS.target_column)
    return run_forecasting(SETTINGS, frame, None, NO_HOLIDAYS)


def test_a_tenfold_rescaled_history_is_held_by_the_level_guard_and_a_forced_retrain_promotes_it(
        bucket, fake, forecast_result, tenfold_bytes, tenfold_result, events):
    champion = deliver(bucket, fake, forecast_result)
    served_mean = json.loads(fake.runs[champion.run_id].artifacts["forecast.json"])["points"][29]["mean"]
    bucket.write(SETTINGS.curated_object, tenfold_bytes, content_type="text/csv")
    held = deliver(bucket, fake, tenfold_result, message_id="m-2")
    assert held.status == "refused" and held.version is None
    assert [v.version for v in fake.model_versions(SETTINGS.model_name)] == [champion.version]
    assert fake.champion(SETTINGS.model_name) == champion.version
    assert_ledger(bucket, fake, [champion.version])
    run = fake.runs[held.run_id]
    assert run.data.tags[Registry.OUTCOME_TAG] == "refused"
    stored = json.loads(run.artifacts["forecast.json"])["sanity"]
    assert stored["servable"] is True, "the bundle itself is sane: only the level guard holds it"
    level = stored["level_guard"]
    assert level["applies"] and not level["passed"] and level["champion_version"] == champion.version
    assert level["champion_mean"] == pytest.approx(served_mean, rel=1e-6)
    assert level["shift_ratio"] > level["max_level_shift"] and level["log_shift"] == pytest.approx(math.log(10), abs=0.3)
    (logged,) = events("train.promotion_refused")
    assert logged["guard"] == "level" and "served champion" in logged["reasons"][0]
    assert deliver(bucket, fake, tenfold_result, message_id="m-3").status == "duplicate", "held until accepted"
    assert fake.champion(SETTINGS.model_name) == champion.version

    forced = deliver(bucket, fake, tenfold_result, message_id="force-1", force=True)
    assert forced.status == "trained" and fake.champion(SETTINGS.model_name) == forced.version != champion.version
    (overridden,) = events("train.level_guard_overridden")
    assert overridden["message_id"] == "force-1" and overridden["reasons"]
    level = json.loads(fake.runs[forced.run_id].artifacts["forecast.json"])["sanity"]["level_guard"]
    assert level["passed"] and level["overridden"] and "forced retrain" in level["note"]


def test_an_ordinary_retrain_passes_the_level_guard(bucket, fake, forecast_result, later_bytes, later_result, events):
    deliver(bucket, fake, forecast_result)
    bucket.write(SETTINGS.curated_object, later_bytes, content_type="text/csv")
    later = deliver(bucket, fake, later_result, message_id="m-2")
    assert later.status == "trained" and fake.champion(SETTINGS.model_name) == later.version
    level = json.loads(fake.runs[later.run_id].artifacts["forecast.json"])["sanity"]["level_guard"]
    assert level["applies"] and level["passed"] and level["shift_ratio"] < level["max_level_shift"]
    assert not events("train.promotion_refused")


def test_the_first_training_has_no_champion_to_guard_against(bucket, fake, forecast_result, events):
    first = deliver(bucket, fake, forecast_result)
    level = json.loads(fake.runs[first.run_id].artifacts["forecast.json"])["sanity"]["level_guard"]
    assert not level["applies"] and level["passed"] and "no champion" in level["note"]
    (skipped,) = events("train.level_guard_skipped")
    assert "no champion" in skipped["note"]
