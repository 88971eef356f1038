"""Helpers the integration tests share: drive the real stack and await what it does."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.logwatch import read_events
from devstack.processes import wait_for
from devstack.pubsub_rest import PulledMessage
from devstack.stack import TRAIN_SUBSCRIPTION, LocalStack, get_served_json
from gasforecast.platform.storage import Bucket


def require(condition: bool, what: str) -> None:
    """Skip locally, fail under CI=true: a required service must never be silently missing in CI."""
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"required service missing under CI=true: {what}")
    pytest.skip(f"{what} (set CI=true to make this a failure)")


def data_bucket(stack: LocalStack) -> Bucket:
    return Bucket(stack.storage_client(), stack.data_bucket)


def continuation(stack: LocalStack, settings, days: int = 3):
    """`days` new daily rows after the curated dataset's last date, a calm random walk from its last
    values (as a data feed would deliver them); returns (frame, curated object it continues)."""
    import numpy as np
    import pandas as pd

    from gasforecast.ingestion import dataset

    curated = data_bucket(stack).read(settings.curated_object)
    frame = dataset.read_curated(curated.data)
    rng = np.random.default_rng(time.time_ns() % 2**32)
    index = pd.date_range(frame.index[-1] + pd.Timedelta(days=1), periods=days, freq="D", name="date")
    last = frame.ffill().iloc[-1].to_numpy()
    moves = np.exp(np.cumsum(rng.normal(0, 0.01, (days, frame.shape[1])), axis=0))
    return pd.DataFrame(moves * last, index=index, columns=frame.columns).round(4), curated


def append_days(stack: LocalStack, settings, days: int = 3) -> int:
    """Extend the curated dataset by `days` of new prices, as a backfill job would write it (straight
    to the curated object, not through ingest); returns the new generation."""
    from gasforecast.ingestion import dataset

    new, curated = continuation(stack, settings, days)
    merged, _ = dataset.upsert(dataset.read_curated(curated.data), new, settings.target_column)
    return data_bucket(stack).write(settings.curated_object, dataset.curated_to_bytes(merged), content_type="text/csv",
                                    if_generation_match=curated.generation)


def isolated_settings(settings, gcs_emulator, **changes):
    """Own bucket, experiment and model name: a test that trains in-process never moves the shared
    champion."""
    import dataclasses
    import uuid

    suffix = uuid.uuid4().hex[:8]
    return dataclasses.replace(
        settings, data_bucket=gcs_emulator.make_bucket(f"isolated-{suffix}"), model_name=f"isolated-model-{suffix}",
        mlflow_experiment=f"isolated-{suffix}", **changes,
    )


def wait_served(stack: LocalStack, predicate, timeout: float = 120, what: str = "the served model") -> dict:
    """Await a served `/api/v1/model` document satisfying `predicate`."""
    return wait_for(lambda: (lambda m: m if m and predicate(m) else None)(stack.served_model()), timeout, what, 0.3)


def function_events(stack: LocalStack, function: str, **match) -> list[dict]:
    """JSON log events of a function whose fields equal `match`."""
    path = Path(stack.runtime_dir) / "logs" / f"{function}-function.log"
    return [e for e in read_events(path) if all(str(e.get(k)) == str(v) for k, v in match.items())]


def wait_event(stack: LocalStack, function: str, timeout: float = 120, **match) -> dict:
    return wait_for(lambda: (function_events(stack, function, **match) or [None])[-1], timeout,
                    f"{function} event {match}", 0.2)


def model_versions(settings, training_key: str | None = None) -> list[int]:
    """The registered versions of the stack's model; only those carrying `training_key` if given."""
    from gasforecast.training.registry import Registry, quoted

    registry = Registry(settings)
    query = f"name = {quoted(settings.model_name)}"
    if training_key is not None:
        query += f" and tags.`{registry.KEY_TAG}` = {quoted(training_key)}"
    return sorted(int(v.version) for v in registry.client.search_model_versions(query))


TRAINING_OVER = frozenset({"train.finished", "train.duplicate", "train.insufficient_history",
                           "train.promotion_refused"})


def await_trainings(stack: LocalStack, message_ids, timeout: float = 300) -> None:
    """Await the end of the trainings `message_ids` asked for: a test leaves no training running on
    into the next test's registry (each worker's tests share one stack)."""
    pending = set(message_ids)

    def ended() -> bool:
        return pending <= {e.get("message_id") for e in function_events(stack, "train") if e["event"] in TRAINING_OVER}

    wait_for(ended, timeout, f"the trainings of messages {sorted(pending)} to end", 0.5)


def champion_version(settings) -> int | None:
    from gasforecast.training.registry import Registry

    champion = Registry(settings).champion()
    return int(champion.version) if champion else None


def elapsed_since(start: float) -> float:
    return time.monotonic() - start


@dataclass(frozen=True)
class ScoredChampion:
    """Issue 13's scenario on the real stack: a served forecast, then one upload that continues the series
    by 30 days; the champion trained on it serves the first forecast's scores."""

    forecast_version: str  # the version whose forecast matured (the newest in the ledger before the upload)
    forecast_run_id: str
    forecast_date: str  # its data-through date: the origin of the scored points
    version: str  # the champion trained on the continued series, which serves the record
    run_id: str  # its run, which holds the record (a later version of the same run serves the same record)
    generation: str  # the curated generation it was trained on
    message: PulledMessage  # the retrain message that trained it, as published (to redeliver it)


def served_track_record(base_url: str) -> dict | None:
    """A service's `/api/v1/track-record` document, or None while it is not answering one."""
    return get_served_json(f"{base_url}/api/v1/track-record", timeout=10)


def score_a_served_forecast(stack: LocalStack, settings, pubsub_emulator, days: int = 30) -> ScoredChampion:
    """Upload `days` of new prices after the curated data the user's way (uploads bucket → ingest →
    retrain message → train), and await the champion trained on them serving the newest ledger
    entry's forecast as scored points."""
    import uuid

    from gasforecast.ingestion import dataset
    from gasforecast.platform.messaging import parse_retrain_request
    from gasforecast.scoring.ledger import read_ledger

    entries = read_ledger(data_bucket(stack))
    assert entries, "the first champion's forecast is in the ledger"
    origin = entries[-1].to_json_dict()
    audit = pubsub_emulator.make_pull_subscription(settings.retrain_topic, f"audit-{uuid.uuid4().hex[:8]}")
    new, _ = continuation(stack, settings, days)
    name = f"continue-{days}-days-{uuid.uuid4().hex[:8]}.csv"
    stack.upload(name, dataset.curated_to_bytes(new))
    source = f"gs://{stack.uploads_bucket}/{name}"
    message = wait_for(lambda: next((m for m in pubsub_emulator.pull_all(audit, timeout=1)
                                     if parse_retrain_request(m.data).source == source), None),
                       180, f"the retrain message for {name}")
    outcomes = ("train.finished", "train.promotion_refused")
    finished = wait_for(lambda: next((e for e in function_events(stack, "train", message_id=message.message_id)
                                      if e["event"] in outcomes), None), 300, f"the training of {name}", 0.5)
    # Refused: the session's curated data no longer gives a servable bundle (an earlier test left a
    # price spike in it, say); no training on it can be scored, so say so instead of waiting.
    assert finished["event"] == "train.finished" and finished["status"] == "trained", (
        f"the training of {name} ended {finished['event']} {finished.get('status') or finished.get('reasons')}")
    version = str(finished["model_version"])
    wait_for(lambda: (lambda t: t and t["model"]["version"] == version and t["points"])(
        served_track_record(stack.service_url)), 120, f"version {version} serving its track record", 0.3)
    return ScoredChampion(origin["model_version"], origin["run_id"], origin["data_through"], version,
                          finished["run_id"], str(finished["generation"]), message)


def push_to_train(stack: LocalStack, settings, data: bytes, message_id: str, attributes: dict[str, str] | None = None,
                  timeout: float = 300) -> int:
    """Deliver a message to the train function as the push subscription does (a redelivery, when the id
    was delivered before); returns the HTTP status: 2xx acknowledges it."""
    import base64

    import requests

    from gasforecast.platform.messaging import utc_now_iso

    envelope = {
        "message": {"data": base64.b64encode(data).decode(), "attributes": attributes or {"reason": "manual"},
                    "messageId": message_id, "publishTime": utc_now_iso()},
        "subscription": stack.subscription_path(TRAIN_SUBSCRIPTION),
    }
    return requests.post(stack.train_push_endpoint(settings.retrain_topic), json=envelope, timeout=timeout).status_code
