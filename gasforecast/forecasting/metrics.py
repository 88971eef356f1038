"""Interval scores and the Gaussian naive baseline the nested evaluation compares against (docs/model.md#nested-evaluation)."""

from __future__ import annotations

import numpy as np

GAUSSIAN_Z = {80: 1.2815515655446004, 95: 1.959963984540054}
ALPHAS = {80: 0.20, 95: 0.05}


def winkler_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float) -> np.ndarray:
    """Interval score: width plus 2/alpha times the distance by which the actual falls outside."""
    below = np.clip(lower - actual, 0, None)
    above = np.clip(actual - upper, 0, None)
    return (upper - lower) + (2.0 / alpha) * (below + above)


def interval_score(actual: np.ndarray, bounds: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Mean of the 80 % and 95 % Winkler scores (price units), element-wise."""
    return np.mean([winkler_score(actual, *bounds[level], ALPHAS[level]) for level in ALPHAS], axis=0)


def gaussian_naive_bounds(history: np.ndarray, horizons: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The baseline: the last value, with `exp(log y ± z·σ·√h)` where σ is the standard deviation of every
    one-step log return in `history` (the rows up to the origin, in the series' calendar)."""
    log_history = np.log(history)
    sigma = float(np.std(np.diff(log_history), ddof=1))
    centre = log_history[-1]
    spread = sigma * np.sqrt(np.asarray(horizons, dtype=float))
    return {level: (np.exp(centre - z * spread), np.exp(centre + z * spread)) for level, z in GAUSSIAN_Z.items()}
