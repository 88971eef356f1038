"""Prediction intervals from the model's own past errors, scaled by the current volatility.

Gas returns are heavy-tailed and their volatility moved by an order of magnitude in 2021–22, so
Gaussian analytic intervals are wrong twice. Instead: each past forecast error (log space) is divided
by `sigma_t * sqrt(h)`, with `sigma_t` an EWMA of daily log-returns known at its origin; an interval
at a new origin is the empirical quantiles of those standardised errors — only errors whose outcome
was already observed, from origins on the same weekday — times the volatility now. (Same weekday:
business-day prices carried over weekends make a Friday's next day flat and a Wednesday's not.) Half-widths are made non-decreasing in the horizon.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

EWMA_DECAY = 0.97
SIGMA_FLOOR = 1e-4
LEVELS = {80: (0.10, 0.90), 95: (0.025, 0.975)}
MIN_ERRORS = 20
WEEK_DAYS = 7


def ewma_volatility(log_target: np.ndarray, decay: float = EWMA_DECAY) -> np.ndarray:
    """EWMA daily volatility known at each position (uses returns up to that day)."""
    returns = np.diff(log_target, prepend=log_target[0])
    variance = pd.Series(returns**2).ewm(alpha=1 - decay, adjust=False).mean().to_numpy()
    return np.maximum(np.sqrt(variance), SIGMA_FLOOR)


def same_weekday(origin_positions: np.ndarray, position: int) -> np.ndarray:
    """Mask of past origins (row positions in a daily frame) on the same weekday as `position`."""
    return (position - np.asarray(origin_positions)) % WEEK_DAYS == 0


def standardise(errors: np.ndarray, sigma: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """errors (n_origins, n_steps) in log space → units of sigma_origin * sqrt(step)."""
    return errors / (sigma[:, None] * np.sqrt(steps)[None, :])


def quantile_offsets(pools: Sequence[np.ndarray]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """One pool of standardised errors per step → lower and upper quantile per step for each level.

    A pool with fewer than MIN_ERRORS errors gives NaN (no interval rather than a made-up one).
    """
    probabilities = [p for level in LEVELS for p in LEVELS[level]]
    table = np.full((len(pools), len(probabilities)), np.nan)
    for i, pool in enumerate(pools):
        if pool.size >= MIN_ERRORS:
            table[i] = np.quantile(pool, probabilities)
    return {level: (table[:, 2 * j], table[:, 2 * j + 1]) for j, level in enumerate(LEVELS)}


def interval_bounds(
    centre: np.ndarray, sigma: np.ndarray, steps: np.ndarray, low_q: np.ndarray, high_q: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log-space bounds for centre (n, len(steps)); half-widths forced non-decreasing along steps."""
    scale = sigma[:, None] * np.sqrt(steps)[None, :]
    below = np.maximum.accumulate(np.maximum(-low_q[None, :] * scale, 0.0), axis=1)
    above = np.maximum.accumulate(np.maximum(high_q[None, :] * scale, 0.0), axis=1)
    return centre - below, centre + above
