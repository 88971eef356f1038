"""Prediction intervals from the model's own past errors, scaled by a volatility term structure.

Gas returns are heavy-tailed and their volatility moves in regimes (an order of magnitude in
2021–22), so Gaussian analytic intervals are wrong twice. Instead (docs/model.md#intervals):

1. Volatility now, from **absolute** one-step log returns (a spike day or a crisis year weighs
   in linearly, not squared): an EWMA of |r| (decay `EWMA_DECAY`), floored at `FLOOR` × the
   long-run level (the mean |r| over the trailing `LONG_RUN_YEARS`), so it follows a new regime at
   once in both directions yet never collapses after a calm spell.
2. Term structure: the variance of step j reverts from today's towards the long-run variance
   (`PERSISTENCE` per step, as in a GARCH(1,1) forecast); the scale of an h-step error is the square
   root of the sum over steps 1..h. It rises smoothly and strictly with h.
3. Every past forecast error of the evaluation stretch (log space, outcome already observed) is
   divided by its scale at its origin. The 80 % and 95 % quantiles of the absolute standardised
   errors per step carry the heavy tails. They are **weighted towards recent origins** (half-life
   `CALIBRATION_HALF_LIFE_YEARS`): how errors relate to the volatility estimate drifts with the
   regime, and a calibration set dominated by a past regime miscalibrates the next one
   (non-exchangeable conformal prediction, Barber et al. 2023). A power law in the step,
   `q(h) = a·h^b` fitted across steps 1..H, smooths them, so bands widen smoothly (no stair steps)
   and extend past H. The half-widths are `q(h)·scale(h)` on both sides (in logs), made
   non-decreasing in h as a last guard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gasforecast.ingestion.series_calendar import ROWS_PER_YEAR

LEVELS = (80, 95)
EWMA_DECAY = 0.94
FLOOR = 0.5  # today's volatility never falls below this share of the long-run level
LONG_RUN_YEARS = 3.0
PERSISTENCE = 0.98  # per step: how slowly the variance of future steps reverts to the long-run variance
CALIBRATION_HALF_LIFE_YEARS = 0.5  # weight of a stretch origin's errors halves with every half-year of age
VARIANCE_FLOOR = 1e-8
MIN_ERRORS = 20
MAX_EXPONENT = 0.35  # |b| bound of the smoothed quantile power law: scale(h) carries the main growth


def volatility_state(log_target: np.ndarray, calendar: str) -> tuple[np.ndarray, np.ndarray]:
    """(today's variance, long-run variance) known at each row, from the absolute returns up to that row."""
    moves = pd.Series(np.abs(np.diff(log_target, prepend=log_target[0])))
    recent = moves.ewm(alpha=1 - EWMA_DECAY, adjust=False).mean().to_numpy()
    window = max(20, int(round(LONG_RUN_YEARS * ROWS_PER_YEAR[calendar])))
    long_run = moves.rolling(window, min_periods=1).mean().to_numpy()
    today = np.maximum(recent, FLOOR * long_run)
    return np.maximum(today**2, VARIANCE_FLOOR), np.maximum(long_run**2, VARIANCE_FLOOR)


def error_scale(today: np.ndarray, long_run: np.ndarray, steps: int) -> np.ndarray:
    """Scale of the 1..steps-step log errors for each origin: sqrt of the summed step variances, (n, steps)."""
    decay = PERSISTENCE ** np.arange(steps)
    step_variance = long_run[:, None] + (today - long_run)[:, None] * decay[None, :]
    return np.sqrt(np.cumsum(step_variance, axis=1))


def recency_weights(count: int, half_life_rows: float) -> np.ndarray:
    """Weights of `count` consecutive origins, oldest first: the newest weighs 1, halving every `half_life_rows`."""
    return 0.5 ** (np.arange(count - 1, -1, -1) / half_life_rows)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, levels: list[float]) -> np.ndarray | None:
    """Per column of `values` (NaN = not observed): the weighted quantiles at `levels`, (columns, levels).

    Each sorted value sits at the midpoint of its cumulative weight (so equal weights give the Hazen
    quantile). None when some column has fewer than MIN_ERRORS observed values.
    """
    observed = np.isfinite(values)
    counts = observed.sum(axis=0)
    if counts.min() < MIN_ERRORS:
        return None
    order = np.argsort(np.where(observed, values, np.inf), axis=0)
    ranked = np.take_along_axis(values, order, axis=0)
    mass = np.take_along_axis(np.where(observed, weights[:, None], 0.0), order, axis=0)
    cumulative = np.cumsum(mass, axis=0)
    position = (cumulative - 0.5 * mass) / cumulative[-1]
    return np.array([np.interp(levels, position[: n, s], ranked[: n, s]) for s, n in enumerate(counts)])


def quantile_curves(standardised: np.ndarray, half_life_rows: float) -> dict[int, tuple[float, float]] | None:
    """Power-law fits (log a, b) of the 80 % and 95 % quantiles of |standardised error| over the steps.

    Rows are the stretch origins, oldest first; their errors are weighted by `recency_weights`.
    Symmetric on purpose: a skew learnt from one regime's trend does not carry into the next
    (measured on the development period, docs/model.md#intervals). NaN entries (outcomes not
    observed yet) are skipped. None when some step has fewer than MIN_ERRORS errors.
    """
    steps = standardised.shape[1]
    weights = recency_weights(standardised.shape[0], half_life_rows)
    table = weighted_quantiles(np.abs(standardised), weights, [level / 100 for level in LEVELS])
    if table is None:
        return None
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


class IntervalCalibration:
    """The volatility scales of one frame's stretch, shared by every candidate assessed on it.

    `origins`: the stretch origins (row positions, oldest first) whose errors calibrate the bands;
    `steps`: the steps of those errors; `steps_out`: the steps of the bands served from the last row.
    """

    def __init__(self, log_target: np.ndarray, calendar: str, origins: np.ndarray, steps: int, steps_out: int):
        today, long_run = volatility_state(log_target, calendar)
        self.scale = error_scale(today[origins], long_run[origins], steps)
        self.scale_now = error_scale(today[-1:], long_run[-1:], steps_out)[0]
        self.half_life_rows = CALIBRATION_HALF_LIFE_YEARS * ROWS_PER_YEAR[calendar]

    def widths(self, errors: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
        """Half-widths from the last row, calibrated on `errors` (origins × steps, log; NaN = not observed yet)."""
        curves = quantile_curves(errors / self.scale, self.half_life_rows)
        return None if curves is None else half_widths(curves, self.scale_now)
