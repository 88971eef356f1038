"""Metrics and the evidence test on cases small enough to check by hand."""

import numpy as np
import pytest

from gasforecast.forecasting.evidence import diebold_mariano
from gasforecast.forecasting.metrics import (
    block_bootstrap_interval,
    christoffersen_p_value,
    crossings,
    interval_score,
    kupiec_p_value,
    pit_deciles,
    pit_values,
    quantile_crps,
    winkler_score,
)


def test_winkler_penalises_both_sides():
    scores = winkler_score(np.array([0.0, 5.0, 12.0]), np.array([1.0, 1.0, 1.0]), np.array([10.0] * 3), 0.05)
    assert scores.tolist() == pytest.approx([9 + 40, 9, 9 + 80])


def test_interval_score_is_the_mean_of_the_80_and_95_scores():
    actual = np.array([10.0])
    bounds = {80: (np.array([9.0]), np.array([11.0])), 95: (np.array([11.0]), np.array([12.0]))}
    # 80 %: width 2, inside. 95 %: width 1, 1 below → 1 + 40 = 41.
    assert interval_score(actual, bounds).tolist() == pytest.approx([(2 + 41) / 2])


def test_quantile_crps_is_twice_the_mean_pinball_loss():
    levels = np.array([0.1, 0.5, 0.9])
    quantiles = np.array([[9.0, 10.0, 11.0]])
    # outcome 12: losses 0.1·3, 0.5·2, 0.9·1 → mean 2.2/3; CRPS = 2 × that
    assert quantile_crps(np.array([12.0]), quantiles, levels).tolist() == pytest.approx([2 * 2.2 / 3])
    # outcome 10: 0.1·1 below the 10 % quantile... (10 > 9): 0.1·1; median 0; 90 %: (1 − 0.9)·1
    assert quantile_crps(np.array([10.0]), quantiles, levels).tolist() == pytest.approx([2 * 0.2 / 3])


def test_crossings_count_out_of_order_neighbours():
    assert crossings(np.array([[1.0, 2.0, 3.0], [1.0, 3.0, 2.0]])) == 1
    assert crossings(np.array([1.0, 1.0, 1.0])) == 0


def test_kupiec_accepts_the_nominal_rate_and_rejects_a_far_one():
    hits = np.array([True] * 80 + [False] * 20)
    assert kupiec_p_value(hits, 0.80) == pytest.approx(1.0)
    # 40 misses in 100 at a nominal 20 %: LR = 2[40 ln(.4/.2) + 60 ln(.6/.8)] = 20.93 → p ≈ 4.8e-6
    assert kupiec_p_value(np.array([True] * 60 + [False] * 40), 0.80) == pytest.approx(4.77e-6, rel=0.01)


def test_christoffersen_sees_clustered_misses():
    independent = np.random.default_rng(5).random(400) < 0.8
    clustered = np.array([True] * 160 + [False] * 40)
    assert christoffersen_p_value(independent) > 0.05
    assert christoffersen_p_value(clustered) < 1e-6
    assert christoffersen_p_value(np.ones(50, dtype=bool)) == 1.0


def test_block_bootstrap_interval_holds_the_pooled_mean():
    rng = np.random.default_rng(1)
    samples = [(rng.random(300) < 0.8).astype(float), (rng.random(200) < 0.8).astype(float)]
    low, high = block_bootstrap_interval(samples, block=5)
    pooled = np.concatenate(samples).mean()
    assert low < pooled < high and high - low < 0.15


def test_pit_of_a_calibrated_grid_is_uniform():
    rng = np.random.default_rng(2)
    levels = np.linspace(0.05, 0.95, 19)
    from scipy import stats

    grid = np.broadcast_to(stats.norm.ppf(levels), (4000, 19))
    pit = pit_values(rng.normal(size=4000), grid, levels)
    assert np.allclose(pit_deciles(pit), 0.1, atol=0.02)


def test_diebold_mariano_sees_a_real_edge_and_not_noise():
    rng = np.random.default_rng(0)
    incumbent = np.abs(rng.normal(0, 1, 400))
    noise_only = incumbent + rng.normal(0, 0.3, 400)
    assert diebold_mariano(noise_only, incumbent, horizon=7).p_value > 0.01
    better = incumbent * 0.8
    result = diebold_mariano(better, incumbent, horizon=7)
    assert result.p_value < 1e-6 and result.mean_difference < 0 and result.origins == 400
    assert diebold_mariano(incumbent, incumbent, horizon=7).p_value == 0.5
