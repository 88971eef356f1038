"""Issue 7 through the real stack: training under at-least-once delivery, outages and bad messages."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from devstack.processes import wait_for
from devstack.stack import ACK_DEADLINE_SECONDS, MAX_DELIVERY_ATTEMPTS
from gasforecast.platform.messaging import RetrainRequest, make_publisher, publish, publish_retrain, utc_now_iso
from gasforecast.training.retrain import LEASE_OBJECT
from tests.stack_helpers import (
    append_days,
    champion_version,
    data_bucket,
    elapsed_since,
    function_events,
    model_versions,
    push_to_train,
    wait_event,
)

TERMINAL = {"train.finished", "train.duplicate"}


@pytest.fixture()
def new_data(running_stack, settings, champion):
    """Append a few days of new prices to the curated dataset; returns its new generation."""
    return lambda days=3: append_days(running_stack, settings, days)


def _terminal_events(stack, message_id: str) -> list[dict]:
    return [e for e in function_events(stack, "train", message_id=message_id) if e["event"] in TERMINAL]


def _registered_once(settings, finished: dict) -> None:
    """The training key `finished` names has exactly one version, the one it registered (counted by
    key, so a training another test left running cannot blur the count)."""
    assert model_versions(settings, finished["training_key"]) == [int(finished["model_version"])]


def test_the_same_message_delivered_three_times_trains_once(running_stack, settings, new_data):
    new_data()
    message_id = f"redelivered-{uuid.uuid4().hex[:8]}"
    body = RetrainRequest(reason="manual", requested_at=utc_now_iso()).to_bytes()
    with ThreadPoolExecutor(3) as pool:  # three concurrent deliveries of one message, as a push retry would
        statuses = list(pool.map(lambda _: push_to_train(running_stack, settings, body, message_id), range(3)))
    assert statuses == [200, 200, 200]
    events = _terminal_events(running_stack, message_id)
    assert sorted(e["event"] for e in events) == ["train.duplicate", "train.duplicate", "train.finished"]
    (finished,) = [e for e in events if e["event"] == "train.finished"]
    assert {e["training_key"] for e in events} == {finished["training_key"]}
    assert {e["model_version"] for e in events} == {finished["model_version"]}, "the duplicates name its version"
    _registered_once(settings, finished)


def test_five_messages_at_once_leave_a_consistent_registry(running_stack, settings, new_data):
    new_data()
    publisher = make_publisher()
    ids = [publish_retrain(publisher, settings.project, settings.retrain_topic,
                           RetrainRequest(reason=reason, requested_at=utc_now_iso()))
           for reason in ("schedule", "manual", "upload", "schedule", "manual")]
    wait_for(lambda: all(_terminal_events(running_stack, i) for i in ids), 300, "five retrain messages")
    events = [e for i in ids for e in _terminal_events(running_stack, i)]
    finished = [e for e in events if e["event"] == "train.finished"]
    assert len(finished) == 1, "one dataset generation → one training"
    assert {e["training_key"] for e in events} == {finished[0]["training_key"]}
    _registered_once(settings, finished[0])
    assert champion_version(settings) == int(finished[0]["model_version"])


def test_three_forced_messages_promote_one_forced_version_and_each_is_logged(running_stack, settings, new_data):
    """Issue 20: a publisher sent `force: true` three times and got three promoted versions; now the
    second and third are limited (FORCE_MIN_INTERVAL_SECONDS) and every one leaves a WARNING line."""
    new_data()
    publisher = make_publisher()
    ids = []
    for _ in range(3):  # one after the other, as a publisher retrying would
        ids.append(publish_retrain(publisher, settings.project, settings.retrain_topic,
                                   RetrainRequest(reason="manual", requested_at=utc_now_iso(), force=True)))
        wait_for(lambda: _terminal_events(running_stack, ids[-1]), 300, f"forced message {ids[-1]}")
    forced = wait_event(running_stack, "train", event="train.forced", message_id=ids[0])
    limited = [wait_event(running_stack, "train", event="train.force_limited", message_id=i) for i in ids[1:]]
    assert forced["severity"] == "WARNING" and all(line["severity"] == "WARNING" for line in limited)
    assert {line["training_key"] for line in limited} == {forced["training_key"]}
    assert all(line["min_interval_s"] == settings.force_min_interval_seconds for line in limited)
    # Limited, the second is an ordinary request: it trains the key's ordinary version (new data reached
    # the curated object directly, so none was trained yet); the third is its duplicate.
    assert [e["event"] for i in ids[1:] for e in _terminal_events(running_stack, i)] == [
        "train.finished", "train.duplicate"]
    versions = model_versions(settings, forced["training_key"])
    assert len(versions) == 2, f"the key's forced version and its ordinary one, no more: {versions}"


def test_a_60_second_mlflow_restart_is_ridden_out_and_registers_once(running_stack, settings, new_data, mlflow_server):
    """Issue 11.5: the local retry policy outlives a 60 s outage; the message is not dead-lettered."""
    new_data()
    mlflow_server.stop()
    try:
        message_id = publish_retrain(make_publisher(), settings.project, settings.retrain_topic,
                                     RetrainRequest(reason="manual", requested_at=utc_now_iso()))
        wait_event(running_stack, "train", event="train.failed", message_id=message_id, timeout=120)
        down_since = time.monotonic()
        # An outage of a fixed length is the scenario itself, not a condition to await.
        time.sleep(max(0.0, 60 - elapsed_since(down_since)))
    finally:
        mlflow_server.start()
    finished = wait_event(running_stack, "train", event="train.finished", message_id=message_id, timeout=300)
    failures = function_events(running_stack, "train", event="train.failed", message_id=message_id)
    assert 1 <= len(failures) < MAX_DELIVERY_ATTEMPTS
    _registered_once(settings, finished)
    assert champion_version(settings) == int(finished["model_version"])


def test_a_killed_trainers_lease_is_recovered_by_the_next_delivery(running_stack, settings, new_data):
    """Issue 11.5: a lease left by a dead trainer is broken as soon as it expires, not deliveries later."""
    new_data()
    dead = {"holder": "killed-trainer", "expires_at": time.time() + 5}  # it renewed one last time, then died
    data_bucket(running_stack).write(LEASE_OBJECT, json.dumps(dead).encode(), content_type="application/json")
    message_id = publish_retrain(make_publisher(), settings.project, settings.retrain_topic,
                                 RetrainRequest(reason="manual", requested_at=utc_now_iso()))
    wait_event(running_stack, "train", event="train.finished", message_id=message_id, timeout=300)
    broken = [e for e in function_events(running_stack, "train", event="lease.broken") if "killed-trainer" in e["previous"]]
    assert len(broken) == 1
    assert function_events(running_stack, "train", event="train.failed", message_id=message_id) == []


def test_a_trainer_killed_mid_training_is_redelivered_and_registers_well_inside_the_ack_deadline(
        running_stack, settings, new_data):
    """Issue 20.6: the train function's processes die mid-training (SIGKILL: no answer, no clean-up) and
    a new one starts, as Cloud Run starts a new instance. The push failed at once, so Pub/Sub redelivers
    without waiting out the 600 s ack deadline; the new delivery breaks the dead trainer's lease once it
    stops being renewed and registers the version. Figures: docs/operations.md#a-killed-trainer."""
    new_data()
    message_id = publish_retrain(make_publisher(), settings.project, settings.retrain_topic,
                                 RetrainRequest(reason="manual", requested_at=utc_now_iso()))
    started = wait_event(running_stack, "train", event="train.started", message_id=message_id, timeout=300)
    killed = time.monotonic()
    running_stack.kill_function("train")
    finished = wait_event(running_stack, "train", event="train.finished", message_id=message_id,
                          timeout=ACK_DEADLINE_SECONDS - 60)
    print(f"killed trainer: a registered version {elapsed_since(killed):.0f} s after the kill")
    assert finished["status"] in ("trained", "resumed") and finished["generation"] == started["generation"]
    broken = [e for e in function_events(running_stack, "train", event="lease.broken") if e["time"] > started["time"]]
    assert broken, "the dead trainer's lease was taken over"
    _registered_once(settings, finished)
    assert champion_version(settings) == int(finished["model_version"])


def test_a_malformed_message_is_acknowledged_and_never_retried(running_stack, settings):
    message_id = publish(make_publisher(), settings.project, settings.retrain_topic, b"{not json", {})
    wait_event(running_stack, "train", event="train.malformed_message", event_id=message_id, timeout=30)
    # Absence of a retry cannot be awaited: wait out several retry backoffs (1 s minimum here).
    time.sleep(5)
    assert len(function_events(running_stack, "train", event="train.malformed_message", event_id=message_id)) == 1


def test_the_train_subscription_retries_and_dead_letters_as_documented(running_stack):
    """The stack's own subscription: the retry policy that rides out a 60 s MLflow restart, five
    delivery attempts, then the dead-letter topic (the next test watches that policy work)."""
    config = running_stack.subscription_config("retrain-requests-to-train")
    assert config["ackDeadlineSeconds"] == 600
    assert config["retryPolicy"] == {"minimumBackoff": f"{running_stack.retry_backoff[0]}s",
                                     "maximumBackoff": f"{running_stack.retry_backoff[1]}s"}
    assert config["deadLetterPolicy"] == {"deadLetterTopic": running_stack.topic_path(running_stack.dead_letter_topic),
                                          "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS}


def test_a_message_failing_five_times_lands_in_the_dead_letter_subscription(
        running_stack, settings, new_data, mlflow_server, pubsub_emulator):
    """The same wiring on a private topic with 1-2 s backoffs, so five failed deliveries take seconds."""
    suffix = uuid.uuid4().hex[:8]
    topic, dead_topic = f"retrain-dlq-{suffix}", f"retrain-dlq-{suffix}-dead-letter"
    pubsub_emulator.make_topic(topic)
    pubsub_emulator.make_topic(dead_topic)
    dead_subscription = pubsub_emulator.make_pull_subscription(dead_topic, f"{dead_topic}-sub")
    running_stack.create_train_subscription(topic, f"{topic}-to-train", dead_topic, backoff=(1, 2))
    new_data()
    mlflow_server.stop()
    try:
        message_id = publish_retrain(make_publisher(), settings.project, topic,
                                     RetrainRequest(reason="manual", requested_at=utc_now_iso()))
        dead = pubsub_emulator.pull_all(dead_subscription, timeout=300, count=1)
    finally:
        mlflow_server.start()
    assert len(dead) == 1, "the message reached the dead-letter topic"
    assert dead[0].attributes.get("reason") == "manual"
    assert b'"reason": "manual"' in dead[0].data
    failures = function_events(running_stack, "train", event="train.failed", message_id=message_id)
    assert len(failures) == MAX_DELIVERY_ATTEMPTS


