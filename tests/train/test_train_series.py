"""Training per series (issue 22) on the in-memory bucket, registry and publisher: the hourly tick fans
out into one message per series, and a series trains under its own names only."""

from __future__ import annotations

import logging

import pytest

from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.series import SeriesDefinition, write_definition
from gasforecast.ingestion.series_calendar import NO_HOLIDAYS
from gasforecast.platform.config import Settings
from gasforecast.platform.messaging import RetrainRequest, parse_retrain_request, utc_now_iso
from gasforecast.publication.serving import layout_for
from gasforecast.training.retrain import TrainingPlaces, fan_out, run_forecasting, train
from tests.fake_registry import FakeMlflowClient, MemoryRegistry
from tests.fakes import FakePublisher, MemoryBucket

SETTINGS = Settings(nested_origins=4, max_drivers=2, forecast_horizon_max=60, train_lock_wait_seconds=5)
AREAS = ("curated", "archive", "rejected", "held", "forecasts", "locks", "serving")


def definition(series_id: str) -> SeriesDefinition:
    return SeriesDefinition(id=series_id, target_column="uk_gas_price", label=f"{series_id.upper()} price",
                            unit="EUR/MWh", synthetic=True)


@pytest.fixture(scope="module")
def curated_bytes() -> bytes:
    return dataset.curated_to_bytes(dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11))))


@pytest.fixture(scope="module")
def result(curated_bytes):
    frame, _ = dataset.training_frame(dataset.read_curated(curated_bytes), SETTINGS.target_column)
    return run_forecasting(SETTINGS, frame, None, NO_HOLIDAYS)


def deliver(settings: Settings, bucket: MemoryBucket, fake: FakeMlflowClient, result, message_id: str):
    places = TrainingPlaces(bucket, settings.curated_object, bucket, MemoryRegistry(settings, fake),
                            lambda settings, frame, champion, holidays: result)
    return train(settings, RetrainRequest("upload", utc_now_iso(), series=settings.series), places,
                 message_id=message_id)


def test_the_hourly_tick_fans_out_one_message_per_declared_series(caplog) -> None:
    caplog.set_level(logging.INFO)
    bucket, publisher = MemoryBucket("data"), FakePublisher()
    for series_id in ("ttf", "nbp-spot"):
        write_definition(bucket, definition(series_id))
    bucket.write("series/notes.txt", b"not a definition")
    tick = RetrainRequest("schedule", "2026-12-08T02:00:00Z", dataset=SETTINGS.curated_uri)
    assert tick.fans_out

    published = fan_out(SETTINGS, tick, bucket, publisher, message_id="tick-1")

    assert published == [m.message_id for m in publisher.messages]
    requests = [parse_retrain_request(message.data) for message in publisher.messages]
    assert [r.series for r in requests] == ["nbp-spot", "ttf"]
    assert all(r.reason == "schedule" and r.dataset is None and not r.fans_out for r in requests)
    assert [m.attributes["series"] for m in publisher.messages] == ["nbp-spot", "ttf"]
    assert {m.topic for m in publisher.messages} == {f"projects/{SETTINGS.project}/topics/{SETTINGS.retrain_topic}"}
    assert bucket.writes == ["series/ttf.json", "series/nbp-spot.json", "series/notes.txt"], "fan-out writes nothing"


def test_a_failed_publish_fails_the_tick_so_it_is_redelivered() -> None:
    bucket, publisher = MemoryBucket("data"), FakePublisher(fail_next=1)
    write_definition(bucket, definition("ttf"))
    from gasforecast.platform.errors import TransientError

    with pytest.raises(TransientError):
        fan_out(SETTINGS, RetrainRequest("schedule", utc_now_iso()), bucket, publisher, message_id="tick-2")


def test_two_series_train_two_champions_each_under_its_own_names(curated_bytes, result) -> None:
    bucket, fake = MemoryBucket("data"), FakeMlflowClient()
    ttf = SETTINGS.for_series(definition("ttf"))
    for settings in (SETTINGS, ttf):
        bucket.write(settings.curated_object, curated_bytes, content_type="text/csv")
    before = len(bucket.writes)

    series_outcome = deliver(ttf, bucket, fake, result, "m-ttf")

    written = bucket.writes[before:]
    assert series_outcome.status == "trained"
    assert written and all(name.startswith(tuple(f"{a}/series/ttf/" for a in AREAS)) for name in written), written
    assert fake.champion(ttf.model_name) == series_outcome.version and fake.model_versions(SETTINGS.model_name) == []
    assert bucket.read(layout_for(ttf).pointer) is not None and bucket.read(layout_for(SETTINGS).pointer) is None
    default_outcome = deliver(SETTINGS, bucket, fake, result, "m-default")
    assert default_outcome.status == "trained" and fake.champion(SETTINGS.model_name) == default_outcome.version
    assert [v.version for v in fake.model_versions(ttf.model_name)] == [series_outcome.version], "untouched"
    assert layout_for(ttf).pointer == "serving/series/ttf/champion.json"
    assert deliver(ttf, bucket, fake, result, "m-ttf-again").status == "duplicate"


def test_without_declared_series_the_tick_publishes_nothing() -> None:
    assert fan_out(SETTINGS, RetrainRequest("schedule", utc_now_iso()), MemoryBucket("data"), None,
                   message_id="tick-0") == []


def test_handle_retrain_fans_out_the_tick_then_trains_the_default_and_acknowledges_an_undeclared_series(
        monkeypatch, caplog) -> None:
    from gasforecast.platform.errors import TransientError
    from gasforecast.training import retrain

    caplog.set_level(logging.INFO)
    bucket, publisher = MemoryBucket(SETTINGS.data_bucket), FakePublisher()
    write_definition(bucket, definition("ttf"))
    monkeypatch.setattr(retrain, "Bucket", lambda client, name: bucket)
    with pytest.raises(TransientError, match="curated/history.csv does not exist"):  # the default series' turn
        retrain.handle_retrain(SETTINGS, RetrainRequest("schedule", utc_now_iso()), None, message_id="t",
                               publisher=publisher, registry=MemoryRegistry(SETTINGS, FakeMlflowClient()))
    assert [parse_retrain_request(m.data).series for m in publisher.messages] == ["ttf"], "published first"
    bucket.writes.clear()
    undeclared = retrain.handle_retrain(SETTINGS, RetrainRequest("schedule", utc_now_iso(), series="nbp"), None,
                                        message_id="u", publisher=publisher)
    assert undeclared.status == "undeclared_series" and len(publisher.messages) == 1 and bucket.writes == []
    (line,) = [r.fields for r in caplog.records if getattr(r, "fields", {}).get("event") == "train.series_undeclared"]
    assert line["series"] == "nbp" and line["message_id"] == "u"
