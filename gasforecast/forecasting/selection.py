"""Which drivers and which candidates: chosen on the selection half of the stretch only.

Drivers are chosen by bounded greedy forward selection of VAR drivers, each scored by one fit at the
start of the stretch forecasting every origin of its selection half, with outcomes up to the test
half's first row only. The candidate list then depends on the series' calendar and those drivers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gasforecast.forecasting.config import ModelConfig, ProcedureSettings
from gasforecast.forecasting.stretch import (
    Stretch,
    UnusableConfig,
    config_values,
    finite_run_start,
    fit_and_forecast,
    training_start,
)
from gasforecast.ingestion.series_calendar import DAILY, extended_index
from gasforecast.platform.logs import get_logger

log = get_logger(__name__)

IMPROVEMENT = 0.002  # a driver joins only if it lowers the selection score by at least this much
EXTRA_SCREENED = 3  # forward selection looks at the best max_drivers + this many single drivers
NAIVE_WEIGHT = 0.5  # the robust combination: half model, half naive (log space)
NAIVE = ModelConfig("naive")


def absolute_log_errors(paths: np.ndarray, log_target: np.ndarray, origins: np.ndarray,
                        horizons: Sequence[int], known_until: int) -> np.ndarray:
    """|log error| per origin (rows) and horizon (columns); NaN where the outcome lies after `known_until`."""
    h = np.asarray(horizons)
    ahead = origins[:, None] + h[None, :]
    actual = log_target[np.minimum(ahead, log_target.size - 1)]
    errors = np.abs(actual - paths[:, h - 1])
    errors[ahead > known_until] = np.nan
    return errors


def ratio_to_naive(errors: np.ndarray, naive_errors: np.ndarray) -> np.ndarray:
    """Per horizon: mean |log error| ÷ the naive forecast's, over the same (observed) origins."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(errors, axis=0) / np.nanmean(naive_errors, axis=0)


def eligible_drivers(frame: pd.DataFrame, target: str, names: Sequence[str], stretch: Stretch,
                     settings: ProcedureSettings) -> list[str]:
    """Drivers with enough finite history before the stretch and values up to the last row."""
    eligible = []
    for name in names:
        config = ModelConfig("var", (name,), settings.window_years)
        try:
            values = config_values(frame, target, config)
            training_start(config, finite_run_start(values), stretch.start, settings.min_train_rows, stretch.calendar)
        except UnusableConfig as exc:
            log.info("selection.driver_skipped", driver=name, reason=str(exc))
            continue
        eligible.append(name)
    return eligible


def selection_score(frame: pd.DataFrame, target: str, config: ModelConfig, stretch: Stretch,
                    settings: ProcedureSettings) -> float:
    """Mean over horizons of the |log error| ratio to naive on the selection half, from one fit at its start."""
    origins = stretch.origins[stretch.selection_mask()]
    try:
        values = config_values(frame, target, config)
        dates = extended_index(frame.index, stretch.steps, stretch.calendar)
        paths = fit_and_forecast(config, values, dates, stretch.start, origins, stretch.steps,
                                 settings.min_train_rows, stretch.calendar).paths
    except UnusableConfig:
        return math.inf
    log_target = np.log(values[:, 0])
    errors = absolute_log_errors(paths, log_target, origins, settings.horizons, stretch.split)
    naive = absolute_log_errors(np.repeat(log_target[origins][:, None], stretch.steps, axis=1), log_target, origins,
                                settings.horizons, stretch.split)
    score = float(np.mean(ratio_to_naive(errors, naive)))
    return score if math.isfinite(score) else math.inf


def forward_select(frame: pd.DataFrame, target: str, eligible: Sequence[str], stretch: Stretch,
                   settings: ProcedureSettings) -> tuple[str, ...]:
    """Greedy VAR driver selection on the selection half, at most `settings.max_drivers` drivers.

    Returns the best single driver (if any is usable) even when it does not beat naive, so the
    multivariate models are always compared; the gate decides whether they earn their place.
    """
    if settings.max_drivers < 1 or not eligible:
        return ()

    def score(drivers: tuple[str, ...]) -> float:
        return selection_score(frame, target, ModelConfig("var", drivers, settings.window_years), stretch, settings)

    singles = {name: score((name,)) for name in eligible}
    ranked = [name for name in sorted(singles, key=singles.__getitem__) if math.isfinite(singles[name])]
    if not ranked:
        return ()
    screened = ranked[: settings.max_drivers + EXTRA_SCREENED]
    chosen: tuple[str, ...] = (ranked[0],)
    current = singles[ranked[0]]
    while len(chosen) < settings.max_drivers:
        trials = {name: score(chosen + (name,)) for name in screened if name not in chosen}
        if not trials:
            break
        name = min(trials, key=trials.__getitem__)
        if trials[name] > current - IMPROVEMENT:
            break
        chosen, current = chosen + (name,), trials[name]
    log.info("selection.drivers", drivers=list(chosen), selection_score=round(current, 4),
             singles={k: round(v, 4) for k, v in singles.items() if math.isfinite(v)})
    return chosen


def core_candidates(drivers: tuple[str, ...], calendar: str, settings: ProcedureSettings) -> list[ModelConfig]:
    """The fitted candidates: random walk, AR and SES on returns/levels, weekday-profile variants for
    calendar-daily series, VAR and VECM on the chosen drivers."""
    window = settings.window_years
    configs = [NAIVE, ModelConfig("ar", window_years=window), ModelConfig("ses", window_years=window)]
    if calendar == DAILY:
        configs += [ModelConfig(kind, window_years=window, seasonal="weekday") for kind in ("naive", "ar", "ses")]
    if drivers:
        configs += [ModelConfig("var", drivers, window), ModelConfig("vecm", drivers, window)]
    return configs
