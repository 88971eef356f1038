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

import math
import multiprocessing
import os
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from gasforecast.forecasting.config import ModelConfig, ProcedureSettings
from gasforecast.forecasting.frame import validate_frame
from gasforecast.forecasting.intervals import LEVELS
from gasforecast.forecasting.metrics import gaussian_naive_bounds, interval_score
from gasforecast.forecasting.procedure import Assessment, assess, gate
from gasforecast.forecasting.stretch import InsufficientHistory, make_stretch, rows_for_years
from gasforecast.logs import get_logger

log = get_logger(__name__)

BASELINE = ("naive forecast with Gaussian log-return intervals: exp(log y_t ± z·σ·√h), σ the standard deviation "
            "of all one-step log returns up to the origin")


def scored_positions(rows: int, calendar: str, settings: ProcedureSettings, origins: int, step: int | None,
                     span_years: float) -> np.ndarray:
    """Origins `step` rows apart (default: `span_years` of rows ÷ origins), the last `max(horizons)` rows
    before the end; origins with too little history for the procedure are dropped."""
    if origins < 1:
        raise ValueError("origins must be at least 1")
    step = step or max(1, rows_for_years(span_years, calendar) // origins)
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


@dataclass
class NestedEvaluation:
    """Served forecasts at every scored origin, the outcomes, and the baselines."""

    target: str
    calendar: str
    horizons: tuple[int, ...]
    origins: pd.DatetimeIndex
    step: int
    served: list[str]
    decisions: list[str]
    actual: np.ndarray  # (origins, horizons)
    mean: np.ndarray
    bounds: dict[int, tuple[np.ndarray, np.ndarray]]
    naive: np.ndarray  # (origins,) the value at the origin
    gaussian: dict[int, tuple[np.ndarray, np.ndarray]]
    seconds: float

    def mae_ratios(self) -> np.ndarray:
        model = np.mean(np.abs(self.mean - self.actual), axis=0)
        naive = np.mean(np.abs(self.naive[:, None] - self.actual), axis=0)
        return model / naive

    def coverage(self, level: int) -> np.ndarray:
        lower, upper = self.bounds[level]
        return np.mean((self.actual >= lower) & (self.actual <= upper), axis=0)

    def interval_score_ratios(self) -> np.ndarray:
        return interval_score(self.actual, self.bounds).mean(axis=0) / interval_score(self.actual, self.gaussian).mean(axis=0)

    def gaussian_coverage(self, level: int) -> float:
        lower, upper = self.gaussian[level]
        return float(np.mean((self.actual >= lower) & (self.actual <= upper)))

    def summary(self) -> dict[str, float]:
        return {
            "mean_mae_ratio": float(np.mean(self.mae_ratios())),
            "coverage_80": float(np.mean(self.coverage(80))),
            "coverage_95": float(np.mean(self.coverage(95))),
            "interval_score_ratio": float(np.mean(self.interval_score_ratios())),
        }

    def to_dict(self) -> dict[str, Any]:
        """The forecast.json `evaluation` block (PLAN contract) plus a few extras."""

        def by_h(values: np.ndarray) -> dict[str, float]:
            return {str(h): round(float(v), 4) for h, v in zip(self.horizons, values)}

        summary = self.summary()
        return {
            "kind": "nested",
            "origins": len(self.origins),
            "first_origin": self.origins[0].date().isoformat(),
            "last_origin": self.origins[-1].date().isoformat(),
            "step_rows": self.step,
            "calendar": self.calendar,
            "horizons": list(self.horizons),
            "mae_ratio_to_naive": by_h(self.mae_ratios()),
            "mean_mae_ratio": round(summary["mean_mae_ratio"], 4),
            "coverage_80": by_h(self.coverage(80)),
            "coverage_95": by_h(self.coverage(95)),
            "mean_coverage_80": round(summary["coverage_80"], 4),
            "mean_coverage_95": round(summary["coverage_95"], 4),
            "interval_score_ratio": by_h(self.interval_score_ratios()),
            "mean_interval_score_ratio": round(summary["interval_score_ratio"], 4),
            "baseline_coverage_80": round(self.gaussian_coverage(80), 4),
            "baseline_coverage_95": round(self.gaussian_coverage(95), 4),
            "interval_score": "mean of the 80 % and 95 % Winkler scores, ÷ the baseline's",
            "baseline": BASELINE,
            "served": dict(Counter(self.served).most_common()),
            "decisions": dict(Counter(self.decisions).most_common()),
            "seconds": round(self.seconds, 1),
        }

    def table(self) -> str:
        heads = " ".join(f"{'h' + str(h):>7}" for h in self.horizons)
        lines = [f"nested evaluation of {self.target}: {len(self.origins)} origins {self.step} rows apart "
                 f"({self.calendar} calendar), {self.origins[0].date()} .. {self.origins[-1].date()}",
                 f"{'':<24} {heads}"]
        for name, values in (("MAE ÷ naive", self.mae_ratios()), ("coverage 80 %", self.coverage(80)),
                             ("coverage 95 %", self.coverage(95)),
                             ("interval score ÷ baseline", self.interval_score_ratios())):
            lines.append(f"{name:<24} " + " ".join(f"{v:>7.3f}" for v in values))
        summary = self.summary()
        lines.append(f"mean MAE ÷ naive {summary['mean_mae_ratio']:.3f}; coverage 80 % {summary['coverage_80']:.1%}, "
                     f"95 % {summary['coverage_95']:.1%}; interval score ÷ baseline "
                     f"{summary['interval_score_ratio']:.3f}; {self.seconds:.1f} s")
        lines.append("served: " + ", ".join(f"{k} ×{v}" for k, v in Counter(self.served).most_common()))
        return "\n".join(lines)


def _workers(requested: int | None) -> int:
    return max(1, requested if requested is not None else min(2, os.cpu_count() or 1))


def evaluate_nested(frame: pd.DataFrame, target: str, settings: ProcedureSettings = ProcedureSettings(),
                    origins: int = 52, step: int | None = None, span_years: float = 2.0,
                    drivers: Sequence[str] | None = None, workers: int | None = None) -> NestedEvaluation:
    """Run the procedure at `origins` past origins (rows before each only) and score what it would have served."""
    started = time.perf_counter()
    calendar = validate_frame(frame, target)
    positions = scored_positions(len(frame), calendar, settings, origins, step, span_years)
    jobs = [(frame.iloc[: p + 1], target, settings, drivers) for p in positions]
    count = _workers(workers)
    if count == 1:
        assessments = [_assess_at(job) for job in jobs]
    else:
        context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            assessments = list(pool.map(_assess_at, jobs))

    h = np.asarray(settings.horizons)
    prices = frame[target].to_numpy(dtype=float)
    means, served, decisions = [], [], []
    bounds: dict[int, tuple[list, list]] = {level: ([], []) for level in LEVELS}
    champion: ModelConfig | None = None
    for position, assessment in zip(positions, assessments):
        if champion is not None and assessment.evidence(champion) is None:
            assessment = assess(frame.iloc[: position + 1], target, settings, settings.max_horizon, drivers,
                                [champion])
        decision = gate(assessment, champion, settings.significance)
        evidence = assessment.candidates[decision.served.label]
        centre = evidence.final[h - 1]
        means.append(np.exp(centre))
        for level in LEVELS:
            below, above = evidence.widths[level]
            bounds[level][0].append(np.exp(centre - below[h - 1]))
            bounds[level][1].append(np.exp(centre + above[h - 1]))
        served.append(decision.served.label)
        decisions.append(decision.decision)
        champion = decision.served
    gaussian_rows = [gaussian_naive_bounds(prices[: p + 1], h) for p in positions]
    gaussian = {level: (np.array([g[level][0] for g in gaussian_rows]), np.array([g[level][1] for g in gaussian_rows]))
                for level in LEVELS}
    step_used = int(positions[1] - positions[0]) if positions.size > 1 else (step or 0)
    result = NestedEvaluation(
        target=target,
        calendar=calendar,
        horizons=settings.horizons,
        origins=frame.index[positions],
        step=step_used,
        served=served,
        decisions=decisions,
        actual=prices[positions[:, None] + h[None, :]],
        mean=np.array(means),
        bounds={level: (np.array(low), np.array(high)) for level, (low, high) in bounds.items()},
        naive=prices[positions],
        gaussian=gaussian,
        seconds=time.perf_counter() - started,
    )
    log.info("evaluation.finished", target=target, origins=len(positions), seconds=round(result.seconds, 1),
             **{k: round(v, 4) for k, v in result.summary().items() if math.isfinite(v)})
    return result
