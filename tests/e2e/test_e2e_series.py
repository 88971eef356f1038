"""Issue 22 through the real local stack: uploads to two declared series train two champions with two
serving pointers, a hostile upload to one changes nothing of the other, an undeclared series is reported."""

from __future__ import annotations

import json
import uuid

from devstack.processes import wait_for
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.series import SeriesDefinition, write_definition
from gasforecast.ingestion.upload_names import report_name, stored_name
from gasforecast.platform.messaging import RetrainRequest, make_publisher, publish_retrain, utc_now_iso
from gasforecast.platform.storage import Bucket
from gasforecast.publication.serving import layout_for
from gasforecast.training.registry import Registry
from tests.stack_helpers import data_bucket, function_events, wait_event

AREAS = ("curated", "archive", "rejected", "held", "forecasts", "locks", "serving")
DAYS = 3 * 365


def _trained(stack, message_id: str) -> dict:
    return wait_for(lambda: [e for e in function_events(stack, "train", message_id=message_id)
                             if e["event"] in ("train.finished", "train.duplicate")], 300,
                    f"the training of message {message_id}", 0.3)[-1]


def _snapshot(bucket: Bucket, series: str) -> dict[str, int | None]:
    """Every object of a series' areas with its generation."""
    names = [name for area in AREAS for name in bucket.list_names(f"{area}/series/{series}/")]
    return {name: bucket.generation(name) for name in names}


def test_two_series_train_two_champions_and_stay_apart(running_stack, settings):
    store = data_bucket(running_stack)
    suffix = uuid.uuid4().hex[:6]
    first, second = f"a{suffix}", f"b{suffix}"
    series = {}
    for index, series_id in enumerate((first, second)):
        definition = SeriesDefinition(id=series_id, target_column="uk_gas_price", label=f"Series {index}",
                                      unit="EUR/MWh", source="tests/e2e", synthetic=True)
        write_definition(store, definition)
        series[series_id] = settings.for_series(definition)
        running_stack.upload(f"{series_id}/history.csv", to_csv_bytes(synthetic_history(DAYS, seed=40 + index)))
    default_curated = store.generation(settings.curated_object)

    for series_id, own in series.items():
        accepted = wait_event(running_stack, "ingest", timeout=180, event="ingest.accepted",
                              object=f"{series_id}/history.csv")
        trained = _trained(running_stack, accepted["message_id"])
        assert trained["event"] == "train.finished"
        assert layout_for(own).pointer == f"serving/series/{series_id}/champion.json"
        raw = store.read(layout_for(own).pointer)
        assert raw is not None, f"series {series_id} has its serving pointer"
        assert str(json.loads(raw.data)["version"]) == str(trained["model_version"])
        champion = Registry(own).client.get_model_version_by_alias(own.model_name, "champion")
        assert champion.version == str(trained["model_version"]) and own.model_name.endswith(series_id)
    assert store.generation(settings.curated_object) == default_curated, "the default series is untouched"

    # The hourly tick: one message per declared series, each a duplicate of its trained key; the tick's
    # own delivery trains the default series (docs/series.md).
    tick = publish_retrain(make_publisher(), settings.project, settings.retrain_topic,
                           RetrainRequest(reason="schedule", requested_at=utc_now_iso()))
    fanned = wait_event(running_stack, "train", timeout=120, event="train.fanned_out", message_id=tick)
    by_series = dict(zip(fanned["series"], fanned["message_ids"], strict=True))
    assert {first, second} <= set(by_series)
    assert [_trained(running_stack, by_series[s])["event"] for s in (first, second)] == ["train.duplicate"] * 2
    if default_curated is not None:  # on a stack without default data the tick's own training waits for it
        _trained(running_stack, tick)

    # A hostile series: a broken file, a spiked one and a file that tries to climb into the other series.
    before = _snapshot(store, second)
    spiked = synthetic_history(DAYS + 3, seed=40).iloc[-3:].copy()
    spiked.loc[spiked.index[-1], "uk_gas_price"] *= 50
    hostile = {f"{first}/broken.csv": b"date,uk_gas_price\n2030-01-01,<script>alert(1)</script>\n",
               f"{first}/spike.csv": to_csv_bytes(spiked),
               f"{first}/../{second}/history.csv": to_csv_bytes(synthetic_history(DAYS, seed=99))}
    for name, data in hostile.items():
        running_stack.upload(name, data)
    for name, status in zip(hostile, ("rejected", "held", "rejected"), strict=True):
        wait_event(running_stack, "ingest", timeout=180, event=f"ingest.{status}", object=name)
    assert _snapshot(store, second) == before, "nothing of the other series changed"
    assert store.generation(settings.curated_object) == default_curated

    # An undeclared series: reported under the default series' rejected/, the upload left where it is.
    name = f"u{suffix}/prices.csv"
    generation = running_stack.upload(name, to_csv_bytes(synthetic_history(60, seed=5)))
    wait_event(running_stack, "ingest", timeout=120, event="ingest.rejected", object=name)
    report = json.loads(store.read(report_name(stored_name("rejected", name, generation))).data)
    assert report["errors"][0]["code"] == "undeclared_series"
    assert Bucket(running_stack.storage_client(), running_stack.uploads_bucket).generation(name) == generation
    assert _snapshot(store, f"u{suffix}") == {}
