"""`gasforecast.ingest.handle_object` against the real GCS and Pub/Sub emulators."""

from __future__ import annotations

import dataclasses
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from gasforecast import ingest
from gasforecast.dataset import read_curated
from gasforecast.errors import TransientError
from gasforecast.messaging import parse_retrain_request
from gasforecast.sample import synthetic_history, to_csv_bytes

HISTORY = synthetic_history(60, start="2024-01-01", seed=3)
SAFE_PATH = re.compile(r"(archive|rejected)/\d{4}/\d{2}/\d{2}/\d+-[A-Za-z0-9._-]{1,60}-[0-9a-f]{8}\.csv")


def rows(start: int, stop: int) -> bytes:
    return to_csv_bytes(HISTORY.iloc[start:stop])


def handle(lane, name: str, generation: int | None, event_id: str = "event-1", **kwargs):
    return ingest.handle_object(lane.settings, lane.bucket, lane.publisher, object_name=f"incoming/{name}",
                                generation=generation, event_id=event_id, **kwargs)


def curated(lane):
    stored = lane.bucket.read(lane.settings.curated_object)
    return None if stored is None else (read_curated(stored.data), stored.generation)


def receipt(lane, outcome) -> dict:
    name = ingest.report_name(ingest.stored_name("archive", outcome.object_name, outcome.generation))
    return json.loads(lane.bucket.read(name).data)


def test_accepted_upload_is_merged_archived_reported_and_published_once(lane) -> None:
    data = rows(0, 30)
    generation = lane.upload("prices.csv", data)
    outcome = handle(lane, "prices.csv", generation)

    assert (outcome.status, outcome.generation) == ("accepted", generation)
    frame, curated_generation = curated(lane)
    assert len(frame) == 30 and list(frame.columns) == ["uk_gas_price", "ttf_price", "brent_price", "hdd"]
    archive = ingest.stored_name("archive", "incoming/prices.csv", generation)
    assert lane.bucket.read(archive).data == data
    assert lane.bucket.read("incoming/prices.csv") is None, "the processed upload leaves incoming/"

    stored = receipt(lane, outcome)
    assert stored["message_id"] == outcome.message_id
    assert stored["merge"]["rows_added"] == 30 and stored["merge"]["columns_added"][0] == "uk_gas_price"
    assert stored["curated"] == {"uri": lane.settings.curated_uri, "generation": curated_generation}
    assert stored["preparation"]["rows"] == 30 and stored["validation"]["ok"] is True

    messages = lane.messages(count=2)
    assert [m.message_id for m in messages] == [outcome.message_id]
    request = parse_retrain_request(messages[0].data)
    assert (request.reason, request.dataset, request.generation) == (
        "upload", lane.settings.curated_uri, str(curated_generation))
    assert request.source == f"gs://{lane.settings.data_bucket}/incoming/prices.csv"
    assert messages[0].attributes == {"reason": "upload", "generation": str(curated_generation)}


def test_an_increment_revises_and_extends_and_reports_what_changed(lane) -> None:
    handle(lane, "base.csv", lane.upload("base.csv", rows(0, 30)))
    revised = HISTORY.iloc[25:35].copy()
    revised.loc[revised.index[0], "uk_gas_price"] = 999.0
    outcome = handle(lane, "increment.csv", lane.upload("increment.csv", to_csv_bytes(revised)))
    merge = outcome.report["merge"]
    assert (merge["rows_added"], merge["cells_revised"], merge["total_rows"]) == (5, 1, 35)
    frame, _ = curated(lane)
    assert frame.loc[revised.iloc[0]["date"], "uk_gas_price"] == 999.0


def test_the_same_generation_delivered_twice_is_merged_and_published_once(lane) -> None:
    generation = lane.upload("twice.csv", rows(0, 10))
    first = handle(lane, "twice.csv", generation, event_id="a")
    _, curated_generation = curated(lane)
    second = handle(lane, "twice.csv", generation, event_id="b")
    assert (first.status, second.status) == ("accepted", "duplicate")
    assert second.message_id == first.message_id
    assert curated(lane)[1] == curated_generation
    assert len(lane.messages()) == 1


def test_concurrent_deliveries_of_one_upload_publish_once(lane) -> None:
    generation = lane.upload("racy.csv", rows(0, 10))

    def deliver(event_id: str) -> str:
        try:
            return handle(lane, "racy.csv", generation, event_id=event_id).status
        except TransientError:
            return "retry"  # another delivery holds the claim: Pub/Sub would redeliver

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(deliver, ["a", "b", "c", "d"]))
    assert statuses.count("accepted") == 1, statuses
    assert handle(lane, "racy.csv", generation, event_id="redelivered").status == "duplicate"
    assert len(lane.messages()) == 1


def test_concurrent_uploads_all_land_with_one_message_each(lane) -> None:
    names = {f"burst-{i}.csv": rows(i * 5, i * 5 + 5) for i in range(8)}
    generations = {name: lane.upload(name, data) for name, data in names.items()}
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda name: handle(lane, name, generations[name]), names))
    assert {o.status for o in outcomes} == {"accepted"}
    frame, _ = curated(lane)
    assert len(frame) == 40
    assert list(frame["uk_gas_price"]) == list(HISTORY["uk_gas_price"].iloc[:40])
    sources = sorted(parse_retrain_request(m.data).source.rsplit("/", 1)[-1] for m in lane.messages(count=9))
    assert sources == sorted(names)


BAD_UPLOADS = [
    ("html.csv", b"<html><body>502 Bad Gateway</body></html>\n", "html_content"),
    ("semicolons.csv", b"date;uk_gas_price\n2024-01-02;80,5\n", "wrong_delimiter"),
    ("latin1.csv", b"date,uk_gas_price,note\n2024-01-02,80.5,\xa31\n", "not_utf8"),
    ("dayfirst.csv", b"date,uk_gas_price\n25/12/2023,80.5\n", "date_format"),
]


@pytest.mark.parametrize("name,data,code", BAD_UPLOADS, ids=[case[2] for case in BAD_UPLOADS])
def test_a_bad_file_is_quarantined_whole_with_a_report_and_nothing_published(lane, name, data, code) -> None:
    generation = lane.upload(name, data)
    outcome = handle(lane, name, generation)
    assert outcome.status == "rejected"
    rejected = ingest.stored_name("rejected", f"incoming/{name}", generation)
    assert lane.bucket.read(rejected).data == data
    report = json.loads(lane.bucket.read(ingest.report_name(rejected)).data)
    assert report["ok"] is False and report["object"] == f"incoming/{name}"
    error = report["errors"][0]
    assert error["code"] == code and set(error) == {"code", "message", "row", "column", "hint"}
    assert error["message"] and error["hint"]
    assert curated(lane) is None
    assert lane.bucket.read(f"incoming/{name}") is None
    assert handle(lane, name, generation, event_id="again").status == "duplicate"
    assert lane.messages() == []


def test_an_upload_over_the_size_limit_is_rejected(lane) -> None:
    small_limit = dataclasses.replace(lane.settings, max_upload_bytes=100)
    generation = lane.upload("big.csv", rows(0, 30))
    outcome = ingest.handle_object(small_limit, lane.bucket, lane.publisher, object_name="incoming/big.csv",
                                   generation=generation)
    assert outcome.status == "rejected" and outcome.report["errors"][0]["code"] == "too_large"


def test_events_for_other_objects_are_acknowledged_and_ignored(lane) -> None:
    other = lane.bucket.write("notes/readme.csv", b"date,uk_gas_price\n2024-01-02,80.5\n")
    text = lane.upload("readme.txt", b"hello")
    assert ingest.handle_object(lane.settings, lane.bucket, lane.publisher, object_name="notes/readme.csv",
                                generation=other).status == "ignored"
    assert handle(lane, "readme.txt", text).status == "ignored"
    assert handle(lane, "never-uploaded.csv", 1_700_000_000_000_000).status == "ignored"
    assert handle(lane, "never-uploaded.csv", None).status == "ignored"
    assert curated(lane) is None and lane.messages() == []


def test_a_replaced_generation_is_ignored_and_the_newer_upload_is_kept(lane) -> None:
    old = lane.upload("same-name.csv", rows(0, 5))
    new = lane.upload("same-name.csv", rows(5, 10))
    assert handle(lane, "same-name.csv", old).status == "ignored"
    assert lane.bucket.generation("incoming/same-name.csv") == new
    assert handle(lane, "same-name.csv", new).status == "accepted"


def test_an_upload_without_event_generation_uses_the_live_one(lane) -> None:
    generation = lane.upload("no-generation.csv", rows(0, 5))
    outcome = handle(lane, "no-generation.csv", None)
    assert (outcome.status, outcome.generation) == ("accepted", generation)


ODD_NAMES = ["../../etc/passwd.csv", "my prices (final) v2.csv", "prix élevés 価格.csv", "x" * 200 + ".CSV",
             "sub/dir/..hidden.csv", "a%2Fb?c#d*e.csv"]


@pytest.mark.parametrize("name", ODD_NAMES, ids=["dotdot", "spaces", "unicode", "long", "subdir", "escapes"])
def test_odd_names_are_stored_under_safe_names(lane, name) -> None:
    good = lane.upload(name, rows(0, 5))
    outcome = handle(lane, name, good)
    assert outcome.status == "accepted"
    archived = lane.bucket.list_names("archive/")
    assert all(SAFE_PATH.fullmatch(path.removesuffix(".report.json")) for path in archived), archived
    assert receipt(lane, outcome)["object"] == f"incoming/{name}"
    bad = lane.upload(name, b"{}")
    assert handle(lane, name, bad).status == "rejected"
    assert all(SAFE_PATH.fullmatch(p.removesuffix(".report.json")) for p in lane.bucket.list_names("rejected/"))


def test_a_publish_failure_releases_the_claim_so_the_redelivery_publishes(lane, pubsub_emulator) -> None:
    generation = lane.upload("later.csv", rows(0, 10))
    missing_topic = dataclasses.replace(lane.settings, retrain_topic="no-such-topic-yet")
    with pytest.raises(TransientError):
        ingest.handle_object(missing_topic, lane.bucket, lane.publisher, object_name="incoming/later.csv",
                             generation=generation)
    assert lane.bucket.read("incoming/later.csv") is not None, "kept for the redelivery"
    _, merged_generation = curated(lane)
    outcome = handle(lane, "later.csv", generation, event_id="redelivered")
    assert outcome.status == "accepted"
    assert curated(lane)[1] == merged_generation, "the redelivery does not merge again"
    assert len(lane.messages()) == 1


def test_a_claim_in_progress_is_retried_and_a_stale_one_taken_over(lane) -> None:
    generation = lane.upload("claimed.csv", rows(0, 10))
    name = ingest.report_name(ingest.stored_name("archive", "incoming/claimed.csv", generation))
    lane.bucket.write(name, json.dumps({"claimed_at": "2020-01-01T00:00:00Z", "message_id": None}).encode())
    with pytest.raises(TransientError, match="publishing"):
        handle(lane, "claimed.csv", generation, claim_lease_seconds=10**9)
    outcome = handle(lane, "claimed.csv", generation, claim_lease_seconds=60)
    assert outcome.status == "accepted" and receipt(lane, outcome)["message_id"] == outcome.message_id
    assert len(lane.messages()) == 1


def test_a_redelivery_after_a_crash_never_reapplies_older_values_over_newer_ones(lane) -> None:
    """Crash after merging A, before its receipt; B then revises the same day; A is redelivered."""
    first = HISTORY.iloc[0:3]
    generation = lane.upload("a.csv", to_csv_bytes(first))
    upload_a = ingest._Upload(lane.settings, lane.bucket, "incoming/a.csv", generation, "crashed")
    ingest._merge(upload_a, read_curated(to_csv_bytes(first)))
    revision = first.copy()
    revision["uk_gas_price"] = [111.0, 112.0, 113.0]
    handle(lane, "b.csv", lane.upload("b.csv", to_csv_bytes(revision)))

    outcome = handle(lane, "a.csv", generation, event_id="redelivered")
    assert outcome.status == "accepted" and outcome.report["merge"] == {"already_merged": True}
    frame, _ = curated(lane)
    assert list(frame["uk_gas_price"]) == [111.0, 112.0, 113.0]
    assert len(lane.messages()) == 2
