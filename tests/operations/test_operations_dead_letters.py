"""Replaying dead-lettered retrain messages (gasforecast.platform.dead_letters) on the real Pub/Sub emulator."""

from __future__ import annotations

from devstack.pubsub_rest import pull
from gasforecast.platform.dead_letters import Replay, replay_dead_letters, republishable_attributes
from gasforecast.platform.messaging import RetrainRequest, publish

DEAD_LETTER_ATTRIBUTES = {
    "CloudPubSubDeadLetterSourceDeliveryCount": "5",
    "CloudPubSubDeadLetterSourceSubscription": "train-push",
    "CloudPubSubDeadLetterSourceSubscriptionProject": "gasforecast-test",
    "CloudPubSubDeadLetterSourceTopicPublishTime": "2026-11-26T12:00:00.000Z",
}


def _request(generation: str) -> RetrainRequest:
    return RetrainRequest(
        reason="upload",
        requested_at="2026-11-26T12:00:00Z",
        dataset="gs://data/curated/history.csv",
        generation=generation,
        source=f"gs://uploads/prices-{generation}.csv",
    )


def _dead_letter(publisher, channels, requests: list[RetrainRequest]) -> None:
    for request in requests:
        attributes = {**request.attributes(), **DEAD_LETTER_ATTRIBUTES}
        publish(publisher, channels.project, channels.dead_letter_topic, request.to_bytes(), attributes)


def _replay(subscriber, publisher, channels, topic: str | None = None, **options):
    replay = Replay(channels.project, channels.dead_letter_subscription, topic or channels.retrain_topic,
                    pull_timeout=1.0, **options)
    return replay_dead_letters(subscriber, publisher, replay)


def _path(channels, subscription: str) -> str:
    return f"projects/{channels.project}/subscriptions/{subscription}"


def test_republishable_attributes_drop_only_what_pubsub_added():
    attributes = {"reason": "upload", "generation": "7", **DEAD_LETTER_ATTRIBUTES}
    assert republishable_attributes(attributes) == {"reason": "upload", "generation": "7"}


def test_replay_republishes_data_and_own_attributes_then_acknowledges(
    pubsub_emulator, channels, publisher, subscriber
):
    requests = [_request(str(generation)) for generation in (101, 102, 103)]
    _dead_letter(publisher, channels, requests)

    outcomes = _replay(subscriber, publisher, channels)

    assert [outcome.status for outcome in outcomes] == ["replayed"] * 3
    received = pubsub_emulator.pull_all(channels.retrain_check_subscription, timeout=10, count=3)
    by_generation = {message.attributes["generation"]: message for message in received}
    assert sorted(by_generation) == ["101", "102", "103"]
    for request in requests:
        message = by_generation[request.generation]
        assert message.data == request.to_bytes()
        assert message.attributes == {"reason": "upload", "generation": request.generation}
    assert sorted(message.message_id for message in received) == sorted(o.replayed_as for o in outcomes)
    # Acknowledged: nothing is left to replay.
    assert _replay(subscriber, publisher, channels) == []


def test_replays_a_message_that_pubsub_itself_dead_lettered(pubsub_emulator, channels, publisher, subscriber):
    source_topic = f"{channels.retrain_topic}-source"
    pubsub_emulator.make_topic(source_topic)
    source_subscription = subscriber.subscription_path(channels.project, f"{source_topic}-push")
    subscriber.create_subscription(request={
        "name": source_subscription,
        "topic": f"projects/{channels.project}/topics/{source_topic}",
        "ack_deadline_seconds": 10,
        "dead_letter_policy": {
            "dead_letter_topic": f"projects/{channels.project}/topics/{channels.dead_letter_topic}",
            "max_delivery_attempts": 5,
        },
    })
    request = _request("201")
    publish(publisher, channels.project, source_topic, request.to_bytes(), request.attributes())
    # Fail every delivery (nack) until Pub/Sub stops delivering: the message has been dead-lettered.
    for _delivery in range(10):
        received = subscriber.pull(subscription=source_subscription, max_messages=10, timeout=2).received_messages
        if not received:
            break
        subscriber.modify_ack_deadline(
            subscription=source_subscription, ack_ids=[m.ack_id for m in received], ack_deadline_seconds=0
        )
    else:
        raise AssertionError("the emulator kept delivering past max_delivery_attempts=5")

    (outcome,) = _replay(subscriber, publisher, channels)

    assert outcome.status == "replayed"
    (message,) = pubsub_emulator.pull_all(channels.retrain_check_subscription, timeout=10, count=1)
    assert message.data == request.to_bytes()
    assert message.attributes == request.attributes()


def test_dry_run_lists_messages_and_leaves_them_for_a_real_replay(pubsub_emulator, channels, publisher, subscriber):
    _dead_letter(publisher, channels, [_request("301"), _request("302")])

    listed = _replay(subscriber, publisher, channels, dry_run=True)

    assert [outcome.status for outcome in listed] == ["listed", "listed"]
    assert {outcome.attributes["generation"] for outcome in listed} == {"301", "302"}
    assert pull(pubsub_emulator.host, _path(channels, channels.retrain_check_subscription)) == []
    replayed = _replay(subscriber, publisher, channels)
    assert sorted(o.message_id for o in replayed) == sorted(o.message_id for o in listed)
    assert len(pubsub_emulator.pull_all(channels.retrain_check_subscription, timeout=10, count=2)) == 2


def test_max_messages_bounds_one_run(channels, publisher, subscriber):
    _dead_letter(publisher, channels, [_request(str(generation)) for generation in (401, 402, 403)])

    first = _replay(subscriber, publisher, channels, max_messages=2)
    rest = _replay(subscriber, publisher, channels, max_messages=2)

    assert [len(first), len(rest)] == [2, 1]
    assert {o.status for o in first + rest} == {"replayed"}


def test_message_that_fails_to_republish_stays_on_the_dead_letter_subscription(
    pubsub_emulator, channels, publisher, subscriber
):
    _dead_letter(publisher, channels, [_request("501")])

    (failed,) = _replay(subscriber, publisher, channels, topic=f"{channels.retrain_topic}-missing")

    assert failed.status == "failed"
    assert "does not exist" in failed.error
    (retried,) = _replay(subscriber, publisher, channels)
    assert (retried.status, retried.message_id) == ("replayed", failed.message_id)
    (message,) = pubsub_emulator.pull_all(channels.retrain_check_subscription, timeout=10, count=1)
    assert message.attributes["generation"] == "501"
