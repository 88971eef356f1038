"""Every published series, each served by its own champion cache, discovered without blocking a request.

Why this shape: one deployment serves several series (docs/series.md), and each series' champion is
served exactly as the single one was (`service.champion_cache`). What is added is only *which* series
exist: one folder listing of `serving/series/` in the data bucket (`gasforecast.publication.serving`),
re-read at most every `refresh_seconds`, in a background thread that a request starts and never waits
for. A series found by the listing gets its cache, loaded in that thread, and only then joins the
catalogue, so a request never sees a series without its champion. A series whose folder disappears is
dropped. At most `max_series` series are served (memory grows by one champion's views per series);
the rest are logged and ignored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic

from gasforecast.platform.config import DEFAULT_SERIES, is_series_id
from gasforecast.platform.logs import get_logger
from service.champion_cache import ChampionCache, View

log = get_logger(__name__)


class SeriesCatalog(Generic[View]):
    """The served series and their caches; the default series is always there."""

    def __init__(
        self,
        default: ChampionCache[View],
        list_series: Callable[[], list[str]] | None,
        make_cache: Callable[[str], ChampionCache[View]],
        *,
        refresh_seconds: float,
        max_series: int,
        load_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._list_series = list_series
        self._make_cache = make_cache
        self._refresh_seconds = refresh_seconds
        self._max_series = max_series
        self._load_timeout = load_timeout
        self._clock = clock
        self._caches: dict[str, ChampionCache[View]] = {DEFAULT_SERIES: default}  # replaced whole, never mutated
        self._listed_at = float("-inf")
        self._lock = threading.Lock()
        self._lister: threading.Thread | None = None

    @property
    def default(self) -> ChampionCache[View]:
        return self._caches[DEFAULT_SERIES]

    def ids(self) -> list[str]:
        """The served series, the default first; starts a background listing when one is due."""
        self._maybe_list()
        caches = self._caches
        return [DEFAULT_SERIES, *sorted(s for s in caches if s != DEFAULT_SERIES)]

    def get(self, series: str) -> ChampionCache[View] | None:
        """The cache of `series`, or None when it is not (yet) served. Never blocks.

        The default series' routes are the hot path and start no listing; the overview, the series list
        and the other series' routes do."""
        if series == DEFAULT_SERIES:
            return self._caches[DEFAULT_SERIES]
        self._maybe_list()
        return self._caches.get(series) if is_series_id(series) else None

    def start(self) -> None:
        """Discover the other series in the background (the default one was loaded at start-up)."""
        self._maybe_list()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no listing runs; True if none does. For tests and benchmarks."""
        with self._lock:
            lister = self._lister
        if lister is not None:
            lister.join(timeout)
            return not lister.is_alive()
        return True

    def _maybe_list(self) -> None:
        if self._list_series is None or self._clock() - self._listed_at < self._refresh_seconds:
            return
        with self._lock:
            if (self._lister is not None and self._lister.is_alive()) or \
                    self._clock() - self._listed_at < self._refresh_seconds:
                return
            self._listed_at = self._clock()
            self._lister = threading.Thread(target=self.refresh, name="series-listing", daemon=True)
            self._lister.start()

    def refresh(self) -> list[str]:
        """List the published series, load the new ones and drop the vanished ones; synchronous."""
        assert self._list_series is not None
        try:
            listed = [s for s in self._list_series() if s != DEFAULT_SERIES and is_series_id(s)]
        except Exception as exc:  # keep serving what we have; the next listing tries again
            log.warning("service.series_listing_failed", error=f"{type(exc).__name__}: {exc}")
            return self.ids()
        if len(listed) > self._max_series:
            log.warning("service.series_limit", listed=len(listed), max_series=self._max_series,
                        ignored=listed[self._max_series:][:20])
            listed = listed[: self._max_series]
        caches = {DEFAULT_SERIES: self.default}
        for series in listed:
            cache = self._caches.get(series)
            if cache is None:
                cache = self._make_cache(series)
                cache.start(self._load_timeout)
                pointer = cache.peek().pointer
                log.info("service.series_added", series=series, model_version=pointer.version if pointer else None)
            caches[series] = cache
        dropped = sorted(set(self._caches) - set(caches))
        if dropped:
            log.warning("service.series_dropped", series=dropped)
        self._caches = caches
        return [DEFAULT_SERIES, *sorted(listed)]
