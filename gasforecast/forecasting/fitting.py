"""Estimate one candidate on one training slice and express it as a `LevelModel`.

Orders are chosen by information criterion on the training slice only (VAR/AR lags, VECM lags and
Johansen trace-test rank, the SES smoothing weight), so a refit never sees data after its origin.
Models on differences carry no drift: over 14–30 steps an in-sample mean return is extrapolated
noise on prices this close to a random walk (docs/model.md#candidates).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gasforecast.forecasting.config import ModelConfig
from gasforecast.forecasting.linear import LevelModel, choose_log_columns, levels_from_differences, transform

WEEK = 7
SES_ALPHAS = np.round(np.arange(0.05, 1.0001, 0.05), 2)  # smoothing weights tried (1.0 is naive)
SES_MAX_LAGS = 200
SES_TAIL = 1e-4  # SES weights are truncated where (1 - alpha)^lag falls below this (then renormalised)


@dataclass(frozen=True)
class CalendarTerm:
    """A deterministic term of the target's logs: a weekday profile."""

    kind: str  # "weekday"
    effects: np.ndarray  # 7 weekday levels (Mon..Sun), summing to 0

    def values(self, dates: pd.DatetimeIndex) -> np.ndarray:
        return self.effects[np.asarray(dates.day_of_week)]


@dataclass
class FitResult:
    level_model: LevelModel
    orders: dict[str, Any] = field(default_factory=dict)
    results: Any = None  # the statsmodels results object (only when asked for: the served model)
    term: CalendarTerm | None = None


def describe_transforms(config: ModelConfig, log_columns: tuple[bool, ...]) -> str:
    """Human description of the modelling space, e.g. "log-difference; hdd: difference"."""
    base = {"naive": "log", "ses": "log-level", "vecm": "log-level (VECM)"}.get(config.kind, "log-difference")
    if config.seasonal != "none":
        base += " less a weekday profile"
    plain = [name for name, use_log in zip(config.drivers, log_columns[1:], strict=True) if not use_log]
    if not plain:
        return base
    how = "level" if config.kind == "vecm" else "difference"
    return f"{base}; " + ", ".join(f"{name}: {how}" for name in plain)


def estimate_term(kind: str, log_target: np.ndarray, dates: pd.DatetimeIndex) -> CalendarTerm | None:
    """Weekday levels: the median deviation from a centred 7-row mean, so spikes do not set the profile."""
    if kind == "none":
        return None
    series = pd.Series(log_target)
    deviation = series - series.rolling(WEEK, center=True).mean()
    profile = deviation.groupby(np.asarray(dates.day_of_week)).median().reindex(range(WEEK)).fillna(0.0)
    return CalendarTerm(kind, profile.to_numpy() - profile.mean())


def fit_candidate(config: ModelConfig, values: np.ndarray, dates: pd.DatetimeIndex,
                  with_results: bool = False) -> FitResult:
    """Fit `config.core` on `values` (rows of the calendar `dates`; target then drivers, all finite)."""
    columns = ("target",) + config.drivers
    log_columns = choose_log_columns(values)
    if not log_columns[0]:
        raise ValueError("the target must be strictly positive")
    z = transform(values, log_columns)
    term = estimate_term(config.seasonal, z[:, 0], dates)
    if term is not None:
        z[:, 0] -= term.values(dates)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' frequency and convergence chatter
        coefs, intercept, orders, results = _FITTERS[config.kind](config, z, with_results)
    return FitResult(LevelModel(columns, log_columns, intercept, coefs), orders, results, term)


# What each fitter returns: level-form coefficients, intercept, the orders it chose and, when asked,
# the statsmodels results object (kept for analysts who load a version).
Fitted = tuple[np.ndarray, np.ndarray, dict[str, float], Any]


def _naive(config: ModelConfig, z: np.ndarray, with_results: bool) -> Fitted:
    results = None
    if with_results:
        from statsmodels.tsa.arima.model import ARIMA

        results = ARIMA(z[:, 0], order=(0, 1, 0)).fit(low_memory=True)
    return np.ones((1, 1, 1)), np.zeros(1), {}, results


def ses_weights(alpha: float) -> np.ndarray:
    """Level-form weights of simple exponential smoothing, `alpha (1 - alpha)^i`, truncated and summing to 1."""
    if alpha >= 1.0:
        return np.ones(1)
    lags = int(min(SES_MAX_LAGS, max(1, np.ceil(np.log(SES_TAIL) / np.log(1.0 - alpha)))))
    weights = alpha * (1.0 - alpha) ** np.arange(lags)
    return weights / weights.sum()


def ses_alpha(y: np.ndarray) -> float:
    """Smoothing weight minimising the in-sample one-step squared error over `SES_ALPHAS`."""
    from scipy.signal import lfilter

    best, best_sse = 1.0, np.inf
    for alpha in SES_ALPHAS:
        level = lfilter([alpha], [1.0, alpha - 1.0], y, zi=[(1.0 - alpha) * y[0]])[0]
        sse = float(np.sum((y[1:] - level[:-1]) ** 2))
        if sse < best_sse:
            best, best_sse = float(alpha), sse
    return best


def _ses(config: ModelConfig, z: np.ndarray, with_results: bool) -> Fitted:
    """Simple exponential smoothing of the log level (ARIMA(0,1,1)): a flat forecast at the smoothed level."""
    alpha = ses_alpha(z[:, 0])
    results = None
    if with_results:
        from statsmodels.tsa.holtwinters import SimpleExpSmoothing

        results = SimpleExpSmoothing(z[:, 0], initialization_method="known", initial_level=z[0, 0]).fit(
            smoothing_level=alpha, optimized=False)
    weights = ses_weights(alpha)
    return weights.reshape(-1, 1, 1), np.zeros(1), {"alpha": alpha}, results


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


def _ar(config: ModelConfig, z: np.ndarray, with_results: bool) -> Fitted:
    from statsmodels.tsa.ar_model import AutoReg

    returns = np.diff(z[:, 0])
    p = select_lag_order(returns[:, None], config.max_lags, config.ic)
    if p == 0:
        diff_coefs = np.zeros((1, 1, 1))
        results = _naive(config, z, with_results)[3]  # no lag earns its place: this AR is the random walk
    else:
        results = AutoReg(returns, lags=p, trend="n").fit()
        diff_coefs = np.asarray(results.params, dtype=float).reshape(p, 1, 1)
    intercept, coefs = levels_from_differences(np.zeros(1), diff_coefs)
    return coefs, intercept, {"lags": p}, results


def _var(config: ModelConfig, z: np.ndarray, with_results: bool) -> Fitted:
    return _var_fixed(z, max(select_lag_order(np.diff(z, axis=0), config.max_lags, config.ic), 1))


def _vecm(config: ModelConfig, z: np.ndarray, with_results: bool) -> Fitted:
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


def _var_fixed(z: np.ndarray, lags: int) -> Fitted:
    from statsmodels.tsa.api import VAR

    results = VAR(np.diff(z, axis=0)).fit(lags, trend="n")
    intercept, coefs = levels_from_differences(np.zeros(z.shape[1]), results.coefs)
    return coefs, intercept, {"lags": lags}, results


_FITTERS = {
    "naive": _naive,
    "ar": _ar,
    "ses": _ses,
    "var": _var,
    "vecm": _vecm,
}
