"""Nested evaluation: the whole training procedure re-run at past origins on the rows before each, and scored.

At every scored origin the procedure sees only the rows up to that origin — driver selection, model
selection, the gate and interval calibration included — exactly as the train function would have
run on that day; its forecast is then scored on the outcomes. This is the honest headline figure
(docs/model.md#nested-evaluation).

The gate carries state (the champion's configuration) from one training to the next. So the
stateless part (`procedure.assess`) runs for all origins in parallel processes, then one sequential
pass applies the gate in date order, with the configuration served at the previous origin as the
champion (re-assessing an origin with that configuration when it was not among its candidates).
"""

from __future__ import annotations

import functools
import math
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gasforecast.forecasting import volatility
from gasforecast.forecasting.assessment import Assessment, assess, gate
from gasforecast.forecasting.config import ModelConfig, ProcedureSettings
from gasforecast.forecasting.distribution import (
    BAND_LEVELS,
    QUANTILE_LEVELS,
    Expert,
    PredictiveDistribution,
    error_ratio,
    level_index,
    predictive_distribution,
    price_quantiles,
)
from gasforecast.forecasting.frame import validate_frame
from gasforecast.forecasting.metrics import (
    christoffersen_p_value,
    crossings,
    interval_score,
    kupiec_p_value,
    pit_deciles,
    pit_values,
    quantile_crps,
)
from gasforecast.forecasting.selection import NAIVE
from gasforecast.forecasting.stretch import InsufficientHistory, make_stretch, rows_for_years
from gasforecast.platform.logs import get_logger

log = get_logger(__name__)

# The distributions a risk desk would put beside ours, each a random walk in logs (docs/model.md#baselines).
BASELINES = {
    "trailing_gaussian": "Gaussian, σ of the trailing year's one-step log returns, √h",
    "ewma_gaussian": "RiskMetrics EWMA (λ = 0.94) Gaussian, √h",
    "historical_simulation": "empirical quantiles of the trailing year's overlapping h-step log returns",
    "garch_student": "GARCH(1,1) with Student-t innovations, refitted at each origin, h steps simulated",
}
_BASELINE_EXPERTS: dict[str, Expert] = {
    "trailing_gaussian": volatility.trailing_gaussian,
    "ewma_gaussian": volatility.ewma_gaussian,
    "historical_simulation": volatility.historical_simulation,
    "garch_student": functools.partial(volatility.garch_student, refit_every=1),
}
WEEK_PERIODS = (5, 7)  # a step sharing no factor with these visits every weekday of either calendar


def weekday_step(step: int) -> int:
    """The smallest step ≥ `step` coprime with 5 and 7, so the origins fall on every weekday."""
    while any(math.gcd(step, period) != 1 for period in WEEK_PERIODS):
        step += 1
    return step


def scored_positions(rows: int, calendar: str, settings: ProcedureSettings, origins: int, step: int | None,
                     span_years: float) -> np.ndarray:
    """Origins `step` rows apart (default: `span_years` of rows ÷ origins; always coprime with 5 and 7), the
    last `max(horizons)` rows before the end; origins with too little history for the procedure are dropped."""
    if origins < 1:
        raise ValueError("origins must be at least 1")
    step = weekday_step(step or max(1, rows_for_years(span_years, calendar) // origins))
    last = rows - 1 - settings.max_horizon
    positions = last - step * np.arange(origins - 1, -1, -1)
    viable = []
    for position in positions:
        try:
            make_stretch(int(position) + 1, calendar, settings)
        except InsufficientHistory:
            continue
        viable.append(int(position))
    if not viable:
        raise InsufficientHistory(f"not enough history for a nested evaluation: {rows} rows")
    if len(viable) < origins:
        log.warning("evaluation.origins_reduced", requested=origins, used=len(viable), rows=rows)
    return np.array(viable)


def _assess_at(job: tuple) -> Assessment:
    frame, target, settings, drivers = job
    return assess(frame, target, settings, settings.max_horizon, drivers)


def baseline_quantiles(log_y: np.ndarray, positions: np.ndarray, horizons: Sequence[int],
                       calendar: str) -> dict[str, np.ndarray]:
    """Each baseline's price quantiles (origins, horizons, levels), centred on the price at the origin.

    A baseline that cannot speak at every origin (GARCH needs 250 returns before its first fit) is
    left out, and the evaluation says so (`baselines_left_out`).
    """
    centre = log_y[positions][:, None, None]
    grids = {name: np.exp(centre + expert(log_y, positions, horizons, QUANTILE_LEVELS, calendar))
             for name, expert in _BASELINE_EXPERTS.items()}
    return {name: grid for name, grid in grids.items() if np.all(np.isfinite(grid))}


def _by_h(horizons: Sequence[int], values: np.ndarray) -> dict[str, float]:
    return {str(h): round(float(v), 4) for h, v in zip(horizons, values, strict=True)}


@dataclass
class NestedEvaluation:
    """Served forecasts and distributions at every scored origin, the outcomes, and the baselines' distributions."""

    target: str
    calendar: str
    horizons: tuple[int, ...]
    origins: pd.DatetimeIndex
    step: int
    served: list[str]
    decisions: list[str]
    actual: np.ndarray  # (origins, horizons)
    mean: np.ndarray
    quantiles: np.ndarray  # (origins, horizons, levels) prices, at QUANTILE_LEVELS
    naive: np.ndarray  # (origins,) the value at the origin
    baselines: dict[str, np.ndarray]  # name → (origins, horizons, levels) prices
    seconds: float

    def bounds(self, level: int, quantiles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        low, high = BAND_LEVELS[level]
        grid = self.quantiles if quantiles is None else quantiles
        return grid[..., level_index(low)], grid[..., level_index(high)]

    def hits(self, level: int, quantiles: np.ndarray | None = None) -> np.ndarray:
        lower, upper = self.bounds(level, quantiles)
        return (self.actual >= lower) & (self.actual <= upper)

    def mae_ratios(self) -> np.ndarray:
        model = np.mean(np.abs(self.mean - self.actual), axis=0)
        naive = np.mean(np.abs(self.naive[:, None] - self.actual), axis=0)
        return model / naive

    def coverage(self, level: int) -> np.ndarray:
        return np.mean(self.hits(level), axis=0)

    def crps(self, quantiles: np.ndarray | None = None) -> np.ndarray:
        """Mean CRPS per horizon (price units) of ours, or of the given quantiles."""
        grid = self.quantiles if quantiles is None else quantiles
        return quantile_crps(self.actual, grid, QUANTILE_LEVELS).mean(axis=0)

    def interval_scores(self, quantiles: np.ndarray | None = None) -> np.ndarray:
        return interval_score(self.actual, {level: self.bounds(level, quantiles) for level in (80, 95)}).mean(axis=0)

    def best_baseline(self) -> str:
        """The strongest baseline on this series: the lowest CRPS averaged over the horizons."""
        return min(self.baselines, key=lambda name: float(np.mean(self.crps(self.baselines[name]))))

    def crps_ratios(self, baseline: str | None = None) -> np.ndarray:
        return self.crps() / self.crps(self.baselines[baseline or self.best_baseline()])

    def interval_score_ratios(self, baseline: str | None = None) -> np.ndarray:
        return self.interval_scores() / self.interval_scores(self.baselines[baseline or self.best_baseline()])

    def calibration(self) -> dict[str, Any]:
        """h = 1 coverage tests (Kupiec, Christoffersen), PIT deciles at the first and last horizon, crossings."""
        first, last = 0, len(self.horizons) - 1
        tests = {str(level): {"kupiec_p": round(kupiec_p_value(self.hits(level)[:, first], level / 100), 4),
                              "christoffersen_p": round(christoffersen_p_value(self.hits(level)[:, first]), 4)}
                 for level in (80, 95)}
        pit = {str(self.horizons[j]): [round(v, 4) for v in pit_deciles(
            pit_values(self.actual[:, j], self.quantiles[:, j], QUANTILE_LEVELS))] for j in (first, last)}
        return {"horizon": self.horizons[first], "tests": tests, "pit_deciles": pit,
                "quantile_crossings": crossings(self.quantiles)}

    def summary(self) -> dict[str, float]:
        return {
            "mean_mae_ratio": float(np.mean(self.mae_ratios())),
            "coverage_80": float(np.mean(self.coverage(80))),
            "coverage_95": float(np.mean(self.coverage(95))),
            "interval_score_ratio": float(np.mean(self.interval_score_ratios())),
            "crps_ratio": float(np.mean(self.crps()) / np.mean(self.crps(self.baselines[self.best_baseline()]))),
        }

    def to_dict(self) -> dict[str, Any]:
        """The forecast.json `evaluation` block (docs/api.md#bundle)."""
        summary = self.summary()
        best = self.best_baseline()
        h = self.horizons
        return {
            "kind": "nested",
            "origins": len(self.origins),
            "first_origin": self.origins[0].date().isoformat(),
            "last_origin": self.origins[-1].date().isoformat(),
            "step_rows": self.step,
            "calendar": self.calendar,
            "horizons": list(h),
            "mae_ratio_to_naive": _by_h(h, self.mae_ratios()),
            "mean_mae_ratio": round(summary["mean_mae_ratio"], 4),
            "coverage_80": _by_h(h, self.coverage(80)),
            "coverage_95": _by_h(h, self.coverage(95)),
            "mean_coverage_80": round(summary["coverage_80"], 4),
            "mean_coverage_95": round(summary["coverage_95"], 4),
            "crps_ratio": _by_h(h, self.crps_ratios()),
            "mean_crps_ratio": round(summary["crps_ratio"], 4),
            "interval_score_ratio": _by_h(h, self.interval_score_ratios()),
            "mean_interval_score_ratio": round(summary["interval_score_ratio"], 4),
            "baseline": best,
            "baseline_description": BASELINES[best],
            "baseline_coverage_80": round(float(np.mean(self.hits(80, self.baselines[best]))), 4),
            "baseline_coverage_95": round(float(np.mean(self.hits(95, self.baselines[best]))), 4),
            "baselines": {name: {"description": BASELINES[name],
                                 "crps_ratio": _by_h(h, self.crps_ratios(name)),
                                 "interval_score_ratio": _by_h(h, self.interval_score_ratios(name)),
                                 "coverage_80": _by_h(h, np.mean(self.hits(80, grid), axis=0)),
                                 "coverage_95": _by_h(h, np.mean(self.hits(95, grid), axis=0))}
                          for name, grid in self.baselines.items()},
            "baselines_left_out": [name for name in BASELINES if name not in self.baselines],
            "calibration": self.calibration(),
            "crps": "CRPS on the quantile grid (twice the mean pinball loss over its levels), ÷ the baseline's",
            "interval_score": "mean of the 80 % and 95 % Winkler scores, ÷ the baseline's",
            "served": dict(Counter(self.served).most_common()),
            "decisions": dict(Counter(self.decisions).most_common()),
            "seconds": round(self.seconds, 1),
        }

    def table(self) -> str:
        heads = " ".join(f"{'h' + str(h):>7}" for h in self.horizons)
        best = self.best_baseline()
        lines = [f"nested evaluation of {self.target}: {len(self.origins)} origins {self.step} rows apart "
                 f"({self.calendar} calendar), {self.origins[0].date()} .. {self.origins[-1].date()}",
                 f"{'':<30} {heads}"]
        rows = [("MAE ÷ naive", self.mae_ratios()), ("coverage 80 %", self.coverage(80)),
                ("coverage 95 %", self.coverage(95))]
        rows += [(f"CRPS ÷ {name}" + (" (best)" if name == best else ""), self.crps_ratios(name))
                 for name in self.baselines]
        rows += [(f"interval score ÷ {best}", self.interval_score_ratios(best))]
        for name, values in rows:
            lines.append(f"{name:<30} " + " ".join(f"{v:>7.3f}" for v in values))
        summary = self.summary()
        lines.append(f"mean MAE ÷ naive {summary['mean_mae_ratio']:.3f}; coverage 80 % {summary['coverage_80']:.1%}, "
                     f"95 % {summary['coverage_95']:.1%}; CRPS ÷ {best} {summary['crps_ratio']:.3f}; "
                     f"{self.seconds:.1f} s")
        lines.append("served: " + ", ".join(f"{k} ×{v}" for k, v in Counter(self.served).most_common()))
        return "\n".join(lines)


def _workers(requested: int | None) -> int:
    return max(1, requested if requested is not None else min(2, os.cpu_count() or 1))


def evaluate_nested(frame: pd.DataFrame, target: str, settings: ProcedureSettings = ProcedureSettings(),
                    origins: int = 52, step: int | None = None, span_years: float = 2.0,
                    drivers: Sequence[str] | None = None, workers: int | None = None,
                    distribution: PredictiveDistribution | None = None,
                    horizons: Sequence[int] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> NestedEvaluation:
    """Run the procedure at `origins` past origins (rows before each only) and score what it would have served.

    `horizons`: the steps scored (default: the procedure's own, `settings.horizons`; none beyond its largest).
    `distribution`: the frame's predictive distribution when the caller has it (it is causal, so one
    pass over the frame serves every origin). `progress(done, total)` is called as each origin finishes.
    """
    started = time.perf_counter()
    calendar = validate_frame(frame, target)
    positions = scored_positions(len(frame), calendar, settings, origins, step, span_years)
    jobs = [(frame.iloc[: p + 1], target, settings, drivers) for p in positions]
    count = _workers(workers)
    assessments = []

    def collect(results: Iterable[Assessment]) -> None:
        for result in results:
            assessments.append(result)
            if progress is not None:
                progress(len(assessments), len(jobs))

    if count == 1:
        collect(map(_assess_at, jobs))
    else:
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            collect(pool.map(_assess_at, jobs))

    scored = tuple(sorted({int(step) for step in (horizons or settings.horizons)}))
    if scored[0] < 1 or scored[-1] > settings.max_horizon:
        raise ValueError(f"scored horizons must be within 1..{settings.max_horizon}")
    h = np.asarray(scored)
    prices = frame[target].to_numpy(dtype=float)
    log_y = np.log(prices)
    if distribution is None or not set(scored) <= set(distribution.steps.tolist()):
        distribution = predictive_distribution(log_y, calendar, scored)
    means, served, decisions, grids = [], [], [], []
    champion: ModelConfig | None = None
    for position, assessment in zip(positions, assessments, strict=True):
        if champion is not None and assessment.evidence(champion) is None:
            assessment = assess(frame.iloc[: position + 1], target, settings, settings.max_horizon, drivers,
                                [champion])
        decision = gate(assessment, champion, settings.significance)
        evidence = assessment.candidates[decision.served.label]
        centre = evidence.final[h - 1]
        ratio = error_ratio(evidence.widths, assessment.candidates[NAIVE.label].widths, h)
        means.append(np.exp(centre))
        grids.append(price_quantiles(centre, distribution.at(int(position), h), ratio))
        served.append(decision.served.label)
        decisions.append(decision.decision)
        champion = decision.served
    step_used = int(positions[1] - positions[0]) if positions.size > 1 else (step or 0)
    result = NestedEvaluation(
        target=target,
        calendar=calendar,
        horizons=scored,
        origins=frame.index[positions],
        step=step_used,
        served=served,
        decisions=decisions,
        actual=prices[positions[:, None] + h[None, :]],
        mean=np.array(means),
        quantiles=np.array(grids),
        naive=prices[positions],
        baselines=baseline_quantiles(log_y, positions, scored, calendar),
        seconds=time.perf_counter() - started,
    )
    log.info("evaluation.finished", target=target, origins=len(positions), seconds=round(result.seconds, 1),
             **{k: round(v, 4) for k, v in result.summary().items() if math.isfinite(v)})
    return result
