"""Metrics and the evidence test on cases small enough to check by hand."""

import numpy as np
import pytest

from gasforecast.forecasting.evidence import diebold_mariano
from gasforecast.forecasting.metrics import gaussian_naive_bounds, interval_score, winkler_score


def test_winkler_penalises_both_sides():
    scores = winkler_score(np.array([0.0, 5.0, 12.0]), np.array([1.0, 1.0, 1.0]), np.array([10.0] * 3), 0.05)
    assert scores.tolist() == pytest.approx([9 + 40, 9, 9 + 80])


def test_interval_score_is_the_mean_of_the_80_and_95_scores():
    actual = np.array([10.0])
    bounds = {80: (np.array([9.0]), np.array([11.0])), 95: (np.array([11.0]), np.array([12.0]))}
    # 80 %: width 2, inside. 95 %: width 1, 1 below → 1 + 40 = 41.
    assert interval_score(actual, bounds).tolist() == pytest.approx([(2 + 41) / 2])


def test_gaussian_naive_bounds_use_the_standard_deviation_of_every_log_return():
    history = np.exp(np.array([0.0, 0.1, 0.0, 0.1, 0.0]))
    sigma = np.std([0.1, -0.1, 0.1, -0.1], ddof=1)
    bounds = gaussian_naive_bounds(history, np.array([1, 4]))
    lower, upper = bounds[95]
    assert np.log(upper).tolist() == pytest.approx([1.959964 * sigma, 1.959964 * sigma * 2], rel=1e-5)
    assert np.log(lower).tolist() == pytest.approx([-1.959964 * sigma, -1.959964 * sigma * 2], rel=1e-5)


def test_diebold_mariano_sees_a_real_edge_and_not_noise():
    rng = np.random.default_rng(0)
    incumbent = np.abs(rng.normal(0, 1, 400))
    noise_only = incumbent + rng.normal(0, 0.3, 400)
    assert diebold_mariano(noise_only, incumbent, horizon=7).p_value > 0.01
    better = incumbent * 0.8
    result = diebold_mariano(better, incumbent, horizon=7)
    assert result.p_value < 1e-6 and result.mean_difference < 0 and result.origins == 400
    assert diebold_mariano(incumbent, incumbent, horizon=7).p_value == 0.5
