"""Issue 2 end to end, through the real parts: upload → GCS notification → ingest → Pub/Sub → train
→ MLflow (PostgreSQL backend) → service, then a second upload and the schedule's direct path."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import requests

from gasforecast import dataset, registry_rest
from gasforecast.messaging import RetrainRequest, make_publisher, publish_retrain, utc_now_iso
from gasforecast.registry import Registry
from gasforecast.sample import synthetic_history, to_csv_bytes
from tests.stack_helpers import data_bucket, wait_event, wait_served

HISTORY = synthetic_history(3 * 365 + 40, start="2022-02-01", seed=21)
FIRST, INCREMENT, LATER = HISTORY.iloc[:-40], HISTORY.iloc[-40:-20], HISTORY.iloc[-20:]


def _version(model: dict) -> int:
    return int(model["model"]["version"])


def test_upload_reaches_the_service_with_a_new_version(running_stack, settings):
    pointer = registry_rest.champion_pointer(settings)
    before_version = int(pointer.version) if pointer else 0
    running_stack.upload("e2e-history.csv", to_csv_bytes(FIRST))

    model = wait_served(
        running_stack,
        lambda m: _version(m) > before_version and m["data"]["last_date"] >= FIRST["date"].iloc[-1],
        timeout=180, what="the first upload to be served",
    )
    forecast = requests.get(f"{running_stack.service_url}/api/v1/forecast", params={"horizon": 14}, timeout=5).json()
    assert forecast["model"]["version"] == model["model"]["version"]
    assert forecast["model"]["run_id"] == model["model"]["run_id"]
    dates = [p["date"] for p in forecast["points"]]
    first_day = date.fromisoformat(model["data"]["last_date"]) + timedelta(days=1)
    assert dates == [(first_day + timedelta(days=i)).isoformat() for i in range(14)]
    for point in forecast["points"]:
        assert point["lower_95"] <= point["lower_80"] <= point["mean"] <= point["upper_80"] <= point["upper_95"]

    run = Registry(settings).client.get_run(model["model"]["run_id"])
    assert run.data.params["dataset_uri"] == settings.curated_uri
    assert {"naive.h1.test_ratio", "nested.mean_mae_ratio", "nested.h30.coverage_95"} <= set(
        run.data.metrics)
    assert run.data.tags["trigger.reason"] == "upload"
    assert run.data.tags["trigger.source"] == f"gs://{running_stack.uploads_bucket}/e2e-history.csv"


def test_second_upload_is_served_as_a_newer_version_without_restart(running_stack, settings):
    pids = {name: proc.pid for name, proc in running_stack.processes.items()}
    before = wait_served(running_stack, lambda m: True, what="a champion")
    started = time.monotonic()
    running_stack.upload("e2e-increment.csv", to_csv_bytes(INCREMENT))
    model = wait_served(
        running_stack,
        lambda m: _version(m) > _version(before) and m["data"]["last_date"] == INCREMENT["date"].iloc[-1],
        timeout=120, what="the increment to be served",
    )
    assert model["data"]["last_date"] == INCREMENT["date"].iloc[-1]
    assert {name: proc.pid for name, proc in running_stack.processes.items()} == pids
    print(f"upload → newer version served in {time.monotonic() - started:.1f}s")


def test_a_retrain_message_on_the_topic_trains_new_data(running_stack, settings):
    """The Composer DAG's path: new curated data, then a schedule message straight to the topic."""
    before = wait_served(running_stack, lambda m: True, what="a champion")
    bucket = data_bucket(running_stack)
    curated = bucket.read(settings.curated_object)
    merged, _ = dataset.upsert(dataset.read_curated(curated.data), dataset.read_curated(to_csv_bytes(LATER)),
                               settings.target_column)
    bucket.write(settings.curated_object, dataset.curated_to_bytes(merged), content_type="text/csv",
                 if_generation_match=curated.generation)

    message_id = publish_retrain(make_publisher(), settings.project, settings.retrain_topic,
                                 RetrainRequest(reason="schedule", requested_at=utc_now_iso()))
    finished = wait_event(running_stack, "train", event="train.finished", message_id=message_id, timeout=180)
    model = wait_served(running_stack, lambda m: _version(m) > _version(before), what="the scheduled retrain")
    assert str(model["model"]["version"]) == str(finished["model_version"])
    assert model["data"]["last_date"] == LATER["date"].iloc[-1]
    run = Registry(settings).client.get_run(finished["run_id"])
    assert run.data.tags["trigger.reason"] == "schedule"
    assert json.loads(run.data.tags[Registry.CONFIG_TAG])["kind"] == model["model"]["config"]["kind"]
