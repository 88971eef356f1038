"""Hostile inputs through the real stack (issue 11): the public forecast is never poisoned.

Every upload goes the user's way (uploads bucket → notification → ingest function) and every
message the publisher's way (retrain topic → push → train function); each test awaits the event it
needs with a generous deadline, and checks that the curated dataset lost nothing and no retrain was
asked for what was refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from cloudevents.conversion import to_structured
from cloudevents.http import CloudEvent

from devstack.processes import wait_for
from gasforecast.cli import main as cli
from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.platform.messaging import RetrainRequest, make_publisher, parse_retrain_request, publish, utc_now_iso
from gasforecast.platform.storage import parse_gs_uri
from gasforecast.publication import sanity
from tests.stack_helpers import (
    await_trainings,
    continuation,
    data_bucket,
    function_events,
    wait_event,
    wait_served,
)

pytestmark = pytest.mark.integration
TIMEOUT = 120  # seconds: a loaded CI machine is slow, a healthy one answers in well under a second


def _unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}.csv"


def _read_report(stack, uri: str) -> dict:
    bucket, name = parse_gs_uri(uri)
    assert bucket == stack.data_bucket
    return json.loads(data_bucket(stack).read(name).data)


def _curated(stack, settings):
    stored = data_bucket(stack).read(settings.curated_object)
    return dataset.read_curated(stored.data), stored.generation


@pytest.fixture(scope="module")
def curated_base(running_stack, settings):
    """A curated history to continue (an earlier test usually left one; else upload one)."""
    if data_bucket(running_stack).read(settings.curated_object) is None:
        name = _unique("base")
        running_stack.upload(name, to_csv_bytes(synthetic_history(2 * 365, start="2023-01-01")))
        wait_event(running_stack, "ingest", TIMEOUT, event="ingest.accepted", object=name)
    return running_stack


@pytest.fixture
def audit(settings, pubsub_emulator):
    """Everything published on the retrain topic from now on."""
    return pubsub_emulator.make_pull_subscription(settings.retrain_topic, f"audit-{uuid.uuid4().hex[:8]}")


def _sources(pubsub_emulator, audit: str, timeout: float, count: int = 10**6) -> list[str]:
    return [parse_retrain_request(m.data).source for m in pubsub_emulator.pull_all(audit, timeout=timeout, count=count)]


def test_ten_concurrent_increments_all_land_with_one_message_each(curated_base, settings, pubsub_emulator, audit):
    stack = curated_base
    new, _ = continuation(stack, settings, days=50)
    files = {_unique(f"burst-{i:02d}"): dataset.curated_to_bytes(new.iloc[i * 5:(i + 1) * 5]) for i in range(10)}
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(lambda item: stack.upload(*item), files.items()))

    messages = pubsub_emulator.pull_all(audit, timeout=TIMEOUT, count=10)
    sources = [parse_retrain_request(m.data).source for m in messages]
    assert sorted(source.rsplit("/", 1)[-1] for source in sources) == sorted(files)
    assert _sources(pubsub_emulator, audit, 3) == [], "no second message for any upload"
    curated, _ = _curated(stack, settings)
    target = settings.target_column
    assert list(curated.loc[new.index, target].round(4)) == list(new[target].round(4))
    archived = {hashlib.sha256(data_bucket(stack).read(n).data).hexdigest()
                for n in data_bucket(stack).list_names("archive/") if n.endswith(".csv")}
    assert {hashlib.sha256(data).hexdigest() for data in files.values()} <= archived
    await_trainings(stack, [m.message_id for m in messages])


def test_a_mistyped_price_is_held_and_the_public_forecast_does_not_change(curated_base, settings, pubsub_emulator,
                                                                          audit):
    stack = curated_base
    served = wait_served(stack, lambda m: True, timeout=300, what="a champion")
    new, before = continuation(stack, settings, days=5)
    new.iloc[-1, new.columns.get_loc(settings.target_column)] *= 10  # 132.63 typed as 1326.3
    name = _unique("typo")
    stack.upload(name, dataset.curated_to_bytes(new))

    held = wait_event(stack, "ingest", TIMEOUT, event="ingest.held", object=name)
    report = _read_report(stack, held["report_uri"])
    (cell,) = report["suspicious"]
    assert (cell["column"], cell["date"], cell["rule"]) == (settings.target_column, new.index[-1].strftime("%Y-%m-%d"),
                                                            "ratio_step")
    assert report["accept"]["command"] == f"gasforecast accept {held['held_uri']}"
    assert held["first_error"] and cell["why"] in held["first_error"]
    assert _curated(stack, settings)[1] == before.generation, "nothing merged"
    assert name not in " ".join(_sources(pubsub_emulator, audit, 3)), "no retrain asked for"
    model = stack.served_model()
    assert model["data"]["last_date"] < new.index[0].strftime("%Y-%m-%d") <= new.index[-1].strftime("%Y-%m-%d")
    assert int(model["model"]["version"]) >= int(served["model"]["version"])
    forecast = requests.get(f"{stack.service_url}/api/v1/forecast", params={"horizon": 14}, timeout=10).json()
    assert max(point["upper_95"] for point in forecast["points"]) < new[settings.target_column].iloc[-1]


def test_a_whole_history_rescale_is_held_in_both_steps_and_the_served_forecast_does_not_move(
        curated_base, settings, pubsub_emulator, audit):
    """Issue 20: ×1.4, then ×10 of the original, has no suspicious step between neighbours; each is a
    revision of every curated price, held with a report, and nothing is merged, published or served."""
    stack = curated_base
    served = wait_served(stack, lambda m: True, timeout=300, what="a champion")
    curated, generation = _curated(stack, settings)
    target = settings.target_column
    names = []
    for factor in (1.4, 10.0):
        restated = curated.copy()
        restated[target] = (restated[target] * factor).round(4)
        name = _unique(f"restated-x{factor:g}")
        names.append(name)
        stack.upload(name, dataset.curated_to_bytes(restated))
        held = wait_event(stack, "ingest", TIMEOUT, event="ingest.held", object=name)
        report = _read_report(stack, held["report_uri"])
        assert report["suspicious"] == [], "neighbour by neighbour the rescale looks fine"
        size = next(r for r in report["revisions"] if r["rule"] == "revision_size")
        assert size["column"] == target and size["revised"] == curated[target].notna().sum()
        assert size["median_factor"] == pytest.approx(factor, rel=1e-3)
        assert {"revision_breadth", "revision_age"} <= {r["rule"] for r in report["revisions"]}
        assert "revised (revision_size)" in held["first_error"] and held["revisions"] >= 3
        assert report["accept"]["command"] == f"gasforecast accept {held['held_uri']}"
        assert _curated(stack, settings)[1] == generation, "nothing merged"
    published = " ".join(_sources(pubsub_emulator, audit, 3))
    assert not any(name in published for name in names), "no retrain asked for"
    model = stack.served_model()
    assert int(model["model"]["version"]) >= int(served["model"]["version"])
    assert model["data"]["last_date"] <= curated.index[-1].strftime("%Y-%m-%d")
    forecast = requests.get(f"{stack.service_url}/api/v1/forecast", params={"horizon": 14}, timeout=10).json()
    last_price = curated[target].dropna().iloc[-1]
    assert all(0.5 * last_price < point["mean"] < 1.3 * last_price for point in forecast["points"]), \
        "the served forecast stays on the curated prices' scale"


def test_growth_within_the_per_file_limits_is_refused(curated_base, settings, pubsub_emulator, audit):
    """Issue 20: rows back to 1900 and repeated 48-column uploads (each within the per-file limits)
    grew the curated dataset to 352 columns; now each is rejected with a report and nothing merges."""
    stack = curated_base
    curated, generation = _curated(stack, settings)
    target = settings.target_column
    century = b"date,%s\n1900-01-01,80.5\n1900-01-02,80.6\n" % target.encode()
    name = _unique("century")
    stack.upload(name, century)
    rejected = wait_event(stack, "ingest", TIMEOUT, event="ingest.rejected", object=name)
    (error, _) = _read_report(stack, rejected["report_uri"])["errors"]
    assert error["code"] == "date_out_of_range" and "the earliest accepted date" in error["message"]
    new, _ = continuation(stack, settings, days=2)
    names = []
    for batch in range(3):
        wide = new[[target]].copy()
        for column in range(48):
            wide[f"extra_{batch}_{column:02d}"] = float(column)
        names.append(_unique(f"wide-{batch}"))
        stack.upload(names[-1], dataset.curated_to_bytes(wide))
        rejected = wait_event(stack, "ingest", TIMEOUT, event="ingest.rejected", object=names[-1])
        (error,) = _read_report(stack, rejected["report_uri"])["errors"]
        assert error["code"] == "too_many_curated_columns" and "adds 48" in error["message"]
    after, after_generation = _curated(stack, settings)
    assert after_generation == generation and list(after.columns) == list(curated.columns)
    published = " ".join(_sources(pubsub_emulator, audit, 3))
    assert not any(name in published for name in names), "no retrain asked for"


def test_a_retired_column_is_gone_from_the_data_training_reads(curated_base, settings, capsys):
    stack = curated_base
    new, _ = continuation(stack, settings, days=3)
    new["retire_me"] = [1.0, 2.0, 3.0]
    name = _unique("with-driver")
    stack.upload(name, dataset.curated_to_bytes(new))
    accepted = wait_event(stack, "ingest", TIMEOUT, event="ingest.accepted", object=name)
    await_trainings(stack, [accepted["message_id"]])
    assert "retire_me" in _curated(stack, settings)[0].columns

    assert cli(["retire-column", "retire_me", "--reason", "issue 20 test"]) == 0
    message_id = re.search(r"retrain message (\S+)", capsys.readouterr().out).group(1)
    curated, generation = _curated(stack, settings)
    assert "retire_me" not in curated.columns
    assert wait_event(stack, "train", TIMEOUT, event="train.override", message_id=message_id)["override"] == \
        "retire-column"
    trained = wait_for(lambda: next((e for e in function_events(stack, "train", message_id=message_id)
                                     if e["event"] in ("train.finished", "train.duplicate",
                                                       "train.promotion_refused")), None),
                       300, f"the retrain after retiring (message {message_id})", 0.5)
    assert str(trained["generation"]) == str(generation), "trained on the generation without the column"
    # Later uploads that still carry it are merged without it.
    more, _ = continuation(stack, settings, days=1)
    more["retire_me"] = 4.0
    name = _unique("still-carries")
    stack.upload(name, dataset.curated_to_bytes(more))
    accepted = wait_event(stack, "ingest", TIMEOUT, event="ingest.accepted", object=name)
    assert _read_report(stack, accepted["report_uri"])["columns_ignored"] == ["retire_me"]
    assert "retire_me" not in _curated(stack, settings)[0].columns
    await_trainings(stack, [accepted["message_id"]])


def _first_row(new, settings, **overrides) -> bytes:
    row = new.iloc[:1].copy()
    for column, value in overrides.items():
        row[column] = value
    return dataset.curated_to_bytes(row)


REFUSED = {
    "absurd_value": lambda new, s: _first_row(new, s, **{s.target_column: 1e300}),
    "date_out_of_range": lambda new, s: b"date,%s\n2999-01-01,80.5\n" % s.target_column.encode(),
    "column_name_too_long": lambda new, s: _first_row(new, s, **{"x" * 300: 1.0}),
    "unsafe_column_name": lambda new, s: _first_row(new, s, **{"=cmd|' /C calc'!A0": 1.0}),
}


@pytest.mark.parametrize("code", sorted(REFUSED))
def test_absurd_values_future_dates_and_hostile_column_names_are_rejected(curated_base, settings, code):
    stack = curated_base
    new, before = continuation(stack, settings, days=1)
    name = _unique(code)
    stack.upload(name, REFUSED[code](new, settings))
    rejected = wait_event(stack, "ingest", TIMEOUT, event="ingest.rejected", object=name)
    report = _read_report(stack, rejected["report_uri"])
    assert report["errors"][0]["code"] == code and rejected["first_error"]
    assert _curated(stack, settings)[1] == before.generation


@pytest.mark.parametrize("name", ["../{data}/curated/history.csv", "x/../curated/history.csv", "odd//name.csv"])
def test_object_names_that_could_escape_are_refused(curated_base, settings, name):
    stack = curated_base
    curated, generation = _curated(stack, settings)
    name = name.format(data=stack.data_bucket)
    stack.upload(name, b"date,%s\n2020-01-01,1\n" % settings.target_column.encode())
    rejected = wait_event(stack, "ingest", TIMEOUT, event="ingest.rejected", object=name)
    assert _read_report(stack, rejected["report_uri"])["errors"][0]["code"] == "unsafe_object_name"
    after, after_generation = _curated(stack, settings)
    assert after_generation == generation and len(after) == len(curated)


def test_a_non_csv_object_gets_a_short_report(curated_base, settings):
    stack = curated_base
    name = f"notes-{uuid.uuid4().hex[:8]}.xlsx"
    stack.upload(name, b"PK\x03\x04 not a csv", content_type="application/octet-stream")
    rejected = wait_event(stack, "ingest", TIMEOUT, event="ingest.rejected", object=name)
    assert "does not end in .csv" in rejected["first_error"]
    assert _read_report(stack, rejected["report_uri"])["errors"][0]["code"] == "not_csv"


def test_a_bad_file_is_quarantined_whole_and_nothing_is_published(curated_base, settings, pubsub_emulator, audit):
    stack = curated_base
    bad = b"<html><body>502 Bad Gateway</body></html>\n"
    name = f"odd name ..{uuid.uuid4().hex[:6]} é.csv"
    stack.upload(name, bad)
    rejected = wait_event(stack, "ingest", TIMEOUT, event="ingest.rejected", object=name)
    report = _read_report(stack, rejected["report_uri"])
    assert report["errors"][0]["code"] == "html_content"
    assert data_bucket(stack).read(parse_gs_uri(report["stored_as"])[1]).data == bad
    assert _sources(pubsub_emulator, audit, 3) == []


def test_an_identical_re_upload_changes_nothing(curated_base, settings, pubsub_emulator, audit):
    stack = curated_base
    curated, generation = _curated(stack, settings)
    name = _unique("again")
    stack.upload(name, dataset.curated_to_bytes(curated.iloc[-30:]))
    unchanged = wait_event(stack, "ingest", TIMEOUT, event="ingest.unchanged", object=name)
    assert _read_report(stack, unchanged["report_uri"])["status"] == "unchanged"
    assert _curated(stack, settings)[1] == generation, "no new curated generation"
    assert name not in " ".join(_sources(pubsub_emulator, audit, 3)), "no retrain"


def test_an_accepted_held_file_trains_and_a_correction_replaces_it(curated_base, settings, capsys):
    """An operator accepts a held spike: it is merged and trained on — then served, or refused by
    promotion sanity if its bands are absurd; the public forecast stays sane either way. The
    correction (uploaded whatever happened, so no later test trains on the spike) replaces it."""
    stack = curated_base
    new, _ = continuation(stack, settings, days=10)
    genuine = new[settings.target_column].iloc[4]
    new.iloc[4, new.columns.get_loc(settings.target_column)] = genuine * 6  # a one-day spike that reverts
    name = _unique("spike")
    stack.upload(name, dataset.curated_to_bytes(new))
    held = wait_event(stack, "ingest", TIMEOUT, event="ingest.held", object=name)
    try:
        assert cli(["accept", held["held_uri"]]) == 0
        message_id = re.search(r"retrain message (\S+)", capsys.readouterr().out).group(1)
        assert data_bucket(stack).read(parse_gs_uri(held["held_uri"])[1]) is None, "no longer held"
        assert _curated(stack, settings)[0].loc[new.index[4], settings.target_column] == pytest.approx(genuine * 6)
        outcome = wait_for(lambda: [e for e in function_events(stack, "train", message_id=message_id)
                                    if e["event"] in ("train.finished", "train.promotion_refused")],
                           300, f"the accepted file's retrain (message {message_id}) to finish", 0.5)[-1]
        override = wait_event(stack, "train", TIMEOUT, event="train.override", message_id=message_id)
        assert (override["override"], override["severity"]) == ("accept", "WARNING")
        assert override["source"] == f"gs://{stack.uploads_bucket}/{name}"
        served = wait_served(stack, lambda m: True, what="a champion")
        assert served["model"]["version"], "a champion is still served"
        if outcome["event"] == "train.finished":
            last_date = new.index[-1].strftime("%Y-%m-%d")
            served = wait_served(stack, lambda m: m["data"]["last_date"] >= last_date, timeout=300,
                                 what="the accepted data served")
        forecast = requests.get(f"{stack.service_url}/api/v1/forecast", timeout=10).json()
        history = requests.get(f"{stack.service_url}/api/v1/history", params={"days": 3650}, timeout=10).json()
        assert sanity.check(forecast["points"], [p["value"] for p in history["points"]]).servable
    finally:
        new.iloc[4, new.columns.get_loc(settings.target_column)] = genuine
        correction = _unique("correction")
        stack.upload(correction, dataset.curated_to_bytes(new))
        corrected = wait_event(stack, "ingest", TIMEOUT, event="ingest.accepted", object=correction)
        await_trainings(stack, [corrected["message_id"]])
    curated, _ = _curated(stack, settings)
    assert curated.loc[new.index[4], settings.target_column] == pytest.approx(genuine)


def test_a_refused_accept_is_in_the_train_functions_log_and_trains_nothing(curated_base, settings):
    """Issue 20.5: the operator's terminal is not where anyone looks; the refusal reaches the pipeline's logs."""
    stack = curated_base
    held = f"gs://{stack.data_bucket}/held/2026/01/01/{_unique('never-held')}"
    assert cli(["accept", held]) == 2
    line = wait_event(stack, "train", TIMEOUT, event="train.override_refused", source=held)
    assert (line["override"], line["severity"]) == ("accept", "WARNING") and "not held" in line["refused"]
    assert [e["event"] for e in function_events(stack, "train", message_id=line["message_id"])] == \
        ["train.override_refused"], "no lease, no training"


def _publish_raw(settings, data: bytes) -> str:
    return publish(make_publisher(), settings.project, settings.retrain_topic, data, {})


def _push_directly(stack, data: bytes, message_id: str) -> int:
    """Deliver a message to the train function as a push subscription does; 2xx means acknowledged."""
    event = CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "id": message_id,
         "source": f"//pubsub.googleapis.com/{stack.topic_path(stack.retrain_topic)}"},
        {"message": {"data": base64.b64encode(data).decode(), "messageId": message_id, "attributes": {}},
         "subscription": stack.subscription_path("direct")},
    )
    headers, body = to_structured(event)
    return requests.post(f"http://127.0.0.1:{stack.ports.train}/", data=body, headers=headers, timeout=60).status_code


def test_a_message_naming_another_dataset_is_refused_and_nothing_trains(curated_base, settings):
    stack = curated_base
    evil_uri = f"gs://{settings.data_bucket}/other/evil.csv"
    data_bucket(stack).write("other/evil.csv", to_csv_bytes(synthetic_history(400, start="2024-01-01", seed=9)))
    request = RetrainRequest("manual", utc_now_iso(), dataset=evil_uri, force=True)
    message_id = _publish_raw(settings, request.to_bytes())
    refused = wait_event(stack, "train", TIMEOUT, event="train.message_refused", message_id=message_id)
    assert evil_uri in refused["error"]
    assert function_events(stack, "train", event="train.started", message_id=message_id) == []
    assert 200 <= _push_directly(stack, request.to_bytes(), f"direct-{uuid.uuid4().hex[:8]}") < 300


def test_a_deeply_nested_message_is_acknowledged_once(curated_base, settings):
    stack = curated_base
    nested = b"[" * 200_000
    message_id = _publish_raw(settings, nested)
    logged = wait_event(stack, "train", TIMEOUT, event="train.malformed_message", message_id=message_id)
    assert "limit" in logged["error"]
    direct_id = f"direct-{uuid.uuid4().hex[:8]}"
    assert 200 <= _push_directly(stack, nested, direct_id) < 300, "acknowledged, so never redelivered"
    assert len(function_events(stack, "train", event="train.malformed_message", message_id=direct_id)) == 1
