"""A lease on a GCS object: one holder at a time across processes and instances.

Training takes it so that concurrent deliveries (at-least-once, uploads colliding with the hourly
schedule) run one after another and the registry sees one writer. The object is created with
`if_generation_match=0`, so exactly one creator wins; an expired lease (its holder died) is broken
with a generation-matched delete, so two breakers cannot both win.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from gasforecast.logs import get_logger
from gasforecast.storage import Bucket, PreconditionFailed

log = get_logger(__name__)


class LeaseTimeout(Exception):
    """The lease stayed held by someone else for longer than the caller would wait."""


@dataclass
class Lease:
    bucket: Bucket
    object_name: str
    ttl_seconds: float
    holder: str = ""
    _generation: int | None = None

    def __post_init__(self) -> None:
        self.holder = self.holder or uuid.uuid4().hex

    def _try_acquire(self) -> bool:
        body = json.dumps({"holder": self.holder, "expires_at": time.time() + self.ttl_seconds}).encode()
        try:
            self._generation = self.bucket.write(
                self.object_name, body, content_type="application/json", if_generation_match=0
            )
            return True
        except PreconditionFailed:
            pass
        current = self.bucket.read(self.object_name)
        if current is None:
            return False  # released meanwhile: try again at once
        try:
            expired = json.loads(current.data)["expires_at"] < time.time()
        except (ValueError, KeyError, TypeError):
            expired = True  # an unreadable lease protects nothing
        if expired and self.bucket.delete(self.object_name, if_generation_match=current.generation):
            log.warning("lease.broken", lease=self.object_name, previous=current.data.decode(errors="replace"))
        return False

    def acquire(self, wait_seconds: float) -> None:
        """Block until the lease is ours, polling with backoff; `LeaseTimeout` after `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        delay = 0.2
        while not self._try_acquire():
            if time.monotonic() + delay > deadline:
                raise LeaseTimeout(f"{self.bucket.uri(self.object_name)} still held after {wait_seconds:.0f}s")
            time.sleep(delay)
            delay = min(delay * 1.5, 3.0)

    def release(self) -> None:
        if self._generation is not None:
            self.bucket.delete(self.object_name, if_generation_match=self._generation)
            self._generation = None
