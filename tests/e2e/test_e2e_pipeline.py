"""Issue 2 end to end, through the real parts: upload → GCS notification → ingest → Pub/Sub → train
→ MLflow (PostgreSQL backend) → service, then a second upload and the schedule's direct path."""

from __future__ import annotations

import json
import time
import uuid
from datetime import date, timedelta

import requests

from devstack.processes import wait_for
from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.platform.messaging import RetrainRequest, make_publisher, publish_retrain, utc_now_iso
from gasforecast.training.registry import Registry
from tests.stack_helpers import append_days, continuation, data_bucket, function_events, wait_event, wait_served

# The first upload is a whole history; later data continues whatever the stack's curated dataset holds
# by then (other test files may have run on this worker's stack before this one). It ends before any
# other test's data begins (2021), so on a used stack it adds older rows instead of rewriting curated
# prices, which ingest would hold as a revision (docs/data-contract.md#revisions-of-curated-values).
FIRST = synthetic_history(3 * 365, start="2017-01-01", seed=21)


def _version(model: dict) -> int:
    return int(model["model"]["version"])


def test_upload_reaches_the_service_with_a_new_version(running_stack, settings):
    name = f"e2e-history-{uuid.uuid4().hex[:8]}.csv"
    running_stack.upload(name, to_csv_bytes(FIRST))
    accepted = wait_event(running_stack, "ingest", event="ingest.accepted", object=name, timeout=180)
    trained = wait_for(lambda: [e for e in function_events(running_stack, "train", message_id=accepted["message_id"])
                                if e["event"] in ("train.finished", "train.duplicate")],
                       300, f"the training of {name} (message {accepted['message_id']})", 0.3)[-1]
    model = wait_served(running_stack, lambda m: _version(m) >= int(trained["model_version"]),
                        timeout=180, what=f"version {trained['model_version']} or newer to be served")
    assert model["data"]["last_date"] >= FIRST["date"].iloc[-1]
    forecast = requests.get(f"{running_stack.service_url}/api/v1/forecast", params={"horizon": 14}, timeout=5).json()
    assert forecast["model"]["version"] == model["model"]["version"]
    assert forecast["model"]["run_id"] == model["model"]["run_id"]
    dates = [p["date"] for p in forecast["points"]]
    first_day = date.fromisoformat(model["data"]["last_date"]) + timedelta(days=1)
    assert dates == [(first_day + timedelta(days=i)).isoformat() for i in range(14)]
    for point in forecast["points"]:
        assert point["lower_95"] <= point["lower_80"] <= point["mean"] <= point["upper_80"] <= point["upper_95"]

    run = Registry(settings).client.get_run(trained["run_id"])
    assert run.data.params["dataset_uri"] == settings.curated_uri
    assert {"naive.h1.test_ratio", "nested.mean_mae_ratio", "nested.h30.coverage_95"} <= set(run.data.metrics)
    if trained["event"] == "train.finished":  # else a newer upload's training already covered this data
        assert run.data.tags["trigger.reason"] == "upload"
        assert run.data.tags["trigger.source"] == f"gs://{running_stack.uploads_bucket}/{name}"


def test_second_upload_is_served_as_a_newer_version_without_restart(running_stack, settings):
    pids = {name: proc.pid for name, proc in running_stack.processes.items()}
    before = wait_served(running_stack, lambda m: True, what="a champion")
    increment, _ = continuation(running_stack, settings, days=20)
    last_date = increment.index[-1].strftime("%Y-%m-%d")
    started = time.monotonic()
    running_stack.upload("e2e-increment.csv", dataset.curated_to_bytes(increment))
    model = wait_served(
        running_stack,
        lambda m: _version(m) > _version(before) and m["data"]["last_date"] == last_date,
        timeout=180, what="the increment to be served",
    )
    assert model["data"]["last_date"] == last_date
    assert {name: proc.pid for name, proc in running_stack.processes.items()} == pids
    print(f"upload → newer version served in {time.monotonic() - started:.1f}s")


def test_a_retrain_message_on_the_topic_trains_new_data(running_stack, settings):
    """The Composer DAG's path: new curated data, then a schedule message straight to the topic."""
    before = wait_served(running_stack, lambda m: True, what="a champion")
    append_days(running_stack, settings, days=20)
    last_date = dataset.read_curated(data_bucket(running_stack).read(settings.curated_object).data).index[-1]

    message_id = publish_retrain(make_publisher(), settings.project, settings.retrain_topic,
                                 RetrainRequest(reason="schedule", requested_at=utc_now_iso()))
    finished = wait_event(running_stack, "train", event="train.finished", message_id=message_id, timeout=180)
    model = wait_served(running_stack, lambda m: _version(m) > _version(before), what="the scheduled retrain")
    assert str(model["model"]["version"]) == str(finished["model_version"])
    assert model["data"]["last_date"] == last_date.strftime("%Y-%m-%d")
    run = Registry(settings).client.get_run(finished["run_id"])
    assert run.data.tags["trigger.reason"] == "schedule"
    assert json.loads(run.data.tags[Registry.CONFIG_TAG])["kind"] == model["model"]["config"]["kind"]
