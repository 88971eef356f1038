"""Promotion sanity (issue 11.3): which bundles may be served at all."""

from __future__ import annotations

import math
import random

import pytest

from gasforecast import sanity

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
