"""The storage rules the pipeline relies on, checked on the in-memory fake and on the GCS emulator.

The same assertions on both keep the fast unit layer honest: whatever the fake allows, the real
emulator allows too.
"""

from __future__ import annotations

import pytest

from gasforecast.platform.storage import Bucket, PreconditionFailed
from tests.fakes import MemoryBucket


@pytest.fixture(params=["memory", pytest.param("emulator", marks=pytest.mark.integration)])
def store(request):
    if request.param == "memory":
        return MemoryBucket()
    emulator = request.getfixturevalue("gcs_emulator")
    return Bucket(emulator.client, emulator.make_bucket())


def test_every_write_makes_a_new_generation_readable_by_number(store) -> None:
    first = store.write("a.txt", b"one")
    second = store.write("a.txt", b"two")
    assert second != first
    assert store.read("a.txt").data == b"two"
    assert store.read("a.txt", generation=second).generation == second
    assert store.generation("a.txt") == second


def test_create_only_refuses_an_existing_object(store) -> None:
    store.write("b.txt", b"one", if_generation_match=0)
    with pytest.raises(PreconditionFailed):
        store.write("b.txt", b"two", if_generation_match=0)
    assert store.read("b.txt").data == b"one"


def test_match_generation_replaces_only_that_version(store) -> None:
    generation = store.write("c.txt", b"one")
    store.write("c.txt", b"two", if_generation_match=generation)
    with pytest.raises(PreconditionFailed):
        store.write("c.txt", b"three", if_generation_match=generation)
    assert store.read("c.txt").data == b"two"


def test_metadata_travels_with_its_version(store) -> None:
    store.write("d.txt", b"x", metadata={"k": "v"}, content_type="text/csv")
    stored = store.read("d.txt")
    assert (stored.metadata, stored.content_type) == ({"k": "v"}, "text/csv")


def test_missing_objects_read_as_none_and_delete_as_false(store) -> None:
    assert store.read("nothing") is None
    assert store.generation("nothing") is None
    assert store.delete("nothing") is False


def test_delete_if_generation_and_listing(store) -> None:
    generation = store.write("dir/e.txt", b"x")
    store.write("dir/f.txt", b"y")
    store.write("other/g.txt", b"z")
    assert store.list_names("dir/") == ["dir/e.txt", "dir/f.txt"]
    assert store.delete("dir/e.txt", if_generation_match=generation) is True
    assert store.read("dir/e.txt") is None


def test_the_fake_refuses_a_delete_of_a_replaced_version() -> None:
    """GCS refuses a delete whose generation no longer matches (fake-gcs-server ignores the condition,
    which is why ingest checks the live generation first; see gasforecast.ingestion.ingest._remove_incoming)."""
    store = MemoryBucket()
    old = store.write("h.txt", b"old")
    store.write("h.txt", b"new")
    assert store.delete("h.txt", if_generation_match=old) is False
    assert store.read("h.txt").data == b"new"


def test_fake_faults_are_transient_errors() -> None:
    from gasforecast.platform.errors import TransientError

    store = MemoryBucket()
    store.fail_next["write"] = 1
    with pytest.raises(TransientError):
        store.write("i.txt", b"x")
    store.write("i.txt", b"x")
