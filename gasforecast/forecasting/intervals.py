"""Prediction intervals from the model's own past errors, scaled by a volatility term structure.

Gas returns are heavy-tailed and their volatility moves in regimes (an order of magnitude in
2021–22), so Gaussian analytic intervals are wrong twice. Instead:

1. Volatility now: an EWMA variance of the one-step log returns blended with a long-run variance
   (the mean square return over the trailing `LONG_RUN_YEARS`), so it adapts to a new regime without
   collapsing after a calm spell.
2. Term structure: the variance of step j reverts from that blend towards the long-run variance
   (`PERSISTENCE` per step, as in a GARCH(1,1) forecast); the scale of an h-step error is the square
   root of the sum over steps 1..h. It rises smoothly and strictly with h.
3. Every past forecast error of the evaluation stretch (log space, outcome already observed) is
   divided by its scale at its origin. The empirical 80 % and 95 % quantiles of the absolute
   standardised errors per step carry the heavy tails; a power law in the step, `q(h) = a·h^b`
   fitted across steps 1..H, smooths them, so bands widen smoothly (no stair steps) and extend
   past H. The half-widths are `q(h)·scale(h)` on both sides (in logs), made non-decreasing in h
   as a last guard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gasforecast.series_calendar import ROWS_PER_YEAR

LEVELS = (80, 95)
EWMA_DECAY = 0.94
SHORT_WEIGHT = 0.6  # weight of the EWMA variance in today's variance; the rest is long-run
LONG_RUN_YEARS = 3.0
PERSISTENCE = 0.98  # per step: how slowly the variance of future steps reverts to the long-run variance
VARIANCE_FLOOR = 1e-8
MIN_ERRORS = 20
MAX_EXPONENT = 0.35  # |b| bound of the smoothed quantile power law: scale(h) carries the main growth


def volatility_state(log_target: np.ndarray, calendar: str) -> tuple[np.ndarray, np.ndarray]:
    """(today's blended variance, long-run variance) known at each row (returns up to that row)."""
    returns = np.diff(log_target, prepend=log_target[0])
    squares = pd.Series(returns**2)
    ewma = squares.ewm(alpha=1 - EWMA_DECAY, adjust=False).mean().to_numpy()
    window = max(20, int(round(LONG_RUN_YEARS * ROWS_PER_YEAR[calendar])))
    long_run = squares.rolling(window, min_periods=1).mean().to_numpy()
    today = SHORT_WEIGHT * ewma + (1 - SHORT_WEIGHT) * long_run
    return np.maximum(today, VARIANCE_FLOOR), np.maximum(long_run, VARIANCE_FLOOR)


def error_scale(today: np.ndarray, long_run: np.ndarray, steps: int) -> np.ndarray:
    """Scale of the 1..steps-step log errors for each origin: sqrt of the summed step variances, (n, steps)."""
    decay = PERSISTENCE ** np.arange(steps)
    step_variance = long_run[:, None] + (today - long_run)[:, None] * decay[None, :]
    return np.sqrt(np.cumsum(step_variance, axis=1))


def quantile_curves(standardised: np.ndarray) -> dict[int, tuple[float, float]] | None:
    """Power-law fits (log a, b) of the 80 % and 95 % quantiles of |standardised error| over the steps.

    Symmetric on purpose: a skew learnt from one regime's trend does not carry into the next
    (measured on the development period, docs/model.md#intervals). NaN entries (outcomes not
    observed yet) are skipped. None when some step has fewer than MIN_ERRORS errors.
    """
    steps = standardised.shape[1]
    levels = [level / 100 for level in LEVELS]
    table = np.empty((steps, len(levels)))
    for s in range(steps):
        pool = standardised[:, s]
        pool = pool[np.isfinite(pool)]
        if pool.size < MIN_ERRORS:
            return None
        table[s] = np.quantile(np.abs(pool), levels)
    log_step = np.log(np.arange(1, steps + 1))
    design = np.column_stack([np.ones(steps), log_step])
    curves = {}
    for j, level in enumerate(LEVELS):
        magnitude = np.log(np.maximum(table[:, j], 1e-3))
        (log_a, b), *_ = np.linalg.lstsq(design, magnitude, rcond=None)
        b = float(np.clip(b, -MAX_EXPONENT, MAX_EXPONENT))
        curves[level] = (float(np.mean(magnitude - b * log_step)), b)  # level refitted with the clipped exponent
    return curves


def half_widths(curves: dict[int, tuple[float, float]], scale: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Log-space (below, above) half-widths for steps 1..len(scale), non-decreasing; 95 % never inside 80 %."""
    log_step = np.log(np.arange(1, scale.size + 1))
    widths: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    inner = np.zeros_like(scale)
    for level in LEVELS:
        log_a, b = curves[level]
        half = np.maximum(np.maximum.accumulate(np.exp(log_a + b * log_step) * scale), inner)
        widths[level] = (half, half)
        inner = half
    return widths
