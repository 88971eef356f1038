"""The volatility baselines against hand-computed values, the online combination on a toy case, and the
predictive distribution's guarantees: no crossing, nothing learned from the future."""

import numpy as np
import pytest
from scipy import stats

from gasforecast.forecasting import volatility
from gasforecast.forecasting.combination import combine_online
from gasforecast.forecasting.distribution import (
    QUANTILE_LEVELS,
    predictive_distribution,
    realised_moves,
    served_moves,
)

LEVELS = np.array([0.05, 0.5, 0.95])


def heavy_tailed_walk(rows: int, seed: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    volatility_regime = np.where(np.arange(rows) % 400 < 200, 0.01, 0.03)
    return np.log(50) + np.cumsum(volatility_regime * rng.standard_t(5, rows) / np.sqrt(5 / 3))


def test_trailing_gaussian_uses_the_trailing_window_of_returns():
    log_y = heavy_tailed_walk(400)
    returns = np.diff(log_y)
    window = volatility.window_rows("business")  # 261 rows
    origin = 350
    sigma = np.std(returns[origin - window: origin], ddof=1)  # returns ending at rows origin-window+1..origin
    got = volatility.trailing_gaussian(log_y, np.array([origin]), [1, 4], LEVELS, "business")[0]
    expected = sigma * np.sqrt([1, 4])[:, None] * stats.norm.ppf(LEVELS)[None, :]
    assert got == pytest.approx(expected, rel=1e-9)


def test_ewma_follows_the_riskmetrics_recursion():
    log_y = heavy_tailed_walk(200)
    returns = np.diff(log_y)
    variance = returns[0] ** 2
    for r in returns[1:150]:
        variance = 0.94 * variance + 0.06 * r**2
    got = volatility.ewma_gaussian(log_y, np.array([150]), [1, 9], LEVELS, "daily")[0]
    assert got == pytest.approx(np.sqrt(variance) * np.sqrt([1, 9])[:, None] * stats.norm.ppf(LEVELS)[None, :])
    assert np.isnan(volatility.ewma_gaussian(log_y, np.array([10]), [1], LEVELS, "daily")).all()


def test_historical_simulation_takes_the_trailing_years_h_step_moves():
    log_y = heavy_tailed_walk(600)
    origin, h = 500, 5
    window = volatility.window_rows("business")
    moves = log_y[origin - window + 1: origin + 1] - log_y[origin - window + 1 - h: origin + 1 - h]
    got = volatility.historical_simulation(log_y, np.array([origin]), [h], LEVELS, "business")[0, 0]
    assert got == pytest.approx(np.quantile(moves, LEVELS))


def test_student_shape_has_unit_variance_and_thins_its_tails_with_the_step():
    shape = volatility.student_shape([1, 30], np.array([0.005, 0.995]))
    exact = stats.t.ppf(0.995, 5) * np.sqrt(3 / 5)
    assert shape[0, 1] == pytest.approx(exact)
    assert stats.norm.ppf(0.995) < shape[1, 1] < exact  # the sum of 30 draws is nearer Gaussian


def test_garch_fit_matches_arch_and_its_filter_matches_archs_volatility():
    from arch import arch_model

    rng = np.random.default_rng(9)
    n, omega, alpha, beta = 1500, 2e-6, 0.08, 0.9
    returns, variance = np.zeros(n), omega / (1 - alpha - beta)
    for t in range(n):
        returns[t] = np.sqrt(variance) * rng.standard_t(6) * np.sqrt(4 / 6)
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    fit = volatility.fit_garch(returns)
    reference = arch_model(returns * 100, mean="Zero", vol="GARCH", dist="t", rescale=False).fit(disp="off")
    assert fit.alpha == pytest.approx(reference.params["alpha[1]"], rel=1e-6)
    assert fit.nu == pytest.approx(reference.params["nu"], rel=1e-6)
    assert 0.02 < fit.alpha < 0.2 and 0.8 < fit.beta < 0.97
    ours = volatility.garch_variance_path(np.concatenate([[np.nan], returns]), [(0, fit)])
    theirs = reference.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0] / 100**2
    assert ours[-1] == pytest.approx(theirs, rel=1e-3)  # the start-up value has long decayed


def test_garch_simulation_is_the_student_quantile_at_one_step():
    fit = volatility.GarchFit(omega=1e-6, alpha=0.05, beta=0.9, nu=6.0)
    levels = np.array([0.1, 0.5, 0.9])
    quantiles = volatility.simulate_garch(np.array([4e-4]), fit, [1, 20], levels, paths=20_000)[0]
    exact = 0.02 * stats.t.ppf(levels, 6) * np.sqrt(4 / 6)
    assert quantiles[0] == pytest.approx(exact, abs=5e-4)
    # twenty steps revert towards the long-run variance 2e-5 from 4e-4: narrower than √20 × today's
    assert quantiles[1, 2] < np.sqrt(20) * exact[2]


def test_boa_learns_the_calibrated_expert():
    rng = np.random.default_rng(3)
    rows, levels = 1500, np.array([0.1, 0.5, 0.9])
    outcomes = rng.normal(size=(rows, 1))
    truth = stats.norm.ppf(levels)
    experts = np.stack([np.broadcast_to(truth, (rows, 1, 3)), np.broadcast_to(3 * truth + 1, (rows, 1, 3))], axis=-1)
    result = combine_online(experts, outcomes, np.array([1]), levels, start=0, forget=0.0)
    assert (result.weights[0, :, 0] > 0.9).all()
    assert result.combined[-1, 0] == pytest.approx(truth, abs=0.1)
    forgetting = combine_online(experts, outcomes, np.array([1]), levels, start=0)  # about 100 outcomes' memory
    assert (forgetting.weights[0, :, 0] > 0.75).all()


def test_boa_waits_for_an_outcome_to_be_observed():
    """An h-step forecast from row s is scored at row s + h: before that the weights cannot move."""
    levels = np.array([0.5])
    rows = 12
    experts = np.stack([np.zeros((rows, 1, 1)), np.ones((rows, 1, 1))], axis=-1)
    outcomes = np.ones((rows, 1))
    result = combine_online(experts, outcomes, np.array([5]), levels, start=0, bandwidth=0.0)
    assert np.allclose(result.combined[:5, 0, 0], 0.5)  # rows 0..4: no 5-step outcome known yet
    assert result.combined[5, 0, 0] > 0.5  # row 5 is the outcome of the forecast from row 0


def test_the_distribution_at_a_row_does_not_depend_on_later_rows():
    log_y = heavy_tailed_walk(900)
    full = predictive_distribution(log_y, "business", (1, 7))
    cut = 760
    early = predictive_distribution(log_y[: cut + 1], "business", (1, 7))
    assert early.moves[cut] == pytest.approx(full.moves[cut], rel=1e-10)
    changed = log_y.copy()
    changed[cut + 1:] += 0.5  # a different future
    assert predictive_distribution(changed, "business", (1, 7)).moves[cut] == pytest.approx(full.moves[cut], rel=1e-10)


def test_served_quantiles_never_cross_and_widen_with_the_step():
    log_y = heavy_tailed_walk(900)
    distribution = predictive_distribution(log_y, "business", (1, 7, 30))
    moves = served_moves(distribution, 60)
    assert moves.shape == (60, QUANTILE_LEVELS.size)
    assert (np.diff(moves, axis=1) >= 0).all()
    assert (np.diff(distribution.moves[distribution.start:], axis=2) >= 0).all()
    spread = moves[:, -1] - moves[:, 0]
    assert spread[-1] > 3 * spread[0] and (np.diff(spread) >= 0).all()
    assert moves[0] == pytest.approx(distribution.moves[-1][0], abs=1e-12)  # step 1 is the combination's own
    assert np.allclose(distribution.weights.sum(axis=-1), 1.0)
    assert not np.isnan(realised_moves(log_y, np.array([1]))[:-1]).any()
