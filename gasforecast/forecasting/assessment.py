"""The procedure's first two steps and the types they hand on: **assess** the candidates on the
evaluation stretch, then **gate** the challenger against the incumbent (docs/model.md#procedure).

Their own module so that the procedure (`procedure.run_procedure`) and the nested evaluation, which
re-runs these steps at past origins, both import them from below: neither imports the other back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from gasforecast.forecasting.blas import single_threaded_blas
from gasforecast.forecasting.config import ModelConfig, ProcedureSettings
from gasforecast.forecasting.evidence import LossTest, diebold_mariano
from gasforecast.forecasting.frame import validate_frame
from gasforecast.forecasting.intervals import IntervalCalibration
from gasforecast.forecasting.selection import (
    NAIVE,
    NAIVE_WEIGHT,
    absolute_log_errors,
    core_candidates,
    eligible_drivers,
    forward_select,
    ratio_to_naive,
)
from gasforecast.forecasting.stretch import Stretch, StretchPaths, make_stretch, stretch_paths
from gasforecast.platform.logs import get_logger

log = get_logger(__name__)


def _clean(value: float | None) -> float | None:
    """A figure for JSON, which has no NaN or infinity: an unusable score is null."""
    return float(value) if value is not None and math.isfinite(value) else None


def _no_values() -> np.ndarray:
    return np.empty(0)


@dataclass
class CandidateEvidence:
    """One candidate on the stretch: its ratios to naive, its test-half losses, its served forecast."""

    config: ModelConfig
    # Empty for an unusable candidate (`unusable` says why), so the arrays are never None.
    selection_ratios: np.ndarray = field(default_factory=_no_values)  # per horizon: mean |log error| ÷ naive's, selection half
    test_ratios: np.ndarray = field(default_factory=_no_values)  # the same on the test half
    test_losses: np.ndarray = field(default_factory=_no_values)  # per test origin with every horizon observed: mean |log error|
    final: np.ndarray = field(default_factory=_no_values)  # log forecast from the last row, steps 1..horizon_out
    widths: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # level → (below, above)
    orders: dict = field(default_factory=dict)
    unusable: str | None = None

    @property
    def selection_score(self) -> float:
        return math.inf if self.unusable else float(np.mean(self.selection_ratios))

    @property
    def test_score(self) -> float:
        return math.inf if self.unusable else float(np.mean(self.test_ratios))


@dataclass
class Assessment:
    """Everything the gate and the served forecast need, computed from the rows of one frame only."""

    target: str
    calendar: str
    horizons: tuple[int, ...]
    last_date: pd.Timestamp
    stretch: dict[str, Any]
    eligible: list[str]
    drivers: tuple[str, ...]
    candidates: dict[str, CandidateEvidence]
    challenger: str

    def evidence(self, config: ModelConfig) -> CandidateEvidence | None:
        return self.candidates.get(config.label)

    def metrics(self) -> dict[str, dict[int, dict[str, float]]]:
        """label → horizon → {selection_ratio, test_ratio} (usable candidates only)."""
        return {
            label: {h: {"selection_ratio": float(ev.selection_ratios[j]), "test_ratio": float(ev.test_ratios[j])}
                    for j, h in enumerate(self.horizons)}
            for label, ev in self.candidates.items() if not ev.unusable
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "calendar": self.calendar,
            "horizons": list(self.horizons),
            "stretch": self.stretch,
            "eligible_drivers": self.eligible,
            "drivers": list(self.drivers),
            "challenger": self.challenger,
            "loss": "mean |log error| ÷ the naive forecast's, per horizon",
            "candidates": {
                label: {
                    "config": ev.config.to_dict(),
                    "selection_ratio": None if ev.unusable else {str(h): _clean(v) for h, v in zip(self.horizons, ev.selection_ratios, strict=True)},
                    "test_ratio": None if ev.unusable else {str(h): _clean(v) for h, v in zip(self.horizons, ev.test_ratios, strict=True)},
                    "selection_score": _clean(ev.selection_score),
                    "test_score": _clean(ev.test_score),
                    "orders": ev.orders,
                    "unusable": ev.unusable,
                }
                for label, ev in self.candidates.items()
            },
        }

    def table(self) -> str:
        """Candidates by selection score: ratio to naive per horizon on the selection and the test half."""
        heads = " ".join(f"{'h' + str(h):>6}" for h in self.horizons)
        header = f"{'candidate':<40} {'half':<9} {heads} {'mean':>6}"
        lines = [f"stretch {self.stretch['first_origin']} .. {self.stretch['last_origin']} "
                 f"(test half from {self.stretch['test_from']}), {self.calendar} calendar; "
                 "cells: mean |log error| ÷ naive's (lower is better)", header, "-" * len(header)]
        for label in sorted(self.candidates, key=lambda name: self.candidates[name].selection_score):
            ev = self.candidates[label]
            if ev.unusable:
                lines.append(f"{label:<40} unusable: {ev.unusable}")
                continue
            for half, ratios in (("selection", ev.selection_ratios), ("test", ev.test_ratios)):
                cells = " ".join(f"{v:>6.3f}" for v in ratios)
                lines.append(f"{label if half == 'selection' else '':<40} {half:<9} {cells} {np.mean(ratios):>6.3f}")
        return "\n".join(lines)


def _candidate_evidence(config: ModelConfig, paths: np.ndarray, final: np.ndarray, orders: dict,
                        log_target: np.ndarray, stretch: Stretch, naive: dict[str, np.ndarray],
                        horizons: Sequence[int], calibration: IntervalCalibration) -> CandidateEvidence:
    selection, test = stretch.selection_mask(), stretch.test_mask()
    last = log_target.size - 1
    sel_errors = absolute_log_errors(paths[selection], log_target, stretch.origins[selection], horizons, stretch.split)
    test_errors = absolute_log_errors(paths[test], log_target, stretch.origins[test], horizons, last)
    complete = np.all(np.isfinite(test_errors), axis=1)

    every_step = absolute_log_errors(paths, log_target, stretch.origins, range(1, stretch.steps + 1), last)
    widths = calibration.widths(every_step)
    if widths is None:
        return CandidateEvidence(config, unusable="too few observed errors to calibrate intervals")
    return CandidateEvidence(
        config=config,
        selection_ratios=ratio_to_naive(sel_errors, naive["selection"]),
        test_ratios=ratio_to_naive(test_errors, naive["test"]),
        test_losses=test_errors[complete].mean(axis=1),
        final=final,
        widths=widths,
        orders=orders,
    )


def _weights_for(core: ModelConfig, extra: Sequence[ModelConfig]) -> list[float]:
    weights = [0.0] if core == NAIVE else [0.0, NAIVE_WEIGHT]
    weights += [config.naive_weight for config in extra if config.core == core and config.naive_weight not in weights]
    return weights


@single_threaded_blas
def assess(frame: pd.DataFrame, target: str, settings: ProcedureSettings = ProcedureSettings(),
           horizon_out: int | None = None, drivers: Sequence[str] | None = None,
           extra: Sequence[ModelConfig] = ()) -> Assessment:
    """Step 1 of the procedure on the rows of `frame` only (no state): see the module docstring.

    `horizon_out`: steps of the forecast from the last row (default: the largest horizon).
    `drivers`: the columns drivers are chosen from (default: every other column). `extra`: further
    configurations to assess on the same stretch (the champion's).
    """
    calendar = validate_frame(frame, target)
    stretch = make_stretch(len(frame), calendar, settings)
    horizon_out = max(horizon_out or 0, settings.max_horizon)
    names = [c for c in frame.columns if c != target] if drivers is None else [d for d in drivers if d != target]
    eligible = eligible_drivers(frame, target, names, stretch, settings)
    chosen = forward_select(frame, target, eligible, stretch, settings)
    cores = core_candidates(chosen, calendar, settings)
    cores += [config.core for config in extra if config.core not in cores]

    log_target = np.log(frame[target].to_numpy(dtype=float))
    calibration = IntervalCalibration(log_target, calendar, stretch.origins, stretch.steps, horizon_out)
    naive_paths = np.repeat(log_target[stretch.origins][:, None], stretch.steps, axis=1)
    selection, test = stretch.selection_mask(), stretch.test_mask()
    naive = {
        "selection": absolute_log_errors(naive_paths[selection], log_target, stretch.origins[selection],
                                         settings.horizons, stretch.split),
        "test": absolute_log_errors(naive_paths[test], log_target, stretch.origins[test], settings.horizons,
                                    log_target.size - 1),
    }
    candidates: dict[str, CandidateEvidence] = {}
    for core in cores:
        run: StretchPaths = stretch_paths(frame, target, core, stretch, horizon_out, settings.min_train_rows)
        for weight in _weights_for(core, extra):
            config = replace(core, naive_weight=weight)
            if run.unusable:
                candidates[config.label] = CandidateEvidence(config, unusable=run.unusable)
                continue
            paths = (1 - weight) * run.paths + weight * naive_paths
            final = (1 - weight) * run.final + weight * log_target[-1]
            candidates[config.label] = _candidate_evidence(config, paths, final, run.orders, log_target, stretch,
                                                           naive, settings.horizons, calibration)
    usable = [label for label, ev in candidates.items() if not ev.unusable]
    if NAIVE.label not in usable:
        raise ValueError(f"the naive forecast cannot run on this frame: {candidates[NAIVE.label].unusable}")
    challenger = min(usable, key=lambda label: (candidates[label].selection_score, label != NAIVE.label))
    index = frame.index
    stretch_info = {
        "first_origin": index[stretch.start].date().isoformat(),
        "test_from": index[stretch.split].date().isoformat(),
        "last_origin": index[stretch.origins[-1]].date().isoformat(),
        "origins": int(stretch.origins.size),
        "refits": int(stretch.block_starts.size),
    }
    return Assessment(target, calendar, settings.horizons, index[-1], stretch_info, eligible, chosen, candidates,
                      challenger)


@dataclass
class Decision:
    """What the gate decided and why, with its numbers (test-half scores: mean ratio to naive)."""

    served: ModelConfig
    decision: str  # "promoted" | "kept_champion_config" | "naive"
    reason: str
    challenger: str
    champion: str | None
    incumbent: str
    challenger_score: float
    champion_score: float | None
    test: LossTest | None = None
    significance: float | None = None  # the one-sided level `test.p_value` had to be below

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "served": self.served.label,
            "reason": self.reason,
            "challenger": self.challenger,
            "champion": self.champion,
            "incumbent": self.incumbent,
            "challenger_score": _clean(self.challenger_score),
            "champion_score": _clean(self.champion_score),
            "test": self.test.to_dict() if self.test else None,
            "significance": self.significance,
        }


def gate(assessment: Assessment, champion: ModelConfig | None, significance: float) -> Decision:
    """Step 2: the challenger replaces the incumbent only with significant evidence on the test half."""
    candidates = assessment.candidates
    challenger = candidates[assessment.challenger]
    naive = candidates[NAIVE.label]
    champion_ev = assessment.evidence(champion) if champion is not None else None
    champion_score = champion_ev.test_score if champion_ev is not None else None
    incumbent, why = naive, "no champion to compare with"
    horizon = max(assessment.horizons)
    if champion is not None:
        if champion_ev is None or champion_ev.unusable:
            why = f"the champion's configuration cannot run on this data ({champion_ev.unusable if champion_ev else 'not assessed'})"
        elif champion_ev is naive:
            why = "the champion is the naive forecast"
        else:
            holds = diebold_mariano(champion_ev.test_losses, naive.test_losses, horizon)
            if holds.p_value < significance:
                incumbent, why = champion_ev, f"the champion's configuration still beats naive (p = {holds.p_value:.3g})"
            else:
                why = f"the champion's edge over naive is not significant any more (p = {holds.p_value:.3g})"
    kept = "kept_champion_config" if incumbent is not naive else "naive"

    def decided(served: CandidateEvidence, decision: str, reason: str, test: LossTest | None = None) -> Decision:
        return Decision(served.config, decision, reason, challenger.config.label,
                        champion.label if champion is not None else None, incumbent.config.label,
                        challenger.test_score, champion_score, test, significance)

    if challenger is incumbent:
        return decided(incumbent, kept, f"the challenger is the incumbent; {why}")
    test = diebold_mariano(challenger.test_losses, incumbent.test_losses, horizon)
    if test.p_value < significance and challenger.test_score < 1.0:
        return decided(challenger, "promoted",
                       f"the challenger beats {incumbent.config.label} on the test half (p = {test.p_value:.3g}); {why}",
                       test)
    return decided(incumbent, kept, f"the challenger's edge over {incumbent.config.label} on the test half is not "
                                    f"significant (p = {test.p_value:.3g}); {why}", test)


