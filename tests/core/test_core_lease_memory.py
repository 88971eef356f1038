"""The training lease on the in-memory bucket: acquire, wait, expiry, break, heartbeat, loss, release.

Unit tests (no emulator): expiry is driven by a fake wall clock, the heartbeat by short real TTLs.
test_core_lease.py runs the essentials against the real GCS emulator.
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest

from devstack.processes import wait_for
from gasforecast.platform.storage import StoredObject
from gasforecast.training.lease import Lease, LeaseLost, LeaseTimeout
from tests.fakes import MemoryBucket

NAME = "locks/training.lease"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def bucket() -> MemoryBucket:
    return MemoryBucket("data")


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


def holder_of(bucket: MemoryBucket) -> str | None:
    stored = bucket.read(NAME)
    return None if stored is None else json.loads(stored.data)["holder"]


def test_acquire_writes_the_holder_and_release_removes_it(bucket, clock):
    lease = Lease(bucket, NAME, ttl_seconds=120, holder="a", clock=clock)
    lease.acquire(wait_seconds=0)
    assert holder_of(bucket) == "a"
    assert json.loads(bucket.read(NAME).data)["expires_at"] == clock.now + 120
    lease.ensure_held()
    lease.release()
    assert bucket.read(NAME) is None


def test_a_second_holder_waits_and_gives_up_after_its_wait(bucket, clock):
    Lease(bucket, NAME, ttl_seconds=120, holder="a", clock=clock).acquire(0)
    began = time.monotonic()
    with pytest.raises(LeaseTimeout):
        Lease(bucket, NAME, ttl_seconds=120, holder="b", clock=clock).acquire(wait_seconds=0.5)
    assert 0.3 < time.monotonic() - began < 5
    assert holder_of(bucket) == "a"


def test_a_waiting_holder_gets_the_lease_once_it_is_released(bucket, clock):
    first = Lease(bucket, NAME, ttl_seconds=120, holder="a", clock=clock)
    first.acquire(0)
    second = Lease(bucket, NAME, ttl_seconds=120, holder="b", clock=clock)
    waiter = threading.Thread(target=second.acquire, args=(30,))
    waiter.start()
    wait_for(lambda: len(bucket.writes) >= 1 and waiter.is_alive(), 10, "the second holder to wait")
    first.release()
    waiter.join(30)
    assert holder_of(bucket) == "b"


def test_breaking_an_expired_lease_is_acquiring_it(bucket, clock, caplog):
    caplog.set_level(logging.WARNING)
    Lease(bucket, NAME, ttl_seconds=120, holder="killed", clock=clock).acquire(0)  # then the trainer dies
    clock.now += 121
    taker = Lease(bucket, NAME, ttl_seconds=120, holder="next", clock=clock)
    began = time.monotonic()
    taker.acquire(wait_seconds=0)  # no second round: the break itself is the acquisition
    assert time.monotonic() - began < 1
    assert holder_of(bucket) == "next"
    taker.ensure_held()
    (broken,) = [r.fields for r in caplog.records if r.fields.get("event") == "lease.broken"]
    assert "killed" in broken["previous"]


def test_an_unexpired_lease_is_not_broken(bucket, clock):
    Lease(bucket, NAME, ttl_seconds=120, holder="busy", clock=clock).acquire(0)
    clock.now += 119
    with pytest.raises(LeaseTimeout):
        Lease(bucket, NAME, ttl_seconds=120, holder="next", clock=clock).acquire(wait_seconds=0)
    assert holder_of(bucket) == "busy"


def test_an_unreadable_lease_is_broken(bucket, clock):
    bucket.write(NAME, b"{not json", content_type="application/json")
    Lease(bucket, NAME, ttl_seconds=120, holder="next", clock=clock).acquire(0)
    assert holder_of(bucket) == "next"


class StaleReads(MemoryBucket):
    """A bucket whose reads of the lease return a version captured earlier (a breaker that lost a race)."""

    stale: StoredObject | None = None

    def read(self, object_name: str, generation: int | None = None) -> StoredObject | None:
        return self.stale if self.stale is not None else super().read(object_name, generation)


def test_two_breakers_of_one_expired_lease_cannot_both_win(clock):
    bucket = StaleReads("data")
    Lease(bucket, NAME, ttl_seconds=120, holder="killed", clock=clock).acquire(0)
    clock.now += 121
    bucket.stale = bucket.read(NAME)  # both breakers saw this expired version
    first = Lease(bucket, NAME, ttl_seconds=120, holder="first", clock=clock)
    first.acquire(0)
    second = Lease(bucket, NAME, ttl_seconds=120, holder="second", clock=clock)
    with pytest.raises(LeaseTimeout):
        second.acquire(0)  # its replace of the expired generation fails: the first breaker changed it
    bucket.stale = None
    assert holder_of(bucket) == "first"


def test_a_killed_holders_lease_is_taken_by_the_next_delivery_within_the_ttl(bucket):
    ttl = 0.6
    Lease(bucket, NAME, ttl_seconds=ttl, holder="killed").acquire(0)  # acquired, never renewed
    began = time.monotonic()
    Lease(bucket, NAME, ttl_seconds=ttl, holder="next").acquire(wait_seconds=30)
    assert holder_of(bucket) == "next"
    assert time.monotonic() - began < ttl + 10  # polling adds at most a few seconds on a loaded machine


def test_the_heartbeat_keeps_a_long_training_s_lease_alive(bucket):
    ttl = 0.4
    lease = Lease(bucket, NAME, ttl_seconds=ttl, holder="trainer")
    with lease.held(wait_seconds=0):
        generation = bucket.generation(NAME)
        wait_for(lambda: bucket.generation(NAME) != generation, 10, "a heartbeat renewal")
        deadline = time.monotonic() + 3 * ttl  # three TTLs of training: the lease must never expire
        while time.monotonic() < deadline:
            with pytest.raises(LeaseTimeout):
                Lease(bucket, NAME, ttl_seconds=ttl, holder="other").acquire(wait_seconds=0)
            lease.ensure_held()
            time.sleep(0.05)  # sampling the holder over time, not awaiting a condition
        assert holder_of(bucket) == "trainer"
    assert bucket.read(NAME) is None


def test_a_holder_stuck_past_its_request_stops_renewing_and_is_taken_over(bucket, caplog):
    """Issue 20.6: a heartbeat thread outliving its request must not keep the lease for ever."""
    ttl = 0.4
    lease = Lease(bucket, NAME, ttl_seconds=ttl, holder="stuck")
    caplog.set_level(logging.INFO)
    with lease.held(wait_seconds=0, max_hold_seconds=2 * ttl):
        generation = bucket.generation(NAME)
        wait_for(lambda: bucket.generation(NAME) != generation, 10, "a renewal within the hold limit")
        Lease(bucket, NAME, ttl_seconds=ttl, holder="next").acquire(wait_seconds=30)  # the block is still running
        assert holder_of(bucket) == "next"
        with pytest.raises(LeaseLost):
            lease.ensure_held()
    assert holder_of(bucket) == "next", "the stuck holder's exit does not release the new holder's lease"
    assert [r.fields["holder"] for r in caplog.records if r.getMessage() == "lease.hold_limit"] == ["stuck"]


def test_renewal_survives_a_storage_error(bucket):
    lease = Lease(bucket, NAME, ttl_seconds=0.4, holder="trainer")
    with lease.held(wait_seconds=0):
        bucket.fail_next["write"] = 1
        generation = bucket.generation(NAME)
        wait_for(lambda: bucket.generation(NAME) != generation and not bucket.fail_next["write"], 10,
                 "a renewal after the failed one")
        lease.ensure_held()


def test_a_lease_taken_over_is_lost_and_never_released_from_under_the_new_holder(bucket, clock):
    lease = Lease(bucket, NAME, ttl_seconds=120, holder="old", clock=clock)
    lease.acquire(0)
    clock.now += 121  # the old holder stalled past its TTL
    Lease(bucket, NAME, ttl_seconds=120, holder="new", clock=clock).acquire(0)
    assert lease.renew() is False
    with pytest.raises(LeaseLost):
        lease.ensure_held()
    lease.release()
    assert holder_of(bucket) == "new"


def test_an_expired_lease_is_not_held_even_before_anyone_breaks_it(bucket, clock):
    lease = Lease(bucket, NAME, ttl_seconds=120, holder="a", clock=clock)
    lease.acquire(0)
    clock.now += 120
    with pytest.raises(LeaseLost):
        lease.ensure_held()
    assert lease.renew() is True  # nobody took it: renewing makes it ours again
    lease.ensure_held()
