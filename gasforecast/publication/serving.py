"""The serving pointer: what the public service reads instead of the model registry.

Why: MLflow has no login, so whatever can reach it can move the `champion` alias. The public service
therefore has no network path to it. At every promotion training publishes, in the data bucket, the
champion's bundle documents (once per version: a version's bundle never changes) and then a small
pointer naming the version, its run, the documents' URIs and when it was promoted. The service holds
a read-only role on that prefix and nothing else.

Layout, under a `ServingLayout` prefix (`serving/` for the default series, `serving/series/<id>/` for a
declared one: `layout_for` from a series' settings, `ServingLayout.of_series` from its id; docs/series.md):

    champion.json                                   the pointer (docs/architecture.md#serving-pointer)
    versions/<version>/<run_id>/forecast.json       the bundle documents of each published version
    versions/<version>/<run_id>/history.json
    versions/<version>/<run_id>/track_record.json   when the run has one

The pointer is replaced with a generation precondition, and a promotion never replaces a pointer to
a newer version (registry versions only grow), so a slow or retried older promotion cannot undo a
newer one; only a rollback (`gasforecast rollback`) points back on purpose.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from gasforecast.platform.config import DEFAULT_SERIES, Settings, in_series, is_series_id
from gasforecast.platform.errors import TransientError
from gasforecast.platform.logs import get_logger
from gasforecast.platform.storage import ObjectStore, PreconditionFailed
from gasforecast.publication.bundle import OPTIONAL_ARTIFACTS, REQUIRED_ARTIFACTS, ForecastBundle

log = get_logger(__name__)

POINTER_SCHEMA_VERSION = 1
# A fresh service instance whose champion is not servable tries this many of the newest published
# versions (each costs two or three small reads inside its start-up timeout).
FALLBACK_VERSIONS = 10
# Concurrent writers of the pointer: at most this many lost races before giving up (redelivery retries).
_POINTER_ATTEMPTS = 5
# What a version and a run id may look like (the pointer is read by the public service: hostile input).
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SERIES_PREFIX = "serving/series/"  # where the other series' serving areas are (`in_series`, tested to agree)


@dataclass(frozen=True)
class ChampionPointer:
    """One published version and the run that holds its bundle."""

    version: str
    run_id: str

    def __post_init__(self) -> None:
        if not (_VERSION.fullmatch(self.version) and _RUN_ID.fullmatch(self.run_id)):
            raise ValueError(f"not a version and run id: {self.version!r}, {self.run_id!r}")


@dataclass(frozen=True)
class ServingLayout:
    """Where one served series' pointer and documents live in the bucket."""

    prefix: str = "serving/"

    @classmethod
    def of_series(cls, series: str) -> ServingLayout:
        """The layout of a series; `ValueError` for anything that is not a series id."""
        if not is_series_id(series):
            raise ValueError(f"not a series id: {series[:40]!r}")
        return cls(in_series(cls.prefix, series))

    @property
    def pointer(self) -> str:
        return f"{self.prefix}champion.json"

    @property
    def versions(self) -> str:
        return f"{self.prefix}versions/"

    def document(self, pointer: ChampionPointer, name: str) -> str:
        return f"{self.versions}{pointer.version}/{pointer.run_id}/{name}"


def layout_for(settings: Settings) -> ServingLayout:
    """The serving prefix of the settings' series (docs/series.md)."""
    return ServingLayout(prefix=f"{settings.area('serving')}/")


def _read_pointer(bucket: ObjectStore, layout: ServingLayout) -> tuple[ChampionPointer | None, int]:
    """The published pointer and its generation (0 when there is none, the create-only precondition)."""
    stored = bucket.read(layout.pointer)
    if stored is None:
        return None, 0
    try:
        document = json.loads(stored.data)
        pointer = ChampionPointer(str(document["version"]), str(document["run_id"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{bucket.uri(layout.pointer)} is not a serving pointer: {exc}") from exc
    return pointer, stored.generation


def publish(bucket: ObjectStore, bundle: ForecastBundle, pointer: ChampionPointer, *, rollback: bool = False,
            layout: ServingLayout = ServingLayout()) -> bool:
    """Publish `bundle` as `pointer`'s documents and point the service at it; False (and nothing
    pointed) when the published pointer already names a newer version, unless this is a `rollback`.
    Repeatable: a retry finds the documents in place and the pointer already written."""
    texts = bundle.to_artifacts()
    for name, text in texts.items():
        # PreconditionFailed: published by an earlier attempt; a version's documents never change
        with contextlib.suppress(PreconditionFailed):
            bucket.write(layout.document(pointer, name), text.encode("utf-8"), content_type="application/json",
                         if_generation_match=0)
    for _ in range(_POINTER_ATTEMPTS):
        try:
            current, generation = _read_pointer(bucket, layout)
        except ValueError as exc:  # damaged: training owns the pointer, so it writes a good one over it
            log.warning("serving.pointer_replaced", model_version=pointer.version, error=str(exc))
            current, generation = None, bucket.generation(layout.pointer) or 0
        if current == pointer:
            return True
        if current is not None and int(current.version) > int(pointer.version) and not rollback:
            log.warning("serving.pointer_newer", model_version=pointer.version, published_version=current.version)
            return False
        document = {
            "schema_version": POINTER_SCHEMA_VERSION,
            "version": pointer.version,
            "run_id": pointer.run_id,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "documents": {name: bucket.uri(layout.document(pointer, name)) for name in texts},
        }
        try:
            bucket.write(layout.pointer, json.dumps(document).encode("utf-8"), content_type="application/json",
                         if_generation_match=generation)
        except PreconditionFailed:
            continue  # another promotion wrote first: judge again against what it wrote
        log.info("serving.published", model_version=pointer.version, run_id=pointer.run_id,
                 previous_version=current.version if current else None, rollback=rollback)
        return True
    raise TransientError(f"{bucket.uri(layout.pointer)} kept changing under {_POINTER_ATTEMPTS} attempts")


class PublishedChampions:
    """The service's champion source: the pointer and the documents it names, read-only."""

    def __init__(self, bucket: ObjectStore, layout: ServingLayout = ServingLayout()) -> None:
        self._bucket = bucket
        self._layout = layout
        # The last pointer read, with its generation. The service re-checks the pointer every few
        # seconds and it rarely moves: a metadata call that finds the same generation is enough. The
        # check runs in a serving worker beside its requests, so half the HTTP calls is half the time
        # it holds the GIL (about 1.5 instead of 3 ms of CPU per check, measured on the emulator).
        self._last: tuple[int, ChampionPointer] | None = None

    def pointer(self) -> ChampionPointer | None:
        """The published champion; downloads the pointer only when its generation moved since the last read."""
        last = self._last
        if last is not None and self._bucket.generation(self._layout.pointer) == last[0]:
            return last[1]
        pointer, generation = _read_pointer(self._bucket, self._layout)
        self._last = None if pointer is None else (generation, pointer)
        return pointer

    def load(self, pointer: ChampionPointer) -> ForecastBundle:
        texts = {}
        for name in (*REQUIRED_ARTIFACTS, *OPTIONAL_ARTIFACTS):
            stored = self._bucket.read(self._layout.document(pointer, name))
            if stored is not None:
                texts[name] = stored.data.decode("utf-8")
        return ForecastBundle.from_artifacts(texts, version=pointer.version)

    def fallbacks(self) -> list[ChampionPointer]:
        """The newest published versions, newest first, for a champion whose bundle is not servable."""
        found = set()
        for name in self._bucket.list_names(self._layout.versions):
            parts = name[len(self._layout.versions):].split("/")
            if len(parts) == 3 and parts[2] == REQUIRED_ARTIFACTS[0]:
                try:
                    found.add(ChampionPointer(parts[0], parts[1]))
                except ValueError:
                    continue  # not an object this module wrote
        return sorted(found, key=lambda p: int(p.version), reverse=True)[:FALLBACK_VERSIONS]


def published_series(bucket: ObjectStore) -> list[str]:
    """The series with a serving area, the default first: one listing of folder names, not of documents."""
    found = [folder[len(SERIES_PREFIX):-1] for folder in bucket.list_folders(SERIES_PREFIX)]
    return [DEFAULT_SERIES, *sorted(s for s in found if is_series_id(s) and s != DEFAULT_SERIES)]


class PublishedSeries:
    """The service's view of every series: which have a serving area, and each one's champion source."""

    def __init__(self, bucket: ObjectStore) -> None:
        self._bucket = bucket

    def list_series(self) -> list[str]:
        return published_series(self._bucket)

    def source(self, series: str) -> PublishedChampions:
        return PublishedChampions(self._bucket, ServingLayout.of_series(series))
