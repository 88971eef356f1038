"""A private lane through the real emulators for each ingest test: own bucket, topic and subscription."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from gasforecast.messaging import make_publisher
from gasforecast.storage import Bucket


@dataclasses.dataclass
class Lane:
    settings: object
    bucket: Bucket
    publisher: object
    subscription: str
    pubsub: object

    def upload(self, name: str, data: bytes) -> int:
        return self.bucket.write(f"incoming/{name}", data, content_type="text/csv")

    def messages(self, count: int = 10**6, timeout: float = 0.5):
        """Messages published so far (publishing is confirmed before handle_object returns)."""
        return self.pubsub.pull_all(self.subscription, timeout=timeout, count=count)


@pytest.fixture(scope="session")
def ingest_publisher(pubsub_emulator):
    return make_publisher()


@pytest.fixture
def lane(gcs_emulator, pubsub_emulator, settings, ingest_publisher) -> Lane:
    suffix = uuid.uuid4().hex[:10]
    bucket_name = gcs_emulator.make_bucket(f"ingest-{suffix}")
    topic = f"retrain-{suffix}"
    pubsub_emulator.make_topic(topic)
    subscription = pubsub_emulator.make_pull_subscription(topic, f"audit-{suffix}")
    lane_settings = dataclasses.replace(settings, data_bucket=bucket_name, retrain_topic=topic)
    return Lane(lane_settings, Bucket(gcs_emulator.client, bucket_name), ingest_publisher, subscription,
                pubsub_emulator)
