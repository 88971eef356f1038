"""The forecast ledger on the in-memory bucket: create-only entries, redelivery, reading back."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from datetime import date

import pytest
from trackrecord_fakes import events, served_bundle

from gasforecast.platform.errors import TransientError
from gasforecast.scoring.ledger import LEDGER_PREFIX, entry_name, ledger_entry, read_ledger, record_served_forecast
from tests.fakes import MemoryBucket


def test_a_promotion_is_recorded_once_with_what_was_served():
    bucket = MemoryBucket()
    bundle = served_bundle("7", date(2025, 1, 10), 100.0)
    write = record_served_forecast(bucket, bundle, "1700-abc")
    assert write.created and write.name == "forecasts/ledger/2025-01-10_v000007_run7.json"
    entry = json.loads(bucket.read(write.name).data)
    assert (entry["model_version"], entry["run_id"], entry["training_key"]) == ("7", "run7", "1700-abc")
    assert (entry["data_through"], entry["origin_value"], entry["calendar"]) == ("2025-01-10", 100.0, "daily")
    assert [p["step"] for p in entry["points"]] == list(range(1, 31))
    assert entry["points"][0] == {"step": 1, **bundle.points[0].to_json_dict()}


def test_a_redelivered_promotion_leaves_one_unchanged_entry(caplog):
    bucket = MemoryBucket()
    bundle = served_bundle("7", date(2025, 1, 10), 100.0)
    first = record_served_forecast(bucket, bundle, "1700-abc")
    generation = bucket.generation(first.name)
    with caplog.at_level(logging.INFO):
        again = record_served_forecast(bucket, bundle, "1700-abc")
    assert not again.created and again.name == first.name
    assert bucket.list_names(LEDGER_PREFIX) == [first.name] and bucket.generation(first.name) == generation
    assert events(caplog, "ledger.already_recorded")[0]["model_version"] == "7"


def test_concurrent_deliveries_of_one_promotion_create_exactly_one_entry():
    bucket = MemoryBucket()
    bundle = served_bundle("3", date(2025, 1, 10), 100.0)
    results, barrier = [], threading.Barrier(6)

    def deliver():
        barrier.wait()
        results.append(record_served_forecast(bucket, bundle, "k").created)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True] and len(bucket.writes) == 1


def test_a_business_day_forecast_keeps_its_calendar_and_dates():
    bundle = served_bundle("2", date(2025, 1, 10), 100.0, steps=5, calendar="business")  # a Friday
    entry = ledger_entry(bundle, None)
    assert entry.calendar == "business"
    assert [p.date for p in entry.points] == ["2025-01-13", "2025-01-14", "2025-01-15", "2025-01-16", "2025-01-17"]


@pytest.mark.parametrize("version, run_id", [("../x", "run1"), ("7", "../../curated/history"), ("7", ""), ("v7", "r")])
def test_entry_names_accept_only_registry_versions_and_run_ids(version, run_id):
    with pytest.raises(ValueError):
        entry_name("2025-01-10", version, run_id)


def test_an_unversioned_bundle_cannot_be_recorded():
    bundle = dataclasses.replace(served_bundle("1", date(2025, 1, 10), 100.0), version=None)
    with pytest.raises(ValueError, match="version"):
        record_served_forecast(MemoryBucket(), bundle, "k")


def test_reading_orders_entries_and_skips_what_is_not_an_entry(caplog):
    bucket = MemoryBucket()
    for version, day in (("5", date(2025, 2, 1)), ("2", date(2025, 1, 1)), ("12", date(2025, 1, 1))):
        record_served_forecast(bucket, served_bundle(version, day, 100.0), None)
    bucket.write(LEDGER_PREFIX + "junk.json", b"{not json")
    broken = json.loads(bucket.read(bucket.list_names(LEDGER_PREFIX)[0]).data)
    broken["points"][3]["mean"] = None
    bucket.write(LEDGER_PREFIX + "2025-03-01_v000099_run99.json", json.dumps(broken).encode())
    bucket.write(LEDGER_PREFIX + "notes.txt", b"ignored: not .json")
    with caplog.at_level(logging.WARNING):
        entries = read_ledger(bucket)
    assert [(e.data_through, e.model_version) for e in entries] == [
        ("2025-01-01", "2"), ("2025-01-01", "12"), ("2025-02-01", "5")]
    unreadable = events(caplog, "ledger.entry_unreadable")
    assert sorted(e["object"].rsplit("/", 1)[1] for e in unreadable) == ["2025-03-01_v000099_run99.json", "junk.json"]


def test_a_storage_outage_while_reading_is_transient():
    bucket = MemoryBucket()
    record_served_forecast(bucket, served_bundle("1", date(2025, 1, 1), 100.0), None)
    bucket.fail_next["read"] = 1
    with pytest.raises(TransientError):
        read_ledger(bucket)
