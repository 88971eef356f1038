"""The training lease against the real GCS emulator: one holder at a time, expired leases broken.

The full behaviour (heartbeat, loss, races) is in test_core_lease_memory.py on the in-memory bucket;
these check that the emulator's generation preconditions give the same guarantees.
"""

import threading
import time

import pytest

from gasforecast.platform.storage import Bucket
from gasforecast.training.lease import Lease, LeaseTimeout


@pytest.fixture()
def bucket(gcs_emulator) -> Bucket:
    return Bucket(gcs_emulator.client, gcs_emulator.make_bucket())


def test_second_holder_waits_until_release(bucket):
    first = Lease(bucket, "locks/a", ttl_seconds=60)
    first.acquire(wait_seconds=1)
    second = Lease(bucket, "locks/a", ttl_seconds=60)
    with pytest.raises(LeaseTimeout):
        second.acquire(wait_seconds=0.5)
    first.release()
    second.acquire(wait_seconds=1)
    second.release()
    assert bucket.read("locks/a") is None


def test_expired_lease_is_broken_by_the_next_holder(bucket):
    now = [time.time()]
    Lease(bucket, "locks/b", ttl_seconds=60, holder="killed", clock=lambda: now[0]).acquire(wait_seconds=1)
    now[0] += 61  # its holder died a TTL ago
    taker = Lease(bucket, "locks/b", ttl_seconds=60, holder="next", clock=lambda: now[0])
    taker.acquire(wait_seconds=0)  # the break is the acquisition
    assert b'"next"' in bucket.read("locks/b").data
    taker.release()
    assert bucket.read("locks/b") is None


def test_concurrent_holders_never_overlap(bucket):
    inside, overlaps = [], []

    def work():
        lease = Lease(bucket, "locks/c", ttl_seconds=60)
        lease.acquire(wait_seconds=30)
        inside.append(1)
        if len(inside) > 1:
            overlaps.append(1)
        time.sleep(0.05)
        inside.pop()
        lease.release()

    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == []
