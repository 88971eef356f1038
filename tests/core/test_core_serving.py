"""The serving pointer (gasforecast.publication.serving): what training publishes at each promotion and the only
thing the public service reads. On the in-memory bucket, which honours GCS' generation preconditions;
tests/train/test_train_registry_real.py and the service's live tests go through the GCS emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gasforecast.publication.bundle import ForecastBundle
from gasforecast.publication.serving import (
    FALLBACK_VERSIONS,
    ChampionPointer,
    PublishedChampions,
    ServingLayout,
    publish,
)
from tests.fakes import MemoryBucket

FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "bundle_v1_schema1.json").read_text())


def bundle(run_id: str, track_record: bool = True) -> ForecastBundle:
    """A bundle as training writes it (the stored fixture), as run `run_id`'s."""
    texts = {"forecast.json": json.dumps({**json.loads(FIXTURE["forecast.json"]), "run_id": run_id}),
             "history.json": FIXTURE["history.json"]}
    if track_record:
        texts["track_record.json"] = FIXTURE["track_record.json"]
    return ForecastBundle.from_artifacts(texts)


def test_published_documents_and_pointer_read_back_as_the_bundle():
    bucket = MemoryBucket("data")
    pointer = ChampionPointer("3", "run-3")
    assert publish(bucket, bundle("run-3"), pointer)
    published = PublishedChampions(bucket)
    assert published.pointer() == pointer
    loaded = published.load(pointer)
    assert (loaded.forecast, loaded.history, loaded.track_record, loaded.version) == (
        bundle("run-3").forecast, bundle("run-3").history, bundle("run-3").track_record, "3")
    document = json.loads(bucket.read("serving/champion.json").data)
    assert document["documents"] == {name: f"gs://data/serving/versions/3/run-3/{name}"
                                     for name in ("forecast.json", "history.json", "track_record.json")}
    assert document["promoted_at"].endswith("+00:00") and document["schema_version"] == 1


def test_a_bundle_without_a_track_record_is_published_and_served_without_one():
    bucket = MemoryBucket()
    publish(bucket, bundle("old", track_record=False), ChampionPointer("1", "old"))
    assert PublishedChampions(bucket).load(ChampionPointer("1", "old")).track_record is None


def test_an_older_promotion_never_replaces_a_newer_pointer_but_a_rollback_does():
    bucket = MemoryBucket()
    publish(bucket, bundle("run-5"), ChampionPointer("5", "run-5"))
    assert not publish(bucket, bundle("run-4"), ChampionPointer("4", "run-4")), "a late, older promotion"
    assert PublishedChampions(bucket).pointer().version == "5"
    assert publish(bucket, bundle("run-4"), ChampionPointer("4", "run-4"), rollback=True)
    assert PublishedChampions(bucket).pointer().version == "4"


def test_a_retried_publication_changes_nothing():
    bucket = MemoryBucket()
    publish(bucket, bundle("run-2"), ChampionPointer("2", "run-2"))
    writes = len(bucket.writes)
    assert publish(bucket, bundle("run-2"), ChampionPointer("2", "run-2"))
    assert len(bucket.writes) == writes


class RacingBucket(MemoryBucket):
    """A bucket where another trainer publishes version 9 just before this one's first pointer write."""

    def write(self, object_name, data, **kwargs):
        if object_name == "serving/champion.json" and not self.list_names("serving/versions/9/"):
            other = json.dumps({"version": "9", "run_id": "run-9"}).encode()
            MemoryBucket.write(self, "serving/versions/9/run-9/forecast.json", b"{}")
            MemoryBucket.write(self, object_name, other)
        return super().write(object_name, data, **kwargs)


def test_a_pointer_written_meanwhile_is_judged_again_not_overwritten():
    bucket = RacingBucket()
    assert not publish(bucket, bundle("run-7"), ChampionPointer("7", "run-7"))
    assert PublishedChampions(bucket).pointer() == ChampionPointer("9", "run-9")


@pytest.mark.parametrize("document", [
    b"not json", b"[]", b'{"version": "1"}', b'{"version": "../1", "run_id": "r"}',
    b'{"version": "1", "run_id": "../../uploads/x"}', b'{"version": "0", "run_id": "r"}',
])
def test_a_malformed_or_hostile_pointer_is_refused(document):
    bucket = MemoryBucket()
    bucket.write("serving/champion.json", document)
    with pytest.raises(ValueError):
        PublishedChampions(bucket).pointer()


def test_a_promotion_writes_a_good_pointer_over_a_damaged_one():
    bucket = MemoryBucket()
    bucket.write("serving/champion.json", b'{"version": "../9"}')
    assert publish(bucket, bundle("run-2"), ChampionPointer("2", "run-2"))
    assert PublishedChampions(bucket).pointer() == ChampionPointer("2", "run-2")


def test_no_pointer_means_no_champion_yet():
    assert PublishedChampions(MemoryBucket()).pointer() is None


def test_fallbacks_are_the_newest_published_versions_first():
    bucket = MemoryBucket()
    for version in range(1, FALLBACK_VERSIONS + 3):
        publish(bucket, bundle(f"run-{version}"), ChampionPointer(str(version), f"run-{version}"))
    bucket.write("serving/versions/x/y/forecast.json", b"{}")  # not something publish wrote
    bucket.write("serving/versions/12/run-12/notes.txt", b"")
    fallbacks = PublishedChampions(bucket).fallbacks()
    assert [p.version for p in fallbacks] == [str(v) for v in range(FALLBACK_VERSIONS + 2, 2, -1)]
    assert fallbacks[0] == ChampionPointer(str(FALLBACK_VERSIONS + 2), f"run-{FALLBACK_VERSIONS + 2}")


def test_another_layout_keeps_its_own_pointer_and_documents():
    bucket = MemoryBucket()
    series = ServingLayout("serving/nbp/")
    publish(bucket, bundle("run-1"), ChampionPointer("1", "run-1"), layout=series)
    assert PublishedChampions(bucket).pointer() is None
    assert PublishedChampions(bucket, series).pointer() == ChampionPointer("1", "run-1")
    assert bucket.list_names("serving/nbp/versions/1/run-1/") != []


def test_an_unchanged_pointer_is_not_downloaded_again_and_a_moved_one_is_picked_up():
    """The service re-checks the pointer every few seconds: a metadata call, and a download only when
    the pointer's generation moved (a promotion, a rollback to an older version, a removal)."""
    bucket = MemoryBucket()
    publish(bucket, bundle("run-1"), ChampionPointer("1", "run-1"))
    published = PublishedChampions(bucket)
    pointer_reads = lambda: bucket.reads.count(ServingLayout().pointer)  # noqa: E731
    reads = pointer_reads()  # publish itself reads the pointer it replaces
    assert [published.pointer() for _ in range(3)] == [ChampionPointer("1", "run-1")] * 3
    assert pointer_reads() == reads + 1, "an unchanged generation costs no download"
    publish(bucket, bundle("run-2"), ChampionPointer("2", "run-2"))
    reads = pointer_reads()
    assert published.pointer() == ChampionPointer("2", "run-2") and pointer_reads() == reads + 1
    publish(bucket, bundle("run-1"), ChampionPointer("1", "run-1"), rollback=True)
    reads = pointer_reads()
    assert [published.pointer() for _ in range(2)] == [ChampionPointer("1", "run-1")] * 2, "a rollback moves it too"
    assert pointer_reads() == reads + 1
    assert bucket.delete(ServingLayout().pointer)
    assert published.pointer() is None
