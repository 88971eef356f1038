"""The served predictive distribution: volatility experts combined online per step and level (docs/model.md#distribution).

At every row from the first where every expert can speak, each expert in `EXPERTS` gives quantiles
of the h-step log move at the learned steps; `combination.combine_online` weighs them by their past
pinball losses, learning only from outcomes observed by that row. The served forecast from the last
row interpolates the combined quantiles of the learned steps to every step 1..H (`served_moves`) and
adds them to the served point path's logs. Quantiles never cross (sorted per step).

Because row t depends on the rows up to t only, `predictive_distribution` on the whole frame gives
the nested evaluation every origin's distribution in one pass, identical to a run on the frame cut at
that origin (tested).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gasforecast.forecasting import volatility
from gasforecast.forecasting.combination import combine_online
from gasforecast.forecasting.volatility import Steps
from gasforecast.publication.bundle import QUANTILE_PERCENTS

# The quantile grid: learned, served and scored (CRPS is twice the mean pinball loss over it).
QUANTILE_LEVELS = np.array(QUANTILE_PERCENTS) / 100
LEARNED_STEPS = (1, 2, 3, 5, 7, 10, 14, 21, 30)
# Steps beyond this one use its weights: a 30-step outcome is known 30 rows late and overlaps its
# neighbours, so weights learned there chase noise; the experts' own term structures carry the
# horizon (chosen on the development windows, docs/model.md#distribution).
WEIGHT_SHARING_STEP = 2
BAND_LEVELS = {50: (0.25, 0.75), 80: (0.1, 0.9), 95: (0.025, 0.975)}

Expert = Callable[[np.ndarray, np.ndarray, Steps, np.ndarray, str], np.ndarray]
EXPERTS: dict[str, Expert] = {
    "trailing_gaussian": volatility.trailing_gaussian,
    "ewma_gaussian": volatility.ewma_gaussian,
    "ewma_student": volatility.ewma_student,
    "historical_simulation": volatility.historical_simulation,
    "garch_student": volatility.garch_student,
    "adaptive_fhs": volatility.adaptive_fhs,
}


def learned_steps(horizons: Sequence[int] = ()) -> np.ndarray:
    """The steps the combination learns weights for: the standard ladder plus any scored horizon."""
    return np.array(sorted(set(LEARNED_STEPS) | {int(h) for h in horizons}))


def level_index(level: float) -> int:
    return int(np.flatnonzero(np.isclose(QUANTILE_LEVELS, level))[0])


def realised_moves(log_y: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """(rows, steps): log y[t + h] − log y[t], NaN where row t + h is not observed."""
    out = np.full((log_y.size, steps.size), np.nan)
    for j, h in enumerate(steps):
        out[: log_y.size - h, j] = log_y[h:] - log_y[:-h]
    return out


def expert_quantiles(log_y: np.ndarray, origins: np.ndarray, steps: Steps, calendar: str) -> np.ndarray:
    """(origins, steps, levels, experts): every expert's quantiles of the h-step log move."""
    return np.stack([expert(log_y, origins, steps, QUANTILE_LEVELS, calendar) for expert in EXPERTS.values()],
                    axis=-1)


@dataclass
class PredictiveDistribution:
    """Combined quantiles of the h-step log move from every row (NaN before the experts can speak)."""

    steps: np.ndarray  # the learned steps
    moves: np.ndarray  # (rows, steps, levels)
    weights: np.ndarray  # (steps, levels, experts) used for a forecast from the last row
    start: int

    def at(self, row: int, horizons: Steps) -> np.ndarray:
        """(horizons, levels) quantiles of the move from `row` at learned steps `horizons`."""
        columns = [int(np.flatnonzero(self.steps == h)[0]) for h in horizons]
        return self.moves[row, columns]

    def to_dict(self) -> dict:
        """What the model card says of it: the experts, and each one's mean weight per learned step (over the levels)."""
        return {
            "method": "volatility experts combined per step and level by Bernstein online aggregation on the pinball loss",
            "experts": list(EXPERTS),
            "quantile_levels": [float(level) for level in QUANTILE_LEVELS],
            "learned_from": int(self.start),
            "weights": {str(int(h)): {name: round(float(w), 4) for name, w in zip(EXPERTS, self.weights[j].mean(axis=0), strict=True)}
                        for j, h in enumerate(self.steps)},
        }


def predictive_distribution(log_y: np.ndarray, calendar: str, horizons: Sequence[int] = ()) -> PredictiveDistribution:
    """Experts at every row, combined online; raises ValueError when the history is too short for the experts."""
    steps = learned_steps(horizons)
    origins = np.arange(log_y.size)
    experts = expert_quantiles(log_y, origins, steps, calendar)
    ready = np.flatnonzero(np.all(np.isfinite(experts), axis=(1, 2, 3)))
    if ready.size == 0:
        raise ValueError("too little history for the volatility experts")
    start = int(ready[0])
    experts[:start] = 0.0  # never read: the combination starts at `start`
    shared = np.minimum(np.arange(steps.size), int(np.searchsorted(steps, WEIGHT_SHARING_STEP, side="right")) - 1)
    combination = combine_online(experts, realised_moves(log_y, steps), steps, QUANTILE_LEVELS, start,
                                 weight_steps=shared)
    return PredictiveDistribution(steps, combination.combined, combination.weights, start)


def served_moves(distribution: PredictiveDistribution, horizon: int) -> np.ndarray:
    """(horizon, levels): the quantiles of the move from the last row for steps 1..horizon.

    The combined quantiles at the learned steps, divided by √h, are interpolated in log h (held level
    past the last learned step), times √h; each quantile's distance from the median never shrinks as
    the step grows, and the levels never cross.
    """
    steps = distribution.steps.astype(float)
    per_root = distribution.moves[-1] / np.sqrt(steps)[:, None]  # (learned steps, levels)
    every = np.arange(1, horizon + 1, dtype=float)
    moves = np.sqrt(every)[:, None] * np.column_stack(
        [np.interp(np.log(every), np.log(steps), per_root[:, j]) for j in range(per_root.shape[1])])
    median = moves[:, [level_index(0.5)]]
    deviation = moves - median
    upper = QUANTILE_LEVELS > 0.5
    deviation[:, upper] = np.maximum.accumulate(deviation[:, upper], axis=0)
    deviation[:, ~upper] = np.minimum.accumulate(deviation[:, ~upper], axis=0)
    return np.sort(median + deviation, axis=-1)


def error_ratio(served_widths: dict[int, tuple[np.ndarray, np.ndarray]],
                naive_widths: dict[int, tuple[np.ndarray, np.ndarray]], steps: np.ndarray) -> np.ndarray:
    """Per step: the served model's calibrated 80 % half-width ÷ naive's on the same stretch (1 for naive).

    The experts describe the move of a random walk; a model that forecasts better than 'no change'
    (the demo's day-ahead) has proportionally smaller errors, measured on the evaluation stretch.
    """
    index = np.asarray(steps) - 1
    served, naive = served_widths[80][0][index], naive_widths[80][0][index]
    return np.where(naive > 0, served / np.where(naive > 0, naive, 1.0), 1.0)


def price_quantiles(centre: np.ndarray, moves: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """(…, steps, levels) price quantiles: exp(the served log path + the combined moves × the error ratio)."""
    return np.exp(centre[..., None] + moves * ratio[..., None])
