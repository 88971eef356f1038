"""Online combination of quantile forecasts: Bernstein online aggregation (BOA) on the pinball loss.

Each (step, level) pair keeps its own weights over the experts (Wintenberger 2017; for quantiles and
CRPS, Berrisch & Ziel 2023). The loss is linearised at the combined forecast (the gradient trick), so
an expert's regret at one outcome is g · (combined − expert), with g = 1{outcome < combined} − τ the
pinball gradient. Weights are exp(η · R), R the regret summed with BOA's second-order penalty
(− η r²), η = √(log K ÷ Σ r²) per expert. Both sums forget a share `forget` per update, so the
weights follow a change of regime; regrets are smoothed across neighbouring levels (the tails see few
informative outcomes).

An h-step forecast made at row s is scored when row s + h is observed, so the weights used at origin
t have only seen forecasts made at or before t − h: nothing is learned from the future.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FORGET = 0.01  # share of past regret forgotten per update (an effective memory of about 100 outcomes)
LEVEL_BANDWIDTH = 0.10  # Gaussian kernel width, in probability, of the smoothing across levels
MAX_ETA_REGRET = 50.0  # bound on η·R before exponentiation (numerical safety only)


def level_smoother(levels: np.ndarray, bandwidth: float = LEVEL_BANDWIDTH) -> np.ndarray:
    """Row-normalised Gaussian kernel over the levels, (levels, levels); the identity when bandwidth is 0."""
    if bandwidth <= 0:
        return np.eye(levels.size)
    kernel = np.exp(-0.5 * ((levels[:, None] - levels[None, :]) / bandwidth) ** 2)
    return kernel / kernel.sum(axis=1, keepdims=True)


@dataclass
class BoaState:
    """Regret sums and learning rates per (step, level, expert)."""

    regret: np.ndarray
    squares: np.ndarray
    eta: np.ndarray

    @classmethod
    def empty(cls, shape: tuple[int, int, int]) -> BoaState:
        return cls(np.zeros(shape), np.zeros(shape), np.zeros(shape))

    def weights(self, smoother: np.ndarray) -> np.ndarray:
        """Current weights (steps, levels, experts), summing to one over the experts."""
        smoothed = np.einsum("ml,slk->smk", smoother, self.regret)
        exponent = np.clip(self.eta * smoothed, -MAX_ETA_REGRET, MAX_ETA_REGRET)
        exponent -= exponent.max(axis=-1, keepdims=True)
        raw = np.exp(exponent)
        return raw / raw.sum(axis=-1, keepdims=True)

    def update(self, experts: np.ndarray, combined: np.ndarray, outcome: np.ndarray, levels: np.ndarray,
               active: np.ndarray, forget: float) -> None:
        """One scored forecast per step: experts (steps, levels, K), combined (steps, levels), outcome (steps,).

        `active` (steps,) marks the steps that have a forecast maturing now.
        """
        gradient = (outcome[:, None] < combined).astype(float) - levels[None, :]
        regret = gradient[:, :, None] * (combined[:, :, None] - experts)
        keep = np.where(active, 1.0 - forget, 1.0)[:, None, None]
        add = active[:, None, None]
        self.regret = keep * self.regret + add * (regret - self.eta * regret**2)
        self.squares = keep * self.squares + add * regret**2
        count = experts.shape[-1]
        with np.errstate(divide="ignore"):
            self.eta = np.where(self.squares > 0, np.sqrt(np.log(count) / np.maximum(self.squares, 1e-300)), 0.0)


@dataclass
class OnlineCombination:
    """The combined quantiles at every row from the start, and the weights after the last observed outcome."""

    combined: np.ndarray  # (rows, steps, levels); NaN before the start
    weights: np.ndarray  # (steps, levels, experts) used for a forecast from the last row


def combine_online(experts: np.ndarray, outcomes: np.ndarray, steps: np.ndarray, levels: np.ndarray,
                   start: int, forget: float = FORGET, bandwidth: float = LEVEL_BANDWIDTH,
                   weight_steps: np.ndarray | None = None) -> OnlineCombination:
    """Run BOA through the rows in time order.

    `experts`: (rows, steps, levels, K) quantiles of the h-step move from each row (finite from `start`);
    `outcomes`: (rows, steps), the realised h-step move from each row (NaN when not observed yet).
    Before a forecast from row t, the state has absorbed exactly the forecasts from rows s ≥ start
    with s + h ≤ t. `weight_steps[j]`: the step whose weights step j uses (default: its own). The
    combined quantiles are sorted across levels (no crossing).
    """
    rows, count_steps, count_levels, count = experts.shape
    state = BoaState.empty((count_steps, count_levels, count))
    smoother = level_smoother(levels, bandwidth)
    combined = np.full((rows, count_steps, count_levels), np.nan)
    index = np.arange(count_steps)
    source_step = np.arange(count_steps) if weight_steps is None else weight_steps
    weights = state.weights(smoother)[source_step]
    for t in range(start, rows):
        matured = t - steps  # origins whose h-step outcome is row t
        active = matured >= start
        if active.any():
            source = np.where(active, matured, start)
            state.update(experts[source, index], combined[source, index], outcomes[source, index], levels,
                         active, forget)
            weights = state.weights(smoother)[source_step]
        combined[t] = np.sort(np.einsum("slk,slk->sl", weights, experts[t]), axis=-1)
    return OnlineCombination(combined, weights)
