"""Scores of interval and quantile forecasts, and the tests of their calibration (docs/model.md#nested-evaluation)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

ALPHAS = {80: 0.20, 95: 0.05}
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 7


def winkler_score(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray, alpha: float) -> np.ndarray:
    """Interval score: width plus 2/alpha times the distance by which the actual falls outside."""
    below = np.clip(lower - actual, 0, None)
    above = np.clip(actual - upper, 0, None)
    return (upper - lower) + (2.0 / alpha) * (below + above)


def interval_score(actual: np.ndarray, bounds: dict[int, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Mean of the 80 % and 95 % Winkler scores (price units), element-wise."""
    return np.mean([winkler_score(actual, *bounds[level], ALPHAS[level]) for level in ALPHAS], axis=0)


def pinball(actual: np.ndarray, quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Quantile loss of `quantiles` (..., levels) at `actual` (...), (..., levels)."""
    gap = actual[..., None] - quantiles
    return np.maximum(levels * gap, (levels - 1) * gap)


def quantile_crps(actual: np.ndarray, quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """CRPS approximated on a quantile grid: twice the mean pinball loss over its levels, (...)."""
    return 2.0 * pinball(actual, quantiles, levels).mean(axis=-1)


def crossings(quantiles: np.ndarray) -> int:
    """How many adjacent pairs of quantiles are out of order (a lower level above a higher one)."""
    return int(np.sum(np.diff(quantiles, axis=-1) < 0))


def pit_values(actual: np.ndarray, quantiles: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Probability integral transform from a quantile grid: the level at which `actual` falls (linear between
    levels, the outer levels' tails spread evenly down to 0 and up to 1)."""
    grid = np.concatenate([[0.0], levels, [1.0]])
    out = np.empty(actual.shape)
    for index in np.ndindex(actual.shape):
        q = quantiles[index]
        width = q[-1] - q[0]
        padded = np.concatenate([[q[0] - width], q, [q[-1] + width]])
        out[index] = np.interp(actual[index], padded, grid)
    return out


def pit_deciles(pit: np.ndarray) -> list[float]:
    """Share of PIT values in each tenth of [0, 1] (each 0.1 when calibrated)."""
    counts, _ = np.histogram(np.clip(pit, 0.0, 1.0), bins=10, range=(0.0, 1.0))
    return [float(c) / max(1, pit.size) for c in counts]


def kupiec_p_value(hits: np.ndarray, nominal: float) -> float:
    """Kupiec's proportion-of-failures test: p-value of 'the band holds the price with probability `nominal`'."""
    hits = np.asarray(hits, dtype=bool).ravel()
    n, misses = hits.size, int((~hits).sum())
    if n == 0:
        return math.nan
    p = 1.0 - nominal
    observed = misses / n

    def log_likelihood(rate: float) -> float:
        return (misses * math.log(rate) if misses else 0.0) + ((n - misses) * math.log(1 - rate) if n - misses else 0.0)

    statistic = -2.0 * (log_likelihood(p) - log_likelihood(min(max(observed, 1e-12), 1 - 1e-12)))
    return float(stats.chi2.sf(max(statistic, 0.0), 1))


def christoffersen_p_value(hits: np.ndarray) -> float:
    """Christoffersen's independence test: p-value of 'a miss today says nothing about a miss tomorrow'."""
    miss = ~np.asarray(hits, dtype=bool).ravel()
    previous, current = miss[:-1], miss[1:]
    n00 = int(np.sum(~previous & ~current))
    n01 = int(np.sum(~previous & current))
    n10 = int(np.sum(previous & ~current))
    n11 = int(np.sum(previous & current))
    if n01 + n11 == 0 or n00 + n10 == 0:
        return 1.0  # never (or always) a miss: nothing to cluster

    def term(count: int, rate: float) -> float:
        return count * math.log(rate) if count else 0.0

    pi0 = n01 / max(1, n00 + n01)
    pi1 = n11 / max(1, n10 + n11)
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    unrestricted = term(n00, 1 - pi0) + term(n01, pi0) + term(n10, 1 - pi1) + term(n11, pi1)
    restricted = term(n00 + n10, 1 - pi) + term(n01 + n11, pi)
    return float(stats.chi2.sf(max(-2.0 * (restricted - unrestricted), 0.0), 1))


def block_bootstrap_interval(samples: list[np.ndarray], block: int, level: float = 0.95,
                             draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Interval of the pooled mean of several time series (e.g. one coverage series per price series).

    A circular block bootstrap within each series (blocks of `block` consecutive values keep the
    overlap of h-step outcomes together), pooled over the series.
    """
    rng = np.random.default_rng(seed)
    means = np.zeros(draws)
    total = sum(sample.size for sample in samples)
    for sample in samples:
        n = sample.size
        length = max(1, min(block, n))
        blocks = -(-n // length)
        starts = rng.integers(0, n, size=(draws, blocks))
        index = (starts[:, :, None] + np.arange(length)[None, None, :]).reshape(draws, -1)[:, :n] % n
        means += sample[index].sum(axis=1)
    means /= total
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))
