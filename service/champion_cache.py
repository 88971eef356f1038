"""The served champion, kept in memory and refreshed without ever blocking a request.

Why this shape: on Cloud Run a container only gets CPU while it handles a request, so a background
loop that polls would be throttled and unreliable. Instead:

1. `start()` loads the champion once at start-up, blocking but bounded by a timeout, so the first
   request already has it (cold start = process start + one pointer read + one download).
2. Every request calls `current()`, which returns the snapshot immediately. When the snapshot's last
   check is older than `refresh_seconds`, `current()` also starts a single refresh thread (never more
   than one at a time) and does not wait for it.
3. The refresh is a cheap check of the serving pointer (`gasforecast.publication.serving`, which training writes
   at each promotion): one metadata call, and a download of the pointer only when its generation
   moved; only when the pointer moved does it download the new bundle and `build` the view (all
   JSON bodies and the SVG page are precomputed there, once per version).
4. When Cloud Storage is unreachable the refresh records the error and the previous champion keeps
   being served; `/readyz` reports "degraded" until a refresh succeeds again.
5. A bundle that fails promotion sanity (`gasforecast.publication.sanity`: non-finite or non-positive points, an
   absurdly wide band) is never served. The cache remembers every refused version (a published
   version's bundle never changes), so it does not download it again; a failed download is retried.
   A running instance keeps its champion; a fresh instance falls back to the newest servable
   published version. Either way `/readyz` says "degraded" and why; only when no version
   is servable does the instance have nothing to serve.

A newly promoted champion is therefore served after at most `refresh_seconds` plus one download,
counted from the first request after the pointer moved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar

from gasforecast.platform.logs import get_logger
from gasforecast.publication import sanity
from gasforecast.publication.bundle import ForecastBundle
from gasforecast.publication.serving import ChampionPointer

log = get_logger(__name__)

View = TypeVar("View")


class ChampionSource(Protocol):
    """Where champions come from: production reads the serving pointer (`gasforecast.publication.serving`), tests a fake."""

    def pointer(self) -> ChampionPointer | None: ...

    def load(self, pointer: ChampionPointer) -> ForecastBundle: ...

    def fallbacks(self) -> list[ChampionPointer]:
        """Published versions to try, newest first, when the champion's bundle is not servable."""
        ...


class SeriesSources(Protocol):
    """Where the other series come from: production lists the data bucket's serving areas, tests a fake."""

    def list_series(self) -> list[str]: ...

    def source(self, series: str) -> ChampionSource: ...


@dataclass(frozen=True)
class Snapshot(Generic[View]):
    """What the service knows at one moment; replaced whole, so readers never see a half update."""

    view: View | None
    pointer: ChampionPointer | None
    checked_at: float  # monotonic time of the last refresh attempt (successful or not)
    last_success_at: datetime | None  # wall time of the last refresh that read the pointer
    last_error: str | None  # why the last refresh failed, fit to show publicly; None when it succeeded
    refused: ChampionPointer | None = None  # the pointer's version when its bundle failed sanity

    @property
    def degraded(self) -> bool:
        return self.view is not None and self.last_error is not None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ChampionCache(Generic[View]):
    """Serves the current champion's view and refreshes it on demand (see the module docstring)."""

    def __init__(
        self,
        source: ChampionSource,
        build: Callable[[ForecastBundle], View],
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._build = build
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._refresher: threading.Thread | None = None
        self._snapshot: Snapshot[View] = Snapshot(None, None, float("-inf"), None, "not loaded yet")
        # Versions whose bundle failed sanity: a registered version's bundle never changes, so they are
        # not downloaded again. Only refusals are remembered; a failed download is retried.
        self._unservable: set[ChampionPointer] = set()

    def start(self, timeout: float) -> bool:
        """Load the champion before serving, waiting at most `timeout` seconds; True when one is there.

        If the load takes longer it goes on in the background and its result is served when ready.
        """
        self._spawn_refresh()
        self.wait_idle(timeout)
        return self._snapshot.view is not None

    def current(self) -> Snapshot[View]:
        """The snapshot to serve now; starts a background refresh when it is due. Never blocks."""
        snapshot = self._snapshot
        if self._clock() - snapshot.checked_at >= self._refresh_seconds:
            self._spawn_refresh()
        return snapshot

    def peek(self) -> Snapshot[View]:
        """The snapshot, without triggering a refresh (for liveness and logging)."""
        return self._snapshot

    def overdue(self, snapshot: Snapshot[View], grace_seconds: float = 60.0) -> bool:
        """True when no refresh has completed for much longer than planned (e.g. a hung storage call)."""
        return self._clock() - snapshot.checked_at > self._refresh_seconds + grace_seconds

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no refresh is running; True if none is. For start-up and tests."""
        with self._lock:
            refresher = self._refresher
        if refresher is not None:
            refresher.join(timeout)
            return not refresher.is_alive()
        return True

    def _spawn_refresh(self) -> None:
        with self._lock:
            if self._refresher is not None and self._refresher.is_alive():
                return
            if self._clock() - self._snapshot.checked_at < self._refresh_seconds:
                return  # another thread refreshed while we waited for the lock
            self._refresher = threading.Thread(target=self.refresh, name="champion-refresh", daemon=True)
            self._refresher.start()

    def refresh(self) -> Snapshot[View]:
        """Read the pointer and load the champion when it moved; synchronous. Keeps the old one on failure."""
        old = self._snapshot
        started = self._clock()
        try:
            pointer = self._source.pointer()
            if pointer is None:
                new = self._no_pointer(old, started)
            elif old.view is not None and pointer in (old.pointer, old.refused):
                # Nothing moved: no download. A refused champion stays refused, and reported.
                error = _refused_reason(old.refused, old.pointer) if pointer == old.refused else None
                new = replace(old, checked_at=started, last_success_at=_utc_now(), last_error=error)
            else:
                new = self._load(pointer, old, started)
        except Exception as exc:  # any failure keeps the champion we have: serving beats failing
            # The public reason names only the kind of failure; the details (hosts, paths) go to the log.
            new = replace(old, checked_at=started, last_error=f"the last champion refresh failed ({type(exc).__name__})")
            log.warning(
                "service.champion_refresh_failed",
                error=f"{type(exc).__name__}: {exc}",
                serving_version=old.pointer.version if old.pointer else None,
            )
        self._snapshot = new
        return new

    def _judge(self, pointer: ChampionPointer, bundle: ForecastBundle) -> tuple[View | None, sanity.SanityReport]:
        """`bundle`'s view when it passes sanity; a refused version is remembered (never downloaded again)."""
        verdict = sanity.check_bundle(bundle)
        if not verdict.servable:
            self._unservable.add(pointer)
            return None, verdict
        return self._build(bundle), verdict

    def _load(self, pointer: ChampionPointer, old: Snapshot[View], started: float) -> Snapshot[View]:
        """The pointer moved (or nothing is served yet): load its bundle, serve it if it is servable."""
        view = verdict = None
        if pointer not in self._unservable:  # a known refusal was logged when it was first refused
            view, verdict = self._judge(pointer, self._source.load(pointer))
        if view is not None:
            log.info(
                "service.champion_loaded",
                model_version=pointer.version,
                run_id=pointer.run_id,
                previous_version=old.pointer.version if old.pointer else None,
                seconds=round(self._clock() - started, 3),
            )
            return Snapshot(view, pointer, started, _utc_now(), None)
        if verdict is not None:
            log.error("service.champion_unservable", model_version=pointer.version, run_id=pointer.run_id,
                      reasons=list(verdict.reasons), sanity=verdict.to_dict(),
                      serving_version=old.pointer.version if old.view is not None and old.pointer else None)
        if old.view is not None:  # a running instance keeps what it serves
            return replace(old, checked_at=started, last_success_at=_utc_now(),
                           last_error=_refused_reason(pointer, old.pointer), refused=pointer)
        return self._fall_back(pointer, started)

    def _fall_back(self, refused: ChampionPointer, started: float) -> Snapshot[View]:
        """A fresh instance whose champion is not servable: serve the newest servable version instead."""
        for candidate in self._source.fallbacks():
            if candidate == refused or candidate in self._unservable:
                continue
            try:
                bundle = self._source.load(candidate)
            except Exception as exc:  # a version without its bundle cannot be served; try the next one
                log.warning("service.fallback_load_failed", model_version=candidate.version,
                            error=f"{type(exc).__name__}: {exc}")
                continue
            view, verdict = self._judge(candidate, bundle)
            if view is None:
                log.warning("service.fallback_unservable", model_version=candidate.version,
                            reasons=list(verdict.reasons))
                continue
            log.warning("service.champion_fallback", model_version=candidate.version, run_id=candidate.run_id,
                        refused_version=refused.version)
            return Snapshot(view, candidate, started, _utc_now(), _refused_reason(refused, candidate), refused)
        return Snapshot(None, None, started, _utc_now(),
                        f"champion version {refused.version} failed promotion sanity and no published version "
                        "passes it", refused)

    def _no_pointer(self, old: Snapshot[View], started: float) -> Snapshot[View]:
        if old.view is None:
            return Snapshot(None, None, started, _utc_now(), None)
        # The pointer was removed: keep serving the last champion rather than going dark, but say so.
        log.warning("service.champion_pointer_missing", serving_version=old.pointer.version if old.pointer else None)
        return replace(old, checked_at=started, last_error="the serving pointer no longer exists")


def _refused_reason(refused: ChampionPointer | None, serving: ChampionPointer | None) -> str:
    """The public reason a refused champion is not served (versions only: no hosts, no paths)."""
    version = refused.version if refused else "?"
    serving_text = f"; serving version {serving.version}" if serving else ""
    return f"champion version {version} failed promotion sanity{serving_text}"
