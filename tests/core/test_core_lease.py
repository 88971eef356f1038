"""The training lease against the real GCS emulator: one holder at a time, expired leases broken."""

import threading
import time

import pytest

from gasforecast.lease import Lease, LeaseTimeout
from gasforecast.storage import Bucket


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


def test_expired_lease_is_broken(bucket):
    Lease(bucket, "locks/b", ttl_seconds=0.01).acquire(wait_seconds=1)  # its holder "died"
    time.sleep(0.05)  # let the ttl pass; the next holder breaks it
    taker = Lease(bucket, "locks/b", ttl_seconds=60)
    taker.acquire(wait_seconds=2)
    taker.release()


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
