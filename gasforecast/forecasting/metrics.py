"""Forecast accuracy and interval metrics, on the price scale, averaged over backtest origins."""

from __future__ import annotations

import numpy as np

METRIC_NAMES = ("mae", "rmse", "mase", "smape", "coverage_80", "coverage_95", "winkler_95")


def winkler_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float) -> np.ndarray:
    """Interval score: width plus 2/alpha times the distance by which the actual falls outside."""
    below = np.clip(lower - actual, 0, None)
    above = np.clip(actual - upper, 0, None)
    return (upper - lower) + (2.0 / alpha) * (below + above)


def horizon_metrics(
    actual: np.ndarray,
    mean: np.ndarray,
    naive_scale: np.ndarray,
    lower_80: np.ndarray,
    upper_80: np.ndarray,
    lower_95: np.ndarray,
    upper_95: np.ndarray,
) -> dict[str, float]:
    """Metrics over origins for one horizon; `naive_scale` is each origin's in-sample one-day naive MAE.

    sMAPE is in percent (0–200); MASE divides each absolute error by its origin's scale.
    """
    error = actual - mean
    absolute = np.abs(error)
    return {
        "mae": float(np.mean(absolute)),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mase": float(np.mean(absolute / naive_scale)),
        "smape": float(np.mean(200.0 * absolute / (np.abs(actual) + np.abs(mean)))),
        "coverage_80": float(np.mean((actual >= lower_80) & (actual <= upper_80))),
        "coverage_95": float(np.mean((actual >= lower_95) & (actual <= upper_95))),
        "winkler_95": float(np.mean(winkler_score(actual, lower_95, upper_95, 0.05))),
    }


def naive_scales(target: np.ndarray, origins: np.ndarray) -> np.ndarray:
    """In-sample one-day naive MAE of the target over all history up to each origin (price units)."""
    moves = np.abs(np.diff(target))
    cumulative = np.concatenate([[0.0], np.cumsum(moves)])
    origins = np.asarray(origins, dtype=int)
    if origins.min() < 1:
        raise ValueError("MASE needs at least two observations before an origin")
    return cumulative[origins] / origins
