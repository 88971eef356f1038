"""Promotion sanity (issue 11.3): which bundles may be served at all."""

from __future__ import annotations

import math
import random

import pytest

from gasforecast.publication import sanity

SIGMA = 0.02


def history(n: int = 400, sigma: float = SIGMA, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    values, level = [], 100.0
    for _ in range(n):
        level *= math.exp(rng.gauss(0, sigma))
        values.append(round(level, 4))
    return values


def points(band_multiple: float, steps: int = 60, sigma: float = SIGMA, last: float = 100.0) -> list[dict]:
    """Points whose 95 % band is `band_multiple` times the naive Gaussian one (log space)."""
    out = []
    for h in range(1, steps + 1):
        half = band_multiple * sanity.Z_95 * sigma * math.sqrt(h)
        out.append({"date": f"2025-01-{h:02d}", "mean": last, "lower_80": last * math.exp(-half * 0.65),
                    "upper_80": last * math.exp(half * 0.65), "lower_95": last * math.exp(-half),
                    "upper_95": last * math.exp(half)})
    return out


def test_an_ordinary_forecast_is_servable_with_its_figures():
    report = sanity.check(points(1.0), history())
    assert report.servable and report.reasons == ()
    assert report.step == sanity.BAND_STEP
    assert report.band_ratio == pytest.approx(1.0, rel=0.15)  # the sample σ is near SIGMA
    assert report.to_dict()["max_band_ratio"] == sanity.MAX_BAND_RATIO


def test_a_band_wider_than_the_documented_multiple_is_refused():
    report = sanity.check(points(sanity.MAX_BAND_RATIO * 1.3), history())
    assert not report.servable and "band" in report.reasons[0]
    assert report.band_ratio > sanity.MAX_BAND_RATIO
    assert sanity.check(points(sanity.MAX_BAND_RATIO * 0.75), history()).servable


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 0.0, -3.0, "12", None, True])
def test_a_non_finite_or_non_positive_value_is_refused(bad):
    forecast = points(1.0)
    forecast[40]["lower_80"] = bad  # beyond the compared step: every point counts
    report = sanity.check(forecast, history())
    assert not report.servable and "step 41, lower_80" in report.reasons[0]
    assert report.to_dict()["band_log_width"] is None  # JSON-safe: no NaN or Infinity


def test_an_inverted_band_is_refused():
    forecast = points(1.0)
    forecast[2]["lower_95"], forecast[2]["upper_95"] = forecast[2]["upper_95"], forecast[2]["lower_95"]
    assert not sanity.check(forecast, history()).servable


def test_too_little_history_cannot_vouch_for_a_band():
    assert not sanity.check(points(1.0), history(10)).servable
    assert not sanity.check([], history()).servable


def test_a_short_forecast_is_judged_at_its_last_step():
    report = sanity.check(points(1.0, steps=7), history())
    assert report.servable and report.step == 7


def test_unusable_history_values_are_skipped_not_fatal():
    values = history()
    values[100:103] = [math.nan, None, -1.0]
    assert sanity.check(points(1.0), values).servable


def test_issue_11s_mistyped_price_would_have_been_refused():
    """1326.3 instead of 132.63 in the history: the fitted band exploded to 4.7–480,638 at 90 days."""
    values = history()
    values[-5] *= 10
    wild = [{"date": "d", "mean": 130.0, "lower_80": 4.7, "upper_80": 480_638.0, "lower_95": 4.0,
             "upper_95": 600_000.0}] * 30
    assert not sanity.check(wild, values).servable


def test_one_mistyped_price_does_not_vouch_for_the_band_it_blew_up():
    clean = history()
    mistyped = list(clean)
    mistyped[-5] *= 10
    robust, _ = sanity.robust_sigma(mistyped)
    assert robust == pytest.approx(sanity.robust_sigma(clean)[0], rel=0.1)
    assert robust < 1.5 * SIGMA


def test_the_naive_band_follows_recent_volatility():
    calm_then_wild = history(600, sigma=0.005) + [v * 1.0 for v in history(200, sigma=0.04, seed=4)]
    sigma, used = sanity.robust_sigma(calm_then_wild)
    assert used == sanity.RECENT_RETURNS and sigma > 0.025


# ---- the level guard (issue 20.2): the challenger against the served champion ----------------------
def test_an_ordinary_move_from_the_served_champion_passes_the_level_guard():
    served = points(1.0)  # a 30-step 95 % half-width of 1.96 · 0.02 · √30 ≈ 0.21 in logs
    report = sanity.level_guard(points(1.1, last=106.0), served, "7")
    assert report.applies and report.passed and report.reasons == ()
    assert report.step == sanity.LEVEL_STEP == sanity.BAND_STEP
    assert report.log_shift == pytest.approx(math.log(1.06))
    assert report.champion_half_width == pytest.approx(sanity.Z_95 * SIGMA * math.sqrt(30))
    assert report.shift_ratio == pytest.approx(report.log_shift / report.champion_half_width)
    assert report.to_dict()["max_level_shift"] == sanity.MAX_LEVEL_SHIFT
    assert report.to_dict()["champion_version"] == "7"


@pytest.mark.parametrize("factor", [10.0, 0.1])
def test_a_tenfold_move_is_held_whatever_the_band(factor):
    served = points(2.0, sigma=0.04)  # a wide served band: half-width ≈ 0.86 in logs
    report = sanity.level_guard(points(2.0, sigma=0.04, last=100.0 * factor), served)
    assert report.applies and not report.passed
    assert report.shift_ratio > sanity.MAX_LEVEL_SHIFT and "served champion" in report.reasons[0]


def test_a_move_of_40_percent_is_held_against_a_narrow_served_band_and_passes_a_wide_one():
    narrow = points(1.0, sigma=0.005)  # half-width ≈ 0.054: ×1.4 (0.34 in logs) is over 6 of them
    held = sanity.level_guard(points(1.0, sigma=0.005, last=140.0), narrow)
    assert not held.passed and held.shift_ratio == pytest.approx(math.log(1.4) / held.champion_half_width)
    assert sanity.level_guard(points(1.0, last=140.0), points(1.0)).passed  # half-width ≈ 0.21: 1.6 of them


def test_the_level_guard_is_symmetric_in_logs_and_bounded_by_the_documented_multiple():
    served = points(1.0)
    half = sanity.Z_95 * SIGMA * math.sqrt(30)
    for sign in (1, -1):
        inside = 100.0 * math.exp(sign * 0.99 * sanity.MAX_LEVEL_SHIFT * half)
        outside = 100.0 * math.exp(sign * 1.01 * sanity.MAX_LEVEL_SHIFT * half)
        assert sanity.level_guard(points(1.0, last=inside), served).passed
        assert not sanity.level_guard(points(1.0, last=outside), served).passed


def test_without_a_champion_the_level_guard_does_not_apply():
    report = sanity.level_guard(points(1.0, last=1000.0), None)
    assert not report.applies and report.passed and "no champion" in report.note
    assert report.to_dict()["shift_ratio"] is None


@pytest.mark.parametrize("served", [[], [{"mean": "x"}], [{"mean": 100.0, "lower_95": 120.0, "upper_95": 90.0}]])
def test_an_unusable_champion_forecast_does_not_apply_the_guard(served):
    report = sanity.level_guard(points(1.0), served)
    assert not report.applies and report.passed and "does not apply" in report.note


def test_shorter_forecasts_are_compared_at_their_last_common_step():
    report = sanity.level_guard(points(1.0, steps=10), points(1.0))
    assert report.step == 10 and report.passed
