"""Fresh Pub/Sub topics per test on the shared emulator, so tests never see each other's messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class RetrainChannels:
    """A retrain topic with a pull subscription to inspect it, and its dead-letter topic + subscription."""

    project: str
    retrain_topic: str
    retrain_check_subscription: str
    dead_letter_topic: str
    dead_letter_subscription: str


@pytest.fixture
def channels(pubsub_emulator) -> RetrainChannels:
    retrain_topic = f"ops-retrain-{uuid.uuid4().hex[:8]}"
    dead_letter_topic = f"{retrain_topic}-dead-letter"
    for topic in (retrain_topic, dead_letter_topic):
        pubsub_emulator.make_topic(topic)
    pubsub_emulator.make_pull_subscription(retrain_topic, f"{retrain_topic}-check")
    pubsub_emulator.make_pull_subscription(dead_letter_topic, f"{dead_letter_topic}-sub")
    return RetrainChannels(
        project=pubsub_emulator.project,
        retrain_topic=retrain_topic,
        retrain_check_subscription=f"{retrain_topic}-check",
        dead_letter_topic=dead_letter_topic,
        dead_letter_subscription=f"{dead_letter_topic}-sub",
    )


@pytest.fixture
def publisher(pubsub_emulator):
    from gasforecast.platform.messaging import make_publisher

    return make_publisher()


@pytest.fixture
def subscriber(pubsub_emulator):
    from gasforecast.platform.messaging import make_subscriber

    return make_subscriber()
