"""Choose drivers and model by backtest, without look-ahead.

Drivers are chosen by forward selection of VAR drivers scored on the calibration stretch, i.e. with
models fitted and evaluated strictly before the first scored origin; the candidates are then
backtested on the scored origins and the best selection score wins (docs/model.md#selection).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from gasforecast.forecasting.backtest import (
    NAIVE,
    BacktestReport,
    Schedule,
    UnusableConfig,
    block_paths,
    config_values,
    finite_run_start,
    make_schedule,
    run_backtest,
    training_start,
)
from gasforecast.forecasting.blas import single_threaded_blas
from gasforecast.forecasting.config import BacktestSettings, ModelConfig
from gasforecast.forecasting.frame import validate_frame
from gasforecast.logs import get_logger

log = get_logger(__name__)

IMPROVEMENT = 0.002  # a driver joins only if it lowers the inner score by at least this much
EXTRA_SCREENED = 3  # forward selection looks at the best max_drivers + this many single drivers


@dataclass
class Selection:
    best: ModelConfig
    report: BacktestReport  # includes best, the naive baseline and every candidate tried
    candidates: list[ModelConfig]


def eligible_drivers(frame: pd.DataFrame, target: str, names: Sequence[str], schedule: Schedule,
                     settings: BacktestSettings) -> list[str]:
    """Drivers with enough finite history before the calibration stretch and values up to the last day."""
    eligible = []
    for name in names:
        config = ModelConfig("var", (name,), settings.window_years)
        try:
            values = config_values(frame, target, config)
            training_start(config, finite_run_start(values), schedule.calibration_start, settings.min_train_days)
        except (TypeError, ValueError) as exc:  # UnusableConfig, or a column that is not numeric
            log.info("selection.driver_skipped", driver=name, reason=str(exc))
            continue
        eligible.append(name)
    return eligible


def inner_score(frame: pd.DataFrame, target: str, config: ModelConfig, schedule: Schedule,
                settings: BacktestSettings) -> float:
    """Mean MAE ÷ naive MAE over the calibration stretch: fit at its start, forecast each day of it.

    Only outcomes dated up to the first scored origin are used, so selection never sees scored data.
    """
    start, first_scored = schedule.calibration_start, int(schedule.scored[0])
    origins = np.arange(start, first_scored)
    try:
        paths, _ = block_paths(config, config_values(frame, target, config), start, origins,
                               schedule.steps, settings.min_train_days)
    except UnusableConfig:
        return math.inf
    prices = frame[target].to_numpy(dtype=float)
    ratios = []
    for h in settings.horizons:
        known = origins + h <= first_scored
        actual = prices[origins[known] + h]
        model_mae = np.mean(np.abs(actual - np.exp(paths[known, h - 1])))
        naive_mae = np.mean(np.abs(actual - prices[origins[known]]))
        ratios.append(model_mae / naive_mae)
    score = float(np.mean(ratios))
    return score if math.isfinite(score) else math.inf


def forward_select(frame: pd.DataFrame, target: str, eligible: Sequence[str], schedule: Schedule,
                   settings: BacktestSettings) -> tuple[str, ...]:
    """Greedy VAR driver selection on the calibration stretch, at most `settings.max_drivers` drivers.

    Always returns the best single driver (if any is usable) so VAR and VECM are compared at all.
    """
    if settings.max_drivers < 1 or not eligible:
        return ()

    def score(drivers: tuple[str, ...]) -> float:
        return inner_score(frame, target, ModelConfig("var", drivers, settings.window_years), schedule, settings)

    singles = {name: score((name,)) for name in eligible}
    ranked = [name for name in sorted(singles, key=singles.get) if math.isfinite(singles[name])]
    log.info("selection.single_drivers", scores={k: round(v, 4) for k, v in singles.items()})
    if not ranked:
        return ()
    screened = ranked[: settings.max_drivers + EXTRA_SCREENED]
    chosen, current = (ranked[0],), singles[ranked[0]]
    while len(chosen) < settings.max_drivers:
        trials = {name: score(chosen + (name,)) for name in screened if name not in chosen}
        if not trials:
            break
        name = min(trials, key=trials.get)
        if trials[name] > current - IMPROVEMENT:
            break
        chosen, current = chosen + (name,), trials[name]
    log.info("selection.drivers", drivers=list(chosen), inner_score=round(current, 4))
    return chosen


def candidate_configs(drivers: tuple[str, ...], settings: BacktestSettings) -> list[ModelConfig]:
    window = settings.window_years
    configs = [NAIVE, ModelConfig("seasonal_naive"), ModelConfig("ar", window_years=window)]
    if drivers:
        configs += [ModelConfig("var", drivers, window), ModelConfig("vecm", drivers, window)]
    return configs


@single_threaded_blas
def select_model(frame: pd.DataFrame, target: str, settings: BacktestSettings = BacktestSettings(),
                 drivers: Sequence[str] | None = None) -> Selection:
    """Select drivers (None = all other columns), backtest every candidate, pick the best score."""
    validate_frame(frame, target)
    schedule = make_schedule(len(frame), settings)
    names = [c for c in frame.columns if c != target] if drivers is None else list(drivers)
    chosen = forward_select(frame, target, eligible_drivers(frame, target, names, schedule, settings),
                            schedule, settings)
    candidates = candidate_configs(chosen, settings)
    report = run_backtest(frame, target, candidates, settings, schedule)
    best = report.config(report.best_label())
    log.info("selection.best", model=best.label, score=round(report.score(best.label), 4),
             scores={label: round(report.score(label), 4) for label in report.labels})
    return Selection(best=best, report=report, candidates=candidates)


@single_threaded_blas
def compare_configs(frame: pd.DataFrame, target: str, configs: Sequence[ModelConfig],
                    settings: BacktestSettings) -> BacktestReport:
    """Backtest the given configurations plus naive on the same origins (the promotion gate).

    A configuration that cannot run on this frame (e.g. a missing driver) scores +inf.
    """
    return run_backtest(frame, target, configs, settings)
