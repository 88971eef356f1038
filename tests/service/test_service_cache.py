"""The champion cache: served at once, refreshed in the background, kept when the registry fails."""

from __future__ import annotations

import dataclasses
import threading
import time

from service_fakes import FakeSource, ManualClock, make_bundle

from gasforecast.platform.errors import TransientError
from service.champion_cache import ChampionCache


def _cache(source: FakeSource, clock: ManualClock, refresh_seconds: float = 15.0) -> ChampionCache:
    return ChampionCache(source, build=lambda bundle: bundle.version, refresh_seconds=refresh_seconds, clock=clock)


def test_start_loads_the_champion_before_serving(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    assert cache.start(timeout=5)
    snapshot = cache.current()
    assert snapshot.view == "1" and snapshot.pointer.run_id == "run-aaaa" and snapshot.last_error is None


def test_start_is_bounded_by_its_timeout_and_the_load_finishes_later(manual_clock):
    source = FakeSource(make_bundle())
    source.gate.clear()  # the registry hangs
    cache = _cache(source, manual_clock)
    began = time.monotonic()
    assert not cache.start(timeout=0.2)
    assert time.monotonic() - began < 2
    assert cache.current().view is None
    source.gate.set()
    assert cache.wait_idle(5)
    assert cache.current().view == "1"


def test_no_refresh_before_it_is_due(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    cache.start(timeout=5)
    manual_clock.advance(14.9)
    cache.current()
    assert cache.wait_idle(5)
    assert fake_source.pointer_calls == 1


def test_a_promoted_champion_is_served_after_the_refresh_without_blocking_the_request(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    cache.start(timeout=5)
    fake_source.promote(make_bundle("2", "run-bbbb"))
    fake_source.gate.clear()  # the alias lookup is slow: requests must not wait for it
    manual_clock.advance(15)
    began = time.monotonic()
    assert cache.current().view == "1"  # the old champion, immediately
    assert time.monotonic() - began < 0.1
    fake_source.gate.set()
    assert cache.wait_idle(5)
    assert cache.current().view == "2"
    assert fake_source.load_calls == 2


def test_unchanged_alias_does_not_download_again(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    cache.start(timeout=5)
    for _ in range(3):
        manual_clock.advance(20)
        cache.current()
        assert cache.wait_idle(5)
    assert fake_source.pointer_calls == 4
    assert fake_source.load_calls == 1


def test_at_most_one_refresh_runs_at_a_time(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    cache.start(timeout=5)
    fake_source.gate.clear()
    manual_clock.advance(20)
    threads = [threading.Thread(target=cache.current) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fake_source.gate.set()
    assert cache.wait_idle(5)
    assert fake_source.pointer_calls == 2
    assert fake_source.max_active == 1


def test_registry_failure_keeps_the_champion_and_reports_it_until_a_refresh_succeeds(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    cache.start(timeout=5)
    fake_source.failure = TransientError("MLflow alias lookup failed: connection refused to 127.0.0.1:5000")
    manual_clock.advance(20)
    cache.current()
    cache.wait_idle(5)
    snapshot = cache.current()
    assert snapshot.view == "1" and snapshot.degraded
    assert "TransientError" in snapshot.last_error and "127.0.0.1" not in snapshot.last_error
    fake_source.failure = None
    manual_clock.advance(20)
    cache.current()
    cache.wait_idle(5)
    assert not cache.current().degraded


def test_a_failed_first_load_is_retried_when_due(manual_clock):
    source = FakeSource(make_bundle())
    source.failure = TransientError("down")
    cache = _cache(source, manual_clock)
    assert not cache.start(timeout=5)
    assert cache.current().view is None and not cache.current().degraded
    source.failure = None
    manual_clock.advance(15)
    cache.current()
    cache.wait_idle(5)
    assert cache.current().view == "1"


def test_no_pointer_means_no_champion_but_a_removed_pointer_keeps_the_last_one(manual_clock):
    source = FakeSource(make_bundle())
    source.alias = None
    cache = _cache(source, manual_clock)
    assert not cache.start(timeout=5)
    assert cache.current().view is None and cache.current().last_error is None
    source.alias = "1"
    manual_clock.advance(15)
    cache.current()
    cache.wait_idle(5)
    assert cache.current().view == "1"
    source.alias = None
    manual_clock.advance(15)
    cache.current()
    cache.wait_idle(5)
    assert cache.current().view == "1" and "pointer" in cache.current().last_error


def test_overdue_when_no_refresh_completed_for_too_long(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    cache.start(timeout=5)
    snapshot = cache.peek()
    assert not cache.overdue(snapshot)
    manual_clock.advance(15 + 61)
    assert cache.overdue(snapshot)


def _unservable(version: str, run_id: str):
    """A bundle promotion sanity refuses (issue 11 saw a 1e300 row make the forecast non-finite; a non-finite
    value no longer parses at all, so here a point holds a price that is not positive)."""
    bundle = make_bundle(version, run_id)
    huge = bundle.points[3].model_copy(update={"lower_95": -1.0})  # parses; sanity refuses it
    return dataclasses.replace(bundle, forecast=bundle.forecast.model_copy(
        update={"points": [*bundle.points[:3], huge, *bundle.points[4:]]}))


def test_a_fresh_instance_falls_back_to_the_newest_servable_version(manual_clock):
    source = FakeSource(make_bundle("1", "run-1"), make_bundle("2", "run-2"), _unservable("3", "run-3"))
    cache = _cache(source, manual_clock)
    assert cache.start(timeout=5)
    snapshot = cache.current()
    assert snapshot.view == "2" and snapshot.pointer.version == "2"
    assert snapshot.degraded and "version 3" in snapshot.last_error and "serving version 2" in snapshot.last_error


def test_a_fresh_instance_without_any_servable_version_has_nothing_to_serve(manual_clock):
    source = FakeSource(_unservable("1", "run-1"), _unservable("2", "run-2"))
    cache = _cache(source, manual_clock)
    assert not cache.start(timeout=5)
    snapshot = cache.current()
    assert snapshot.view is None and "no published version passes" in snapshot.last_error


def test_a_fresh_instance_does_not_download_a_refused_version_again(manual_clock):
    source = FakeSource(_unservable("1", "run-1"), _unservable("2", "run-2"))
    cache = _cache(source, manual_clock)
    assert not cache.start(timeout=5)
    assert source.load_calls == 2  # the champion 2 and the fallback 1, once each
    manual_clock.advance(20)
    cache.current()
    assert cache.wait_idle(5)
    assert source.load_calls == 2 and "no published version passes" in cache.current().last_error
    source.promote(make_bundle("3", "run-3"))
    manual_clock.advance(20)
    cache.current()
    assert cache.wait_idle(5)
    assert cache.current().view == "3" and source.load_calls == 3  # only the new version


def test_a_running_instance_keeps_its_champion_and_does_not_download_a_refused_one_again(fake_source, manual_clock):
    cache = _cache(fake_source, manual_clock)
    cache.start(timeout=5)
    fake_source.promote(_unservable("2", "run-2"))
    for _ in range(3):
        manual_clock.advance(20)
        cache.current()
        assert cache.wait_idle(5)
    snapshot = cache.current()
    assert snapshot.view == "1" and snapshot.degraded and "version 2 failed promotion sanity" in snapshot.last_error
    assert fake_source.load_calls == 2  # version 1 once, the refused version 2 once
    fake_source.promote(make_bundle("3", "run-3"))
    manual_clock.advance(20)
    cache.current()
    assert cache.wait_idle(5)
    snapshot = cache.current()
    assert snapshot.view == "3" and not snapshot.degraded and snapshot.refused is None
