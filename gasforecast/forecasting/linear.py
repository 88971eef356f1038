"""Every candidate as a linear recursion in (log-)levels, so one vectorised routine forecasts them all.

A VAR on differences, a VECM and an AR on differences all have an exact VAR-in-levels form
`z_t = c + A_1 z_{t-1} + ... + A_p z_{t-p}`; the naive forecast is `A_1 = 1`. Forecasting from thousands of origins is then a few `einsum` calls, which is what makes
an honest daily-origin backtest cheap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LevelModel:
    """`z_t = intercept + sum_i coefs[i] @ z_{t-1-i}` over `columns` (target first), `z` the transformed data."""

    columns: tuple[str, ...]
    log_columns: tuple[bool, ...]
    intercept: np.ndarray  # (k,)
    coefs: np.ndarray  # (p, k, k), coefs[0] multiplies the latest value

    @property
    def order(self) -> int:
        return self.coefs.shape[0]


def choose_log_columns(values: np.ndarray) -> tuple[bool, ...]:
    """Log a column only if every value the model sees is strictly positive; others stay in levels."""
    with np.errstate(invalid="ignore"):
        return tuple(bool(np.all(values[:, j] > 0)) for j in range(values.shape[1]))


def transform(values: np.ndarray, log_columns: tuple[bool, ...]) -> np.ndarray:
    """Model space: logs of the log columns (non-positive values become NaN), others unchanged."""
    out = np.array(values, dtype=float, copy=True)
    for j, use_log in enumerate(log_columns):
        if use_log:
            column = out[:, j]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[:, j] = np.where(column > 0, np.log(np.where(column > 0, column, 1.0)), np.nan)
    return out


def levels_from_differences(intercept: np.ndarray, diff_coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VAR(p) on differences → VAR(p+1) in levels (exact): A_1 = I + B_1, A_i = B_i - B_{i-1}, A_{p+1} = -B_p."""
    p, k, _ = diff_coefs.shape
    coefs = np.zeros((p + 1, k, k))
    coefs[0] = np.eye(k)
    coefs[:p] += diff_coefs
    coefs[1:] -= diff_coefs
    return np.asarray(intercept, dtype=float).reshape(k), coefs


def forecast_paths(model: LevelModel, z: np.ndarray, origins: np.ndarray, steps: int) -> np.ndarray:
    """Target path (model space) for `steps` days after each origin position, using z up to the origin only.

    Returns shape (len(origins), steps); NaN where the model's state at an origin is incomplete.
    """
    p = model.order
    origins = np.asarray(origins, dtype=int)
    if origins.size and origins.min() < p - 1:
        raise ValueError("an origin has fewer past observations than the model's order")
    window = origins[:, None] + np.arange(-p + 1, 1)[None, :]
    lags = z[window][:, ::-1, :]  # (n, p, k), lags[:, 0] is the value at the origin
    out = np.empty((origins.size, steps))
    for step in range(steps):
        nxt = model.intercept + np.einsum("pjk,npk->nj", model.coefs, lags)
        out[:, step] = nxt[:, 0]
        lags = np.concatenate([nxt[:, None, :], lags[:, :-1, :]], axis=1)
    return out
