"""Is a challenger's edge real? A Diebold–Mariano test with HAC variance on a stretch it was not chosen on.

Forecasts from consecutive origins overlap (a 30-step forecast shares 29 outcomes with the next), so
the loss differentials are autocorrelated up to `horizon - 1` lags: the variance of their mean is the
Newey–West (Bartlett) long-run variance, and the statistic gets the Harvey–Leybourne–Newbold
small-sample correction with Student-t critical values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LossTest:
    mean_difference: float  # challenger loss − incumbent loss (negative: the challenger is better)
    statistic: float
    p_value: float  # one-sided: probability of so negative a statistic if the edge were nil
    origins: int

    def to_dict(self) -> dict:
        return {"mean_difference": self.mean_difference, "statistic": self.statistic, "p_value": self.p_value,
                "origins": self.origins}


def diebold_mariano(challenger_losses: np.ndarray, incumbent_losses: np.ndarray, horizon: int) -> LossTest:
    """One-sided DM test that the challenger's expected loss is lower than the incumbent's."""
    from scipy.stats import t as student_t

    d = np.asarray(challenger_losses, dtype=float) - np.asarray(incumbent_losses, dtype=float)
    d = d[np.isfinite(d)]
    n = d.size
    if n < 2:
        return LossTest(math.nan, math.nan, 1.0, n)
    mean = float(d.mean())
    centred = d - mean
    lags = min(max(horizon - 1, 0), n - 1)
    variance = float(centred @ centred) / n
    for k in range(1, lags + 1):
        variance += 2.0 * (1.0 - k / (lags + 1)) * float(centred[k:] @ centred[:-k]) / n
    if variance <= 0:
        variance = float(centred @ centred) / n
    if variance <= 0:  # identical forecasts
        return LossTest(mean, 0.0, 0.5 if mean == 0 else (0.0 if mean < 0 else 1.0), n)
    statistic = mean / math.sqrt(variance / n)
    h = max(horizon, 1)
    correction = (n + 1 - 2 * h + h * (h - 1) / n) / n
    statistic *= math.sqrt(correction) if correction > 0 else 1.0
    return LossTest(mean, statistic, float(student_t.cdf(statistic, df=n - 1)), n)
