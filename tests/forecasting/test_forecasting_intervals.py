"""Interval calibration: non-decreasing bands, no collapse after a calm spell, calibrated across regimes."""

import numpy as np
import pytest

from gasforecast.forecasting.intervals import (
    FLOOR,
    IntervalCalibration,
    error_scale,
    half_widths,
    volatility_state,
    weighted_quantiles,
)

STEPS = 30
STRETCH = 520  # two years of business days


def naive_errors(log_prices: np.ndarray, origins: np.ndarray, last: int) -> np.ndarray:
    """The random walk's log errors from each origin, NaN where the outcome lies after `last`."""
    ahead = origins[:, None] + np.arange(1, STEPS + 1)[None, :]
    errors = log_prices[np.minimum(ahead, last)] - log_prices[origins][:, None]
    errors[ahead > last] = np.nan
    return errors


def naive_widths(log_prices: np.ndarray, last: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Bands from row `last`, calibrated as the procedure does on the stretch before it (rows up to `last` only)."""
    origins = np.arange(last - min(STRETCH, last - 180), last)
    calibration = IntervalCalibration(log_prices[: last + 1], "business", origins, STEPS, STEPS)
    return calibration.widths(naive_errors(log_prices, origins, last))


def regime_switching_prices(seed: int) -> np.ndarray:
    """Heavy-tailed log prices: calm (1 % a day), a crisis year at four times the volatility, calm again."""
    rng = np.random.default_rng(seed)
    sigma = np.concatenate([np.full(500, 0.01), np.full(260, 0.04), np.full(520, 0.01)])
    return np.cumsum(sigma * rng.standard_t(4, sigma.size) / np.sqrt(2))


def test_half_widths_stay_monotone_even_when_the_fitted_quantiles_shrink():
    scale = error_scale(np.array([4e-4]), np.array([1e-4]), 60)[0]  # a calm long run after a turbulent day
    widths = half_widths({80: (0.3, -0.35), 95: (0.7, -0.35)}, scale)
    for below, above in widths.values():
        assert (np.diff(below) >= 0).all() and (np.diff(above) >= 0).all()
    assert (widths[95][0] >= widths[80][0]).all()


def test_weighted_quantiles_follow_the_weights_and_skip_unobserved_errors():
    values = np.column_stack([np.arange(1.0, 101.0), np.r_[np.arange(1.0, 51.0), np.full(50, np.nan)]])
    even = weighted_quantiles(values, np.ones(100), [0.5])
    assert even[0, 0] == pytest.approx(50.5) and even[1, 0] == pytest.approx(25.5)
    recent = weighted_quantiles(values, 0.5 ** (np.arange(99, -1, -1) / 10), [0.5])
    assert recent[0, 0] > 90  # the newest values carry the weight
    assert weighted_quantiles(values[40:], np.ones(60), [0.5]) is None  # a step with only 10 observed errors


def test_bands_do_not_collapse_after_a_calm_spell():
    rng = np.random.default_rng(4)
    moves = np.r_[rng.normal(0, 0.02, 780), rng.normal(0, 0.0005, 40)]  # three turbulent years, then 40 flat days
    log_prices = np.cumsum(moves)
    today, long_run = volatility_state(log_prices, "business")
    assert np.sqrt(today[-1]) >= FLOOR * np.sqrt(long_run[-1]) * (1 - 1e-9)
    before, after = naive_widths(log_prices, 779), naive_widths(log_prices, len(moves) - 1)
    for level in (80, 95):
        assert after[level][0][0] > 0.35 * before[level][0][0]  # an EWMA alone would keep under a tenth
        assert (np.diff(after[level][0]) > 0).all()


def test_bands_are_calibrated_in_the_calm_after_a_crisis():
    # Calibrated on errors from a stretch that spans the crisis, the bands must shrink back: the
    # previous method (a fixed blend with the 3-year variance, equal weights) covered 89 % / 99 % here.
    horizons = np.array([1, 7, 14, 30])
    hits = {80: [], 95: []}
    for seed in (0, 1):
        log_prices = regime_switching_prices(seed)
        for last in range(820, log_prices.size - STEPS - 1, 3):
            widths = naive_widths(log_prices, last)
            move = np.abs(log_prices[last + horizons] - log_prices[last])
            for level in hits:
                hits[level].append(move <= widths[level][0][horizons - 1])
    assert 0.74 <= np.mean(hits[80]) <= 0.86
    assert 0.91 <= np.mean(hits[95]) <= 0.98
