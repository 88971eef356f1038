"""`gasforecast.ingestion.ingest` on the in-memory buckets and publisher: every outcome, race and failure, fast.

The same code runs against the real emulators in test_ingest_emulator.py and through the whole stack
in test_ingest_stack.py; here each scenario takes milliseconds, so `make test-unit` covers them all.
"""

from __future__ import annotations

import dataclasses
import json
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from gasforecast.ingestion import ingest
from gasforecast.ingestion.dataset import read_curated
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.upload_names import report_name, stored_name
from gasforecast.platform.errors import PermanentError, TransientError
from gasforecast.platform.messaging import parse_retrain_request

HISTORY = synthetic_history(60, start="2024-01-01", seed=3)
SAFE_PATH = re.compile(r"(archive|rejected|held)/\d{4}/\d{2}/\d{2}/\d+-[A-Za-z0-9._-]{1,60}-[0-9a-f]{8}\.csv")


def rows(start: int, stop: int) -> bytes:
    return to_csv_bytes(HISTORY.iloc[start:stop])


def with_price(start: int, stop: int, day: int, factor: float) -> bytes:
    """Rows start..stop with the target of row `day` multiplied by `factor` (a typing slip)."""
    frame = HISTORY.iloc[start:stop].copy()
    frame.loc[frame.index[day - start], "uk_gas_price"] *= factor
    return to_csv_bytes(frame)


def receipt(lane, outcome) -> dict:
    return lane.report("archive", outcome)


# ---- accepted uploads -------------------------------------------------------------------------

def test_accepted_upload_is_merged_archived_reported_and_published_once(lane) -> None:
    data = rows(0, 30)
    outcome = lane.ingest("prices.csv", data)

    assert outcome.status == "accepted"
    frame, curated_generation = lane.curated()
    assert len(frame) == 30 and list(frame.columns) == ["uk_gas_price", "ttf_price", "brent_price", "hdd"]
    assert lane.data.read(stored_name("archive", "prices.csv", outcome.generation)).data == data
    assert lane.uploads.read("prices.csv") is None, "the processed upload leaves the uploads bucket"

    stored = receipt(lane, outcome)
    assert stored["status"] == "accepted" and stored["message_id"] == outcome.message_id
    assert stored["merge"]["rows_added"] == 30 and stored["merge"]["columns_added"][0] == "uk_gas_price"
    assert stored["curated"] == {"uri": lane.settings.curated_uri, "generation": curated_generation}
    assert stored["preparation"]["rows"] == 30 and stored["validation"]["ok"] is True

    (message,) = lane.messages()
    request = parse_retrain_request(message.data)
    assert (request.reason, request.dataset, request.generation) == (
        "upload", lane.settings.curated_uri, str(curated_generation))
    assert request.source == f"gs://{lane.settings.uploads_bucket}/prices.csv"
    assert message.attributes == {"reason": "upload", "generation": str(curated_generation)}


def test_an_increment_revises_and_extends_and_reports_what_changed(lane) -> None:
    lane.ingest("base.csv", rows(0, 30))
    revised = HISTORY.iloc[25:35].copy()
    revised.loc[revised.index[0], "uk_gas_price"] = round(revised["uk_gas_price"].iloc[0] * 1.02, 2)
    outcome = lane.ingest("increment.csv", to_csv_bytes(revised))
    merge = outcome.report["merge"]
    assert (merge["rows_added"], merge["cells_revised"], merge["total_rows"]) == (5, 1, 35)
    frame, _ = lane.curated()
    assert frame.loc[revised.iloc[0]["date"], "uk_gas_price"] == revised["uk_gas_price"].iloc[0]


def test_any_object_name_is_an_upload_and_odd_names_are_stored_under_safe_names(lane) -> None:
    # A name with a folder names a series since issue 22 (tests/ingest/test_ingest_series.py); these
    # are the root's odd names.
    names = ["my prices (final) v2.csv", "prix élevés 価格.csv", "x" * 200 + ".CSV", "..hidden.csv",
             "a%2Fb?c#d*e.csv", "a\\b.csv"]
    for index, name in enumerate(names):
        outcome = lane.ingest(name, rows(index * 5, index * 5 + 5))
        assert outcome.status == "accepted", name
        assert receipt(lane, outcome)["object"] == name
        assert lane.ingest(name, b"{}").status == "rejected"
    stored = lane.data.list_names("archive/") + lane.data.list_names("rejected/")
    assert len(stored) == 4 * len(names)
    assert all(SAFE_PATH.fullmatch(path.removesuffix(".report.json")) for path in stored), stored


# ---- at least once, concurrently --------------------------------------------------------------

def test_the_same_generation_delivered_twice_is_merged_and_published_once(lane) -> None:
    generation = lane.upload("twice.csv", rows(0, 10))
    first = lane.handle("twice.csv", generation, event_id="a")
    _, curated_generation = lane.curated()
    second = lane.handle("twice.csv", generation, event_id="b")
    assert (first.status, second.status) == ("accepted", "duplicate")
    assert second.message_id == first.message_id
    assert lane.curated()[1] == curated_generation
    assert len(lane.messages()) == 1


def test_concurrent_deliveries_of_one_upload_publish_once(lane) -> None:
    generation = lane.upload("racy.csv", rows(0, 10))

    def deliver(event_id: str) -> str:
        try:
            return lane.handle("racy.csv", generation, event_id=event_id).status
        except TransientError:
            return "retry"  # another delivery holds the claim: Pub/Sub would redeliver

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(deliver, ["a", "b", "c", "d"]))
    assert statuses.count("accepted") == 1, statuses
    assert lane.handle("racy.csv", generation, event_id="redelivered").status == "duplicate"
    assert len(lane.messages()) == 1


def test_concurrent_uploads_all_land_with_one_message_each(lane) -> None:
    names = {f"burst-{i}.csv": rows(i * 5, i * 5 + 5) for i in range(8)}
    generations = {name: lane.upload(name, data) for name, data in names.items()}
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda name: lane.handle(name, generations[name]), names))
    assert {o.status for o in outcomes} == {"accepted"}
    frame, _ = lane.curated()
    assert list(frame["uk_gas_price"]) == list(HISTORY["uk_gas_price"].iloc[:40])
    sources = sorted(parse_retrain_request(m.data).source.rsplit("/", 1)[-1] for m in lane.messages())
    assert sources == sorted(names)


def test_handling_a_replaced_generation_never_removes_the_newer_upload(lane) -> None:
    """The fake keeps old versions, like a versioned bucket (the emulator's lane sees them vanish)."""
    old = lane.upload("same-name.csv", rows(0, 5))
    new = lane.upload("same-name.csv", rows(5, 10))
    assert lane.handle("same-name.csv", old).status == "accepted"
    assert lane.uploads.generation("same-name.csv") == new
    assert lane.handle("same-name.csv", new).status == "accepted"
    assert lane.uploads.read("same-name.csv") is None


def test_an_event_without_generation_uses_the_live_one_and_a_missing_object_is_ignored(lane) -> None:
    generation = lane.upload("no-generation.csv", rows(0, 5))
    outcome = lane.handle("no-generation.csv", None)
    assert (outcome.status, outcome.generation) == ("accepted", generation)
    assert lane.handle("never-uploaded.csv", None).status == "ignored"
    assert lane.handle("never-uploaded.csv", 1_700_000_000_000_000).status == "ignored"


def test_a_publish_failure_releases_the_claim_so_the_redelivery_publishes(lane) -> None:
    generation = lane.upload("later.csv", rows(0, 10))
    lane.publisher.fail_next = 1
    with pytest.raises(TransientError):
        lane.handle("later.csv", generation)
    assert lane.uploads.read("later.csv") is not None, "kept for the redelivery"
    _, merged_generation = lane.curated()
    outcome = lane.handle("later.csv", generation, event_id="redelivered")
    assert outcome.status == "accepted"
    assert lane.curated()[1] == merged_generation, "the redelivery does not merge again"
    assert len(lane.messages()) == 1


def test_a_storage_failure_after_the_merge_is_transient_and_the_redelivery_finishes(lane, monkeypatch) -> None:
    generation = lane.upload("flaky.csv", rows(0, 10))
    write = lane.data.write

    def archive_fails(name, *args, **kwargs):
        if name.startswith("archive/"):
            raise TransientError("injected archive write failure")
        return write(name, *args, **kwargs)

    monkeypatch.setattr(lane.data, "write", archive_fails)
    with pytest.raises(TransientError):
        lane.handle("flaky.csv", generation)
    assert len(lane.curated()[0]) == 10 and lane.messages() == []
    monkeypatch.setattr(lane.data, "write", write)
    outcome = lane.handle("flaky.csv", generation, event_id="redelivered")
    assert outcome.status == "accepted" and outcome.report["merge"] == {"already_merged": True}
    assert len(lane.messages()) == 1 and len(lane.curated()[0]) == 10


def test_a_claim_in_progress_is_retried_and_a_stale_one_taken_over(lane) -> None:
    generation = lane.upload("claimed.csv", rows(0, 10))
    name = report_name(stored_name("archive", "claimed.csv", generation))
    lane.data.write(name, json.dumps({"claimed_at": "2020-01-01T00:00:00Z", "message_id": None}).encode())
    with pytest.raises(TransientError, match="publishing"):
        lane.handle("claimed.csv", generation, claim_lease_seconds=10**9)
    outcome = lane.handle("claimed.csv", generation, claim_lease_seconds=60)
    assert outcome.status == "accepted" and receipt(lane, outcome)["message_id"] == outcome.message_id
    assert len(lane.messages()) == 1


def test_a_redelivery_after_a_crash_never_reapplies_older_values_over_newer_ones(lane) -> None:
    """Crash after merging A, before its receipt; B then revises the same days; A is redelivered."""
    first = HISTORY.iloc[0:3]
    generation = lane.upload("a.csv", to_csv_bytes(first))
    upload_a = ingest._Upload(lane.settings, lane.data, lane.uploads, "a.csv", generation, "crashed")
    ingest._merge(upload_a, read_curated(to_csv_bytes(first)))
    revision = first.copy()  # a settlement correction: small enough to pass the revision rules
    revision["uk_gas_price"] = (first["uk_gas_price"] * 1.001).round(3)
    assert lane.ingest("b.csv", to_csv_bytes(revision)).status == "accepted"

    outcome = lane.handle("a.csv", generation, event_id="redelivered")
    assert outcome.status == "accepted" and outcome.report["merge"] == {"already_merged": True}
    frame, _ = lane.curated()
    assert list(frame["uk_gas_price"]) == list(revision["uk_gas_price"])
    assert len(lane.messages()) == 2


# ---- rejected uploads -------------------------------------------------------------------------

BAD_UPLOADS = [
    ("html.csv", b"<html><body>502 Bad Gateway</body></html>\n", "html_content"),
    ("semicolons.csv", b"date;uk_gas_price\n2024-01-02;80,5\n", "wrong_delimiter"),
    ("latin1.csv", b"date,uk_gas_price,note\n2024-01-02,80.5,\xa31\n", "not_utf8"),
    ("dayfirst.csv", b"date,uk_gas_price\n25/12/2023,80.5\n", "date_format"),
    ("huge.csv", b"date,uk_gas_price\n2024-01-02,1e300\n", "absurd_value"),
    ("future.csv", b"date,uk_gas_price\n2999-01-02,80.5\n", "date_out_of_range"),
    ("long-name.csv", b"date,uk_gas_price," + b"x" * 300 + b"\n2024-01-02,80.5,1\n", "column_name_too_long"),
    ("formula.csv", b"date,uk_gas_price,=cmd|' /C calc'!A0\n2024-01-02,80.5,1\n", "unsafe_column_name"),
]


@pytest.mark.parametrize("name,data,code", BAD_UPLOADS, ids=[case[2] for case in BAD_UPLOADS])
def test_a_bad_file_is_quarantined_whole_with_a_report_and_nothing_changes(lane, name, data, code) -> None:
    lane.ingest("base.csv", rows(0, 10))
    before = lane.curated()
    generation = lane.upload(name, data)
    outcome = lane.handle(name, generation)
    assert outcome.status == "rejected"
    rejected = stored_name("rejected", name, generation)
    assert lane.data.read(rejected).data == data
    report = lane.report("rejected", outcome)
    assert report["ok"] is False and report["object"] == name
    error = report["errors"][0]
    assert error["code"] == code and set(error) == {"code", "message", "row", "column", "hint"}
    assert error["message"] and error["hint"]
    assert lane.curated()[1] == before[1]
    assert lane.uploads.read(name) is None
    assert lane.handle(name, generation, event_id="again").status == "duplicate"
    assert len(lane.messages()) == 1


def test_an_upload_over_the_size_limit_is_rejected(lane) -> None:
    lane.settings = dataclasses.replace(lane.settings, max_upload_bytes=100)
    outcome = lane.ingest("big.csv", rows(0, 30))
    assert outcome.status == "rejected" and outcome.report["errors"][0]["code"] == "too_large"


def test_an_object_the_event_says_is_too_large_is_reported_without_being_read(lane, monkeypatch) -> None:
    generation = lane.upload("huge.csv", b"date,uk_gas_price\n2024-01-02,80.5\n")
    monkeypatch.setattr(lane.uploads, "read", lambda *a, **k: pytest.fail("a too large object must not be read"))
    outcome = lane.handle("huge.csv", generation, size=lane.settings.max_upload_bytes + 1)
    assert outcome.status == "rejected" and outcome.report["errors"][0]["code"] == "too_large"
    assert lane.report("rejected", outcome)["left_in_uploads"] is True
    assert lane.uploads.generation("huge.csv") == generation


def test_a_non_csv_object_gets_a_short_report_and_is_left_alone(lane) -> None:
    generation = lane.upload("readme.txt", b"hello")
    outcome = lane.handle("readme.txt", generation)
    assert outcome.status == "rejected"
    report = lane.report("rejected", outcome)
    assert report["errors"][0]["code"] == "not_csv" and "not read" in report["note"]
    assert lane.data.list_names("rejected/") == [report_name(stored_name("rejected", "readme.txt", generation))]
    assert lane.uploads.generation("readme.txt") == generation
    assert lane.handle("readme.txt", generation, event_id="again").status == "duplicate"
    assert lane.uploads.generation("readme.txt") == generation
    assert lane.curated() is None and lane.messages() == []


UNSAFE_NAMES = ["../curated/history.csv", "x/../../data/curated/history.csv", "a/./b.csv", "a//b.csv", "/a.csv",
                "dir/", "tab\t.csv", "new\nline.csv", "nul\x00.csv", "rtl\u202evsc.csv", "a\\..\\b.csv"]


@pytest.mark.parametrize("name", UNSAFE_NAMES)
def test_a_name_with_dot_or_empty_segments_or_control_characters_is_refused_untouched(lane, name,
                                                                                        monkeypatch) -> None:
    lane.ingest("base.csv", rows(0, 10))
    before = lane.curated()
    generation = lane.upload(name, rows(10, 20))
    for operation in ("read", "delete", "generation"):
        monkeypatch.setattr(lane.uploads, operation, lambda *a, **k: pytest.fail("an unsafe name is never touched"))
    outcome = lane.handle(name, generation)
    assert outcome.status == "rejected"
    error = lane.report("rejected", outcome)["errors"][0]
    assert error["code"] == "unsafe_object_name" and error["hint"]
    assert lane.curated()[1] == before[1] and len(lane.messages()) == 1
    assert lane.handle(name, generation, event_id="again").status == "duplicate"


# ---- held uploads and the accept path -----------------------------------------------------------

def test_a_mistyped_price_is_held_with_a_report_naming_the_cell(lane) -> None:
    lane.ingest("base.csv", rows(0, 40))
    before = lane.curated()
    data = with_price(35, 45, 44, 10)  # the last row, 10 times too high
    outcome = lane.ingest("typo.csv", data)

    assert outcome.status == "held"
    held = stored_name("held", "typo.csv", outcome.generation)
    assert lane.data.read(held).data == data
    report = lane.report("held", outcome)
    (cell,) = report["suspicious"]
    day = HISTORY["date"].iloc[44]
    assert (cell["column"], cell["date"], cell["line"], cell["rule"]) == ("uk_gas_price", day, 11, "ratio_step")
    assert cell["value"] == pytest.approx(HISTORY["uk_gas_price"].iloc[44] * 10)
    assert re.search(r"is 1\d\.\d times larger", cell["why"]) and cell["hint"] and cell["previous"]["date"] < day
    assert report["accept"]["command"] == f"gasforecast accept gs://{lane.settings.data_bucket}/{held}"
    assert lane.curated()[1] == before[1], "nothing merged"
    assert len(lane.messages()) == 1, "nothing published"
    assert lane.uploads.read("typo.csv") is None
    assert lane.handle("typo.csv", outcome.generation, event_id="again").status == "duplicate"


def test_a_held_file_is_merged_only_by_an_explicit_accept(lane) -> None:
    lane.ingest("base.csv", rows(0, 40))
    held = lane.ingest("spike.csv", with_price(35, 45, 44, 6))
    assert held.status == "held"
    held_name = stored_name("held", "spike.csv", held.generation)
    uri = f"gs://{lane.settings.data_bucket}/{held_name}.report.json"

    outcome = ingest.accept_held(lane.settings, lane.data, lane.publisher, ingest.held_object_name(lane.settings, uri))

    assert outcome.status == "accepted"
    frame, curated_generation = lane.curated()
    assert frame["uk_gas_price"].iloc[44] == pytest.approx(HISTORY["uk_gas_price"].iloc[44] * 6)
    accepted = receipt(lane, outcome)
    assert accepted["override"]["skipped"] == ["plausibility", "revisions"] and accepted["override"]["suspicious"]
    request = parse_retrain_request(lane.messages()[-1].data)
    assert request.generation == str(curated_generation) and request.source.endswith("/spike.csv")
    assert lane.data.list_names("held/") == [], "the held copy and its report are gone"
    with pytest.raises(ingest.NotHeld):
        ingest.accept_held(lane.settings, lane.data, lane.publisher, held_name)
    assert lane.handle("spike.csv", held.generation, event_id="late").status == "duplicate"


def test_an_accept_interrupted_before_cleanup_finishes_on_the_second_run(lane) -> None:
    lane.ingest("base.csv", rows(0, 40))
    held = lane.ingest("spike.csv", with_price(35, 45, 44, 6))
    held_name = stored_name("held", "spike.csv", held.generation)
    report = lane.data.read(report_name(held_name))
    ingest.accept_held(lane.settings, lane.data, lane.publisher, held_name)
    lane.data.write(report_name(held_name), report.data)  # as if the run died before deleting the report
    generation = lane.curated()[1]

    again = ingest.accept_held(lane.settings, lane.data, lane.publisher, held_name)

    assert again.status == "duplicate" and lane.curated()[1] == generation
    assert len(lane.messages()) == 2 and lane.data.list_names("held/") == []


def test_accept_still_applies_every_other_check(lane) -> None:
    lane.ingest("base.csv", rows(0, 40))
    held = lane.ingest("spike.csv", with_price(35, 45, 44, 6))
    held_name = stored_name("held", "spike.csv", held.generation)
    stricter = dataclasses.replace(lane.settings, max_columns=3)
    with pytest.raises(PermanentError, match="too_many_columns|columns"):
        ingest.accept_held(stricter, lane.data, lane.publisher, held_name)
    assert lane.data.read(held_name) is not None, "still held"


@pytest.mark.parametrize("uri", ["gs://memory-data/archive/2026/01/01/x.csv", "gs://other/held/2026/01/01/x.csv",
                                 "gs://memory-data/held/2026/01/01/x.txt", "held/2026/01/01/x.csv"])
def test_accept_only_takes_held_files_of_the_data_bucket(lane, uri) -> None:
    with pytest.raises(ingest.NotHeld):
        ingest.held_object_name(lane.settings, uri)


# ---- uploads that change nothing ------------------------------------------------------------------

def test_an_identical_re_upload_changes_nothing_and_asks_for_no_retrain(lane) -> None:
    lane.ingest("prices.csv", rows(0, 30))
    _, generation = lane.curated()
    for name, data in (("again.csv", rows(0, 30)), ("part.csv", rows(10, 15))):
        outcome = lane.ingest(name, data)
        assert outcome.status == "unchanged"
        stored = receipt(lane, outcome)
        assert stored["status"] == "unchanged" and "nothing merged" in stored["summary"]
        assert lane.data.read(stored_name("archive", name, outcome.generation)).data == data
        assert lane.data.read(stored_name("archive", name, outcome.generation)).content_type == "text/csv"
        assert lane.uploads.read(name) is None
        assert lane.handle(name, outcome.generation, event_id="again").status == "duplicate"
    assert lane.curated()[1] == generation, "no new curated generation"
    assert len(lane.messages()) == 1
