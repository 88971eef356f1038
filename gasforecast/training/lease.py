"""A lease on a storage object: one holder at a time across processes and instances.

Training takes it so that concurrent deliveries (at-least-once, uploads colliding with the hourly
schedule) run one after another and the registry sees one writer. The object is created with
`if_generation_match=0`, so exactly one creator wins. While the holder works, a heartbeat pushes the
expiry `ttl_seconds` ahead every `ttl_seconds / 4`, so the TTL bounds how long a *dead* holder blocks
the others, not how long a training may take. The heartbeat stops after `max_hold_seconds`: a
holder stuck past the end of its request (whose heartbeat thread would otherwise renew for it as long
as the instance lives) blocks the others at most a TTL longer. An expired lease is broken by replacing
exactly the generation that was judged expired, so breaking it is acquiring it and two breakers cannot
both win.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from gasforecast.platform.errors import TransientError
from gasforecast.platform.logs import get_logger
from gasforecast.platform.storage import ObjectStore, PreconditionFailed

log = get_logger(__name__)

HEARTBEATS_PER_TTL = 4


class LeaseTimeout(TransientError):
    """The lease stayed held by someone else for longer than the caller would wait."""


class LeaseLost(TransientError):
    """Our lease expired or was broken: another holder may be at work, so stop writing."""


class Lease:
    """`with lease.held(wait_seconds):` runs a block as the only holder, renewing the lease meanwhile.

    `clock` is wall time (seconds since the epoch): expiry times are compared across machines. Tests
    pass a fake clock to expire a lease without waiting.
    """

    def __init__(self, bucket: ObjectStore, object_name: str, ttl_seconds: float, *, holder: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if ttl_seconds <= 0:
            raise ValueError("a lease needs a positive TTL")
        self.bucket = bucket
        self.object_name = object_name
        self.ttl_seconds = ttl_seconds
        self.holder = holder or uuid.uuid4().hex
        self._clock = clock
        self._lock = threading.Lock()  # the heartbeat thread and the holder both write the object
        self._generation: int | None = None
        self._expires_at = 0.0
        self._lost = False

    @property
    def uri(self) -> str:
        return self.bucket.uri(self.object_name)

    def _write(self, if_generation_match: int) -> None:
        expires_at = self._clock() + self.ttl_seconds
        body = json.dumps({"holder": self.holder, "expires_at": expires_at}).encode()
        self._generation = self.bucket.write(self.object_name, body, content_type="application/json",
                                             if_generation_match=if_generation_match)
        self._expires_at = expires_at
        self._lost = False

    def _try_acquire(self) -> bool:
        with self._lock:
            try:
                self._write(if_generation_match=0)
                return True
            except PreconditionFailed:
                pass
            current = self.bucket.read(self.object_name)
            if current is None:
                return False  # released meanwhile: the caller tries again at once
            try:
                expired = float(json.loads(current.data)["expires_at"]) < self._clock()
            except (ValueError, KeyError, TypeError):
                expired = True  # an unreadable lease protects nothing
            if not expired:
                return False
            try:
                self._write(if_generation_match=current.generation)
            except PreconditionFailed:
                return False  # another breaker (or a late renewal) came first
            log.warning("lease.broken", lease=self.uri, holder=self.holder,
                        previous=current.data.decode(errors="replace")[:500])
            return True

    def acquire(self, wait_seconds: float) -> None:
        """Block until the lease is ours, polling with backoff; `LeaseTimeout` after `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        delay = 0.2
        while not self._try_acquire():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LeaseTimeout(f"{self.uri} still held after {wait_seconds:.0f}s")
            time.sleep(min(delay, remaining))  # the last try comes at the deadline itself
            delay = min(delay * 1.5, 3.0)

    def renew(self) -> bool:
        """Push our expiry a TTL ahead; False (and the lease counts as lost) if someone else holds it.

        Raises `TransientError` when storage is unreachable: the heartbeat tries again next beat.
        """
        with self._lock:
            if self._generation is None or self._lost:
                return False
            try:
                self._write(if_generation_match=self._generation)
                return True
            except PreconditionFailed:
                self._lost = True
                log.error("lease.lost", lease=self.uri, holder=self.holder)
                return False

    def ensure_held(self) -> None:
        """Raise `LeaseLost` unless the lease is still ours and unexpired: call before a write that
        must have a single writer (registering a model version, moving the champion alias)."""
        if self._generation is None or self._lost or self._clock() >= self._expires_at:
            raise LeaseLost(f"{self.uri} is no longer held by {self.holder}")

    def release(self) -> None:
        with self._lock:
            if self._generation is not None and not self._lost:
                self.bucket.delete(self.object_name, if_generation_match=self._generation)
            self._generation = None

    def _heartbeat(self, stop: threading.Event, renew_until: float) -> None:
        interval = self.ttl_seconds / HEARTBEATS_PER_TTL
        while not stop.wait(interval):
            if time.monotonic() >= renew_until:
                log.error("lease.hold_limit", lease=self.uri, holder=self.holder,
                          detail="held for longer than any request may last: renewals stop, the lease expires")
                return
            try:
                if not self.renew():
                    return
            except Exception as exc:  # storage hiccup: the next beat tries again, well before expiry
                log.warning("lease.renew_failed", lease=self.uri, holder=self.holder, error=str(exc))

    @contextmanager
    def held(self, wait_seconds: float, max_hold_seconds: float = math.inf) -> Iterator[Lease]:
        """Acquire (waiting up to `wait_seconds`), renew every TTL/4 while the block runs but for no
        longer than `max_hold_seconds`, release."""
        self.acquire(wait_seconds)
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(stop, time.monotonic() + max_hold_seconds),
                                name=f"lease-heartbeat-{self.holder[:8]}", daemon=True)
        beat.start()
        try:
            yield self
        finally:
            stop.set()
            beat.join()
            self.release()
