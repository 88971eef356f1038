"""Estimate one candidate on one training slice and express it as a `LevelModel`.

Orders are chosen by information criterion on the training slice only (VAR/AR lags, VECM lags and
Johansen trace-test rank), so a backtest refit never sees data after its origin.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gasforecast.forecasting.config import ModelConfig
from gasforecast.forecasting.linear import LevelModel, choose_log_columns, levels_from_differences, transform

SEASON_DAYS = 7


@dataclass
class FitResult:
    level_model: LevelModel
    orders: dict[str, int] = field(default_factory=dict)
    results: Any = None  # the statsmodels results object (None for the naive references in backtests)


def describe_transforms(config: ModelConfig, log_columns: tuple[bool, ...]) -> str:
    """Human description of the modelling space, e.g. "log-difference; hdd: difference"."""
    if config.kind in ("naive", "seasonal_naive"):
        return "log"
    base = "log-level (VECM)" if config.kind == "vecm" else "log-difference"
    plain = [name for name, use_log in zip(config.drivers, log_columns[1:]) if not use_log]
    if not plain:
        return base
    how = "level" if config.kind == "vecm" else "difference"
    return f"{base}; " + ", ".join(f"{name}: {how}" for name in plain)


def fit_candidate(config: ModelConfig, values: np.ndarray, with_results: bool = False) -> FitResult:
    """Fit `config` on `values` (rows = days, columns = target then drivers, all finite)."""
    columns = ("target",) + config.drivers
    log_columns = choose_log_columns(values)
    if not log_columns[0]:
        raise ValueError("the target must be strictly positive")
    z = transform(values, log_columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' frequency and convergence chatter
        coefs, intercept, orders, results = _FITTERS[config.kind](config, z, with_results)
    return FitResult(LevelModel(columns, log_columns, intercept, coefs), orders, results)


def _naive(config: ModelConfig, z: np.ndarray, with_results: bool):
    results = None
    if with_results:
        from statsmodels.tsa.arima.model import ARIMA

        results = ARIMA(z[:, 0], order=(0, 1, 0)).fit(low_memory=True)
    return np.ones((1, 1, 1)), np.zeros(1), {}, results


def _seasonal_naive(config: ModelConfig, z: np.ndarray, with_results: bool):
    results = None
    if with_results:
        from statsmodels.tsa.arima.model import ARIMA

        results = ARIMA(z[:, 0], order=(0, 0, 0), seasonal_order=(0, 1, 0, SEASON_DAYS)).fit(low_memory=True)
    coefs = np.zeros((SEASON_DAYS, 1, 1))
    coefs[-1] = 1.0
    return coefs, np.zeros(1), {"season": SEASON_DAYS}, results


def select_lag_order(diffs: np.ndarray, max_lags: int, ic: str) -> int:
    """Lag order of a VAR (or AR) with constant on `diffs` minimising the information criterion.

    Same criteria as statsmodels' `select_order` (common sample after `max_lags`, MLE covariance),
    but every order comes from one cross-product matrix instead of one least-squares fit each.
    """
    t_all, k = diffs.shape
    nobs = t_all - max_lags
    regressors = np.hstack([np.ones((nobs, 1))] + [diffs[max_lags - lag : t_all - lag] for lag in range(1, max_lags + 1)])
    response = diffs[max_lags:]
    xtx, xty, yty = regressors.T @ regressors, regressors.T @ response, response.T @ response
    penalty = {"aic": 2.0, "bic": np.log(nobs), "hqic": 2.0 * np.log(np.log(nobs))}[ic] / nobs
    best, best_value = 0, np.inf
    for p in range(max_lags + 1):
        width = 1 + k * p
        if width >= nobs:
            break
        coef = np.linalg.lstsq(xtx[:width, :width], xty[:width], rcond=None)[0]
        sign, logdet = np.linalg.slogdet((yty - coef.T @ xty[:width]) / nobs)
        value = logdet + penalty * (p * k * k + k)
        if sign > 0 and value < best_value:  # a degenerate fit (sign <= 0) is never chosen
            best, best_value = p, value
    return best


def _ar(config: ModelConfig, z: np.ndarray, with_results: bool):
    from statsmodels.tsa.ar_model import AutoReg

    returns = np.diff(z[:, 0])
    p = select_lag_order(returns[:, None], config.max_lags, config.ic)
    if p == 0:
        results = AutoReg(returns, lags=0, trend="c").fit()
        diff_coefs = np.zeros((1, 1, 1))
    else:
        results = AutoReg(returns, lags=p, trend="c").fit()
        diff_coefs = np.asarray(results.params[1:], dtype=float).reshape(p, 1, 1)
    intercept, coefs = levels_from_differences(np.asarray(results.params[:1]), diff_coefs)
    return coefs, intercept, {"lags": p}, results


def _var(config: ModelConfig, z: np.ndarray, with_results: bool):
    return _var_fixed(z, max(select_lag_order(np.diff(z, axis=0), config.max_lags, config.ic), 1))


def _vecm(config: ModelConfig, z: np.ndarray, with_results: bool):
    from statsmodels.tsa.vector_ar.vecm import VECM, select_coint_rank

    k_ar_diff = max(select_lag_order(np.diff(z, axis=0), config.max_lags, config.ic), 1)
    rank = int(select_coint_rank(z, det_order=0, k_ar_diff=k_ar_diff, method="trace", signif=0.05).rank)
    rank = min(rank, z.shape[1] - 1)
    if rank == 0:  # no cointegration: the VECM is a VAR on differences
        coefs, intercept, _, results = _var_fixed(z, k_ar_diff)
        return coefs, intercept, {"lags": k_ar_diff, "coint_rank": 0}, results
    results = VECM(z, k_ar_diff=k_ar_diff, coint_rank=rank, deterministic="ci").fit()
    intercept = (results.alpha @ results.det_coef_coint.T).ravel()
    return np.asarray(results.var_rep), intercept, {"lags": k_ar_diff, "coint_rank": rank}, results


def _var_fixed(z: np.ndarray, lags: int):
    from statsmodels.tsa.api import VAR

    results = VAR(np.diff(z, axis=0)).fit(lags)
    intercept, coefs = levels_from_differences(results.intercept, results.coefs)
    return coefs, intercept, {"lags": lags}, results


_FITTERS = {
    "naive": _naive,
    "seasonal_naive": _seasonal_naive,
    "ar": _ar,
    "var": _var,
    "vecm": _vecm,
}
