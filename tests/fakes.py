"""In-memory doubles of the storage bucket and the Pub/Sub publisher for the fast unit layer.

`MemoryBucket` keeps GCS' rules that the data-protecting code relies on: every write makes a new
generation, `if_generation_match=0` creates only if absent, a generation number replaces (or
deletes) only that version. tests/core/test_core_store_contract.py runs the same checks on the fake
and on the real GCS emulator, so the fake cannot drift from what the integration tests see.
"""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field

from gasforecast.platform.errors import TransientError
from gasforecast.platform.storage import PreconditionFailed, StoredObject


class MemoryBucket:
    """An `ObjectStore` in a dict: thread-safe, generation preconditions honoured, optional faults."""

    def __init__(self, name: str = "memory-bucket") -> None:
        self.name = name
        self._objects: dict[str, StoredObject] = {}
        self._history: dict[tuple[str, int], StoredObject] = {}
        self._generations = itertools.count(1_700_000_000_000_000)  # microseconds, like GCS
        self._lock = threading.Lock()
        self.fail_next: dict[str, int] = {}  # operation name -> how many calls raise TransientError
        self.writes: list[str] = []  # object names in write order (what a test may assert on)
        self.reads: list[str] = []  # object names in read (download) order, found or not

    def _fault(self, operation: str) -> None:
        left = self.fail_next.get(operation, 0)
        if left:
            self.fail_next[operation] = left - 1
            raise TransientError(f"injected {operation} failure")

    def uri(self, object_name: str) -> str:
        return f"gs://{self.name}/{object_name}"

    def read(self, object_name: str, generation: int | None = None) -> StoredObject | None:
        with self._lock:
            self._fault("read")
            self.reads.append(object_name)
            if generation is not None:
                return self._history.get((object_name, generation))
            return self._objects.get(object_name)

    def generation(self, object_name: str) -> int | None:
        with self._lock:
            self._fault("generation")
            stored = self._objects.get(object_name)
            return None if stored is None else stored.generation

    def write(self, object_name: str, data: bytes, *, content_type: str = "application/octet-stream",
              if_generation_match: int | None = None, metadata: dict[str, str] | None = None) -> int:
        with self._lock:
            self._fault("write")
            self._check(object_name, if_generation_match)
            stored = StoredObject(object_name, bytes(data), next(self._generations), dict(metadata or {}),
                                  content_type)
            self._objects[object_name] = stored
            self._history[(object_name, stored.generation)] = stored
            self.writes.append(object_name)
            return stored.generation

    def delete(self, object_name: str, *, if_generation_match: int | None = None) -> bool:
        with self._lock:
            self._fault("delete")
            if object_name not in self._objects:
                return False
            try:
                self._check(object_name, if_generation_match)
            except PreconditionFailed:
                return False
            del self._objects[object_name]
            return True

    def list_names(self, prefix: str) -> list[str]:
        with self._lock:
            self._fault("list")
            return sorted(name for name in self._objects if name.startswith(prefix))

    def list_folders(self, prefix: str) -> list[str]:
        with self._lock:
            self._fault("list")
            return sorted({prefix + name[len(prefix):].split("/", 1)[0] + "/" for name in self._objects
                           if name.startswith(prefix) and "/" in name[len(prefix):]})

    def _check(self, object_name: str, if_generation_match: int | None) -> None:
        if if_generation_match is None:
            return
        current = self._objects.get(object_name)
        live = 0 if current is None else current.generation
        if live != if_generation_match:
            raise PreconditionFailed(f"{self.uri(object_name)}: generation {live}, expected {if_generation_match}")


@dataclass
class PublishedMessage:
    topic: str
    data: bytes
    attributes: dict[str, str]
    message_id: str


@dataclass
class FakePublisher:
    """Stands in for `pubsub_v1.PublisherClient`: records what was published; `fail_next` injects errors."""

    messages: list[PublishedMessage] = field(default_factory=list)
    fail_next: int = 0
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def topic_path(self, project: str, topic: str) -> str:
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic: str, data: bytes, **attributes: str) -> Future:
        future: Future = Future()
        if self.fail_next:
            self.fail_next -= 1
            future.set_exception(ConnectionError("injected publish failure"))
            return future
        message = PublishedMessage(topic, bytes(data), dict(attributes), str(next(self._ids)))
        self.messages.append(message)
        future.set_result(message.message_id)
        return future
