"""Lanes for the ingest tests: an uploads bucket, a data bucket, a publisher and what was published.

`lane` is in memory (tests/fakes.py): the fast unit layer. `emulator_lane` is a private lane through
the real GCS and Pub/Sub emulators (own buckets, topic and subscription) for the checks that must
hold on the real thing too; tests using it are integration tests.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest

from gasforecast.ingestion import ingest
from gasforecast.ingestion.dataset import read_curated
from gasforecast.ingestion.upload_names import report_name, stored_name
from gasforecast.platform.config import Settings
from gasforecast.platform.events import ObjectRef
from gasforecast.platform.messaging import make_publisher
from gasforecast.platform.storage import Bucket, ObjectStore
from tests.fakes import FakePublisher, MemoryBucket

# Fast training-free settings; only the bucket and topic names differ between lanes.
BASE_SETTINGS = Settings(project="gasforecast-test")


@dataclasses.dataclass
class Published:
    data: bytes
    attributes: dict[str, str]
    message_id: str


@dataclasses.dataclass
class Lane:
    settings: Settings
    uploads: ObjectStore
    data: ObjectStore
    publisher: Any
    _published: Any  # () -> list[Published]

    def upload(self, name: str, data: bytes) -> int:
        return self.uploads.write(name, data, content_type="text/csv")

    def handle(self, name: str, generation: int | None, event_id: str = "event-1", size: int | None = None,
               **kwargs) -> ingest.IngestOutcome:
        ref = ObjectRef(self.settings.uploads_bucket, name, generation, event_id, size)
        return ingest.handle_object(self.settings, self.uploads, self.data, self.publisher, ref, **kwargs)

    def ingest(self, name: str, data: bytes, **kwargs) -> ingest.IngestOutcome:
        """Upload, then deliver the finalize event once."""
        return self.handle(name, self.upload(name, data), **kwargs)

    def messages(self) -> list[Published]:
        return self._published()

    def curated(self):
        """(frame, generation) of the curated dataset, or None."""
        stored = self.data.read(self.settings.curated_object)
        return None if stored is None else (read_curated(stored.data), stored.generation)

    def report(self, prefix: str, outcome: ingest.IngestOutcome) -> dict | None:
        stored = self.data.read(report_name(stored_name(prefix, outcome.object_name, outcome.generation)))
        return None if stored is None else json.loads(stored.data)


def _settings(uploads: str, data: str, topic: str = "retrain-requests") -> Settings:
    return dataclasses.replace(BASE_SETTINGS, uploads_bucket=uploads, data_bucket=data, retrain_topic=topic)


@pytest.fixture
def lane() -> Lane:
    publisher = FakePublisher()
    settings = _settings("memory-uploads", "memory-data")
    return Lane(settings, MemoryBucket(settings.uploads_bucket), MemoryBucket(settings.data_bucket), publisher,
                lambda: [Published(m.data, m.attributes, m.message_id) for m in publisher.messages])


@pytest.fixture(scope="session")
def ingest_publisher(pubsub_emulator):
    return make_publisher()


@pytest.fixture
def emulator_lane(gcs_emulator, pubsub_emulator, ingest_publisher) -> Lane:
    suffix = uuid.uuid4().hex[:10]
    uploads = gcs_emulator.make_bucket(f"uploads-{suffix}")
    data = gcs_emulator.make_bucket(f"data-{suffix}")
    topic = f"retrain-{suffix}"
    pubsub_emulator.make_topic(topic)
    subscription = pubsub_emulator.make_pull_subscription(topic, f"audit-{suffix}")
    received: list[Published] = []

    def published() -> list[Published]:  # publishing is confirmed before handle_object returns
        received.extend(Published(m.data, dict(m.attributes), m.message_id)
                        for m in pubsub_emulator.pull_all(subscription, timeout=0.5))
        return list(received)

    return Lane(_settings(uploads, data, topic), Bucket(gcs_emulator.client, uploads),
                Bucket(gcs_emulator.client, data), ingest_publisher, published)
