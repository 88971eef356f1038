"""Rolling-origin backtest: every candidate forecasts from the same origins, using only the past.

Protocol (see docs/model.md): scored origins are `settings.origins` days `step_days` apart, the last
one `max(horizons)` days before the end of the data. Before the first scored origin lies a
calibration stretch of `calibration_days`. From the start of that stretch to the last scored origin,
models are re-estimated every `refit_days` on the data up to the refit day (within the training
window) and forecast from *every* day of their block with the data up to that day. The daily
forecast errors feed the interval calibration (only those already observed at a scored origin); the
scored origins give the metrics.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from gasforecast.forecasting.blas import single_threaded_blas
from gasforecast.forecasting.config import BacktestSettings, ModelConfig
from gasforecast.forecasting.fitting import fit_candidate
from gasforecast.forecasting.frame import validate_frame
from gasforecast.forecasting.intervals import (
    LEVELS,
    MIN_ERRORS,
    WEEK_DAYS,
    ewma_volatility,
    interval_bounds,
    quantile_offsets,
    same_weekday,
    standardise,
)
from gasforecast.forecasting.linear import forecast_paths, transform
from gasforecast.forecasting.metrics import METRIC_NAMES, horizon_metrics, naive_scales
from gasforecast.logs import get_logger

log = get_logger(__name__)

NAIVE = ModelConfig("naive")
DAYS_PER_YEAR = 365.25


class InsufficientHistory(ValueError):
    """The frame is too short for the backtest protocol; only more data can fix it."""


class UnusableConfig(ValueError):
    """This configuration cannot be backtested on this frame (missing driver, too little data...)."""


@dataclass(frozen=True)
class Schedule:
    """Positions (row numbers) of the scored origins, of all daily origins, and of the refit days."""

    scored: np.ndarray
    daily: np.ndarray
    block_starts: np.ndarray
    steps: int

    @property
    def calibration_start(self) -> int:
        return int(self.daily[0])


def make_schedule(n_rows: int, settings: BacktestSettings) -> Schedule:
    """Lay out origins on `n_rows` daily rows, shrinking calibration, then origins, if history is short."""
    steps = settings.max_horizon
    last = n_rows - 1 - steps
    span = (settings.origins - 1) * settings.step_days
    room = last - settings.min_train_days
    min_calibration = steps + WEEK_DAYS * MIN_ERRORS  # enough same-weekday errors for every horizon
    calibration = min(settings.calibration_days, room - span)
    origins = settings.origins
    if calibration < min_calibration:
        calibration = min_calibration
        origins = (room - calibration) // settings.step_days + 1
        if origins < 1:
            needed = settings.min_train_days + min_calibration + steps + 1
            raise InsufficientHistory(f"not enough history for a backtest: {n_rows} days, need at least {needed}")
        log.warning("backtest.origins_reduced", requested=settings.origins, used=int(origins), rows=n_rows)
    scored = last - settings.step_days * np.arange(origins - 1, -1, -1)
    daily = np.arange(scored[0] - calibration, last + 1)
    block_starts = np.arange(daily[0], last + 1, settings.refit_days)
    return Schedule(scored=scored, daily=daily, block_starts=block_starts, steps=steps)


def finite_run_start(values: np.ndarray) -> int:
    """Start of the run of all-finite rows that reaches the last row; raises if the last row is not finite."""
    finite = np.all(np.isfinite(values), axis=1)
    if not finite[-1]:
        raise UnusableConfig("a column has no value on the last day")
    gaps = np.flatnonzero(~finite)
    return int(gaps[-1] + 1) if gaps.size else 0


def config_values(frame: pd.DataFrame, target: str, config: ModelConfig) -> np.ndarray:
    missing = [name for name in config.drivers if name not in frame.columns or name == target]
    if missing:
        raise UnusableConfig(f"driver(s) not in the data: {', '.join(missing)}")
    return frame[[target, *config.drivers]].to_numpy(dtype=float)


def training_start(config: ModelConfig, first_valid: int, fit_end: int, min_train_days: int) -> int:
    start = first_valid
    if config.window_years is not None:
        start = max(start, fit_end + 1 - int(round(config.window_years * DAYS_PER_YEAR)))
    if fit_end - start + 1 < min_train_days:
        raise UnusableConfig(f"only {fit_end - start + 1} usable days before day {fit_end}, need {min_train_days}")
    return start


def block_paths(
    config: ModelConfig, values: np.ndarray, fit_end: int, origins: np.ndarray, steps: int, min_train_days: int
) -> tuple[np.ndarray, dict]:
    """Fit on rows up to `fit_end` and forecast `steps` days from each origin (all ≥ fit_end)."""
    first_valid = finite_run_start(values)
    start = training_start(config, first_valid, fit_end, min_train_days)
    try:
        fit = fit_candidate(config, values[start : fit_end + 1])
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise UnusableConfig(f"fit failed at day {fit_end}: {exc}") from exc
    z = transform(values, fit.level_model.log_columns)
    return forecast_paths(fit.level_model, z, origins, steps), fit.orders


def daily_paths(config: ModelConfig, values: np.ndarray, schedule: Schedule, min_train_days: int) -> tuple[np.ndarray, dict]:
    """Log-space target forecasts from every daily origin, refitting at each block start."""
    paths = np.empty((schedule.daily.size, schedule.steps))
    ends = np.append(schedule.block_starts[1:], schedule.daily[-1] + 1)
    orders: dict = {}
    for block_start, block_end in zip(schedule.block_starts, ends):
        rows = (schedule.daily >= block_start) & (schedule.daily < block_end)
        paths[rows], orders = block_paths(config, values, int(block_start), schedule.daily[rows], schedule.steps, min_train_days)
    return paths, orders


@dataclass
class ConfigBacktest:
    """One configuration's backtest: scored forecasts, metrics, calibration errors, or why it is unusable."""

    config: ModelConfig
    forecasts: pd.DataFrame | None = None  # origin, horizon, date, actual, mean, lower_80, upper_80, lower_95, upper_95
    metrics: dict[int, dict[str, float]] = field(default_factory=dict)
    calibration_errors: np.ndarray | None = None  # standardised log errors, (daily origins, steps 1..H)
    calibration_origins: pd.DatetimeIndex | None = None  # the daily origins of those rows
    orders: dict = field(default_factory=dict)
    unusable: str | None = None


class BacktestReport:
    """Results of one backtest over the same origins for several configurations (naive included)."""

    def __init__(self, horizons: Sequence[int], origins: Sequence[pd.Timestamp], step_days: int,
                 runs: dict[str, ConfigBacktest]) -> None:
        self.horizons = tuple(horizons)
        self.origins = list(origins)
        self.step_days = step_days
        self.runs = runs

    @property
    def labels(self) -> list[str]:
        return list(self.runs)

    @property
    def baseline_label(self) -> str:
        return NAIVE.label

    def config(self, label: str) -> ModelConfig:
        return self.runs[label].config

    def metrics(self) -> dict[str, dict[int, dict[str, float]]]:
        empty = {name: math.nan for name in METRIC_NAMES}
        return {
            label: {h: dict(run.metrics.get(h, empty)) for h in self.horizons} for label, run in self.runs.items()
        }

    def mae_ratios(self, label: str) -> dict[int, float]:
        """MAE ÷ naive MAE per horizon, on the same origins (NaN when unusable)."""
        run, naive = self.runs[label], self.runs[self.baseline_label]
        if run.unusable or naive.unusable:
            return {h: math.nan for h in self.horizons}
        return {h: run.metrics[h]["mae"] / naive.metrics[h]["mae"] for h in self.horizons}

    def score(self, label: str) -> float:
        """Selection score: mean over horizons of MAE ÷ naive MAE (lower is better; +inf if unusable)."""
        ratios = list(self.mae_ratios(label).values())
        value = float(np.mean(ratios))
        return value if math.isfinite(value) else math.inf

    def best_label(self) -> str:
        return min(self.labels, key=lambda label: (self.score(label), label != self.baseline_label))

    def forecasts(self, label: str) -> pd.DataFrame:
        """Scored forecasts of one configuration (price units); raises if it was unusable."""
        run = self.runs[label]
        if run.forecasts is None:
            raise ValueError(f"{label} is unusable: {run.unusable}")
        return run.forecasts

    def to_dict(self) -> dict:
        def clean(value: float) -> float | None:
            return value if math.isfinite(value) else None

        return {
            "horizons": list(self.horizons),
            "origins": {
                "count": len(self.origins),
                "first": self.origins[0].date().isoformat() if self.origins else None,
                "last": self.origins[-1].date().isoformat() if self.origins else None,
                "step_days": self.step_days,
            },
            "baseline": self.baseline_label,
            "metrics": {
                label: {str(h): {name: clean(v) for name, v in values.items()} for h, values in by_h.items()}
                for label, by_h in self.metrics().items()
            },
            "mae_ratio_to_naive": {
                label: {str(h): clean(v) for h, v in self.mae_ratios(label).items()} for label in self.labels
            },
            "scores": {label: clean(self.score(label)) for label in self.labels},
            "configs": {label: run.config.to_dict() for label, run in self.runs.items()},
            "orders": {label: run.orders for label, run in self.runs.items()},
            "unusable": {label: run.unusable for label, run in self.runs.items() if run.unusable},
        }

    def table(self) -> str:
        """Model × horizon table, best score first, with the MAE ratio to the naive forecast."""
        header = f"{'model':<44} {'h':>3} {'MAE':>9} {'×naive':>7} {'RMSE':>9} {'MASE':>6} {'sMAPE%':>7} {'cov80':>6} {'cov95':>6} {'Wink95':>9}"
        lines = [
            f"backtest: {len(self.origins)} origins every {self.step_days} days, "
            f"{self.origins[0].date()} .. {self.origins[-1].date()}; score = mean MAE ÷ naive MAE (lower is better)",
            header,
            "-" * len(header),
        ]
        metrics = self.metrics()
        for label in sorted(self.labels, key=self.score):
            run = self.runs[label]
            if run.unusable:
                lines.append(f"{label:<44} unusable: {run.unusable}")
                continue
            ratios = self.mae_ratios(label)
            for h in self.horizons:
                m = metrics[label][h]
                lines.append(
                    f"{label:<44} {h:>3} {m['mae']:>9.3f} {ratios[h]:>7.3f} {m['rmse']:>9.3f} {m['mase']:>6.2f} "
                    f"{m['smape']:>7.2f} {m['coverage_80']:>6.1%} {m['coverage_95']:>6.1%} {m['winkler_95']:>9.2f}"
                )
            lines.append(f"{'':<44} score {self.score(label):.3f}")
        return "\n".join(lines)


def score_run(config: ModelConfig, paths: np.ndarray, frame_target: np.ndarray, index: pd.DatetimeIndex,
              schedule: Schedule, horizons: Sequence[int], orders: dict) -> ConfigBacktest:
    """Turn daily log-space paths into calibrated scored forecasts and their metrics."""
    log_target = np.log(frame_target)
    sigma = ewma_volatility(log_target)
    step_numbers = np.arange(1, schedule.steps + 1)
    actual_log = log_target[schedule.daily[:, None] + step_numbers[None, :]]
    errors = standardise(actual_log - paths, sigma[schedule.daily], step_numbers)

    columns = np.asarray(horizons) - 1
    h_steps = np.asarray(horizons, dtype=float)
    scored_rows = np.searchsorted(schedule.daily, schedule.scored)
    centre = paths[scored_rows][:, columns]
    bounds = {level: (np.empty_like(centre), np.empty_like(centre)) for level in LEVELS}
    for i, origin in enumerate(schedule.scored):
        weekday = same_weekday(schedule.daily, origin)
        # an error is usable once observed: origin day + step <= the scored origin
        pools = [errors[weekday & (schedule.daily + h <= origin), h - 1] for h in horizons]
        for level, (low_q, high_q) in quantile_offsets(pools).items():
            lower, upper = interval_bounds(centre[i : i + 1], sigma[origin : origin + 1], h_steps, low_q, high_q)
            bounds[level][0][i], bounds[level][1][i] = lower[0], upper[0]

    targets = schedule.scored[:, None] + np.asarray(horizons)[None, :]
    actual = frame_target[targets]
    mean = np.exp(centre)
    scales = naive_scales(frame_target, schedule.scored)
    metrics = {}
    for j, h in enumerate(horizons):
        metrics[h] = horizon_metrics(
            actual[:, j], mean[:, j], scales,
            np.exp(bounds[80][0][:, j]), np.exp(bounds[80][1][:, j]),
            np.exp(bounds[95][0][:, j]), np.exp(bounds[95][1][:, j]),
        )
    origin_dates = np.repeat(index[schedule.scored], len(horizons))
    forecasts = pd.DataFrame({
        "origin": origin_dates,
        "horizon": np.tile(np.asarray(horizons), schedule.scored.size),
        "date": index[targets.ravel()],
        "actual": actual.ravel(),
        "mean": mean.ravel(),
        "lower_80": np.exp(bounds[80][0]).ravel(),
        "upper_80": np.exp(bounds[80][1]).ravel(),
        "lower_95": np.exp(bounds[95][0]).ravel(),
        "upper_95": np.exp(bounds[95][1]).ravel(),
    })
    return ConfigBacktest(config, forecasts, metrics, errors, index[schedule.daily], orders)


def backtest_config(frame: pd.DataFrame, target: str, config: ModelConfig, schedule: Schedule,
                    settings: BacktestSettings) -> ConfigBacktest:
    """Backtest one configuration; an unusable one is returned with its reason instead of raising."""
    try:
        values = config_values(frame, target, config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            paths, orders = daily_paths(config, values, schedule, settings.min_train_days)
            if not np.all(np.isfinite(paths)):
                raise UnusableConfig("non-finite forecasts (a driver's transform broke on later data)")
            return score_run(config, paths, values[:, 0], frame.index, schedule, settings.horizons, orders)
    except UnusableConfig as exc:
        log.warning("backtest.config_unusable", config=config.label, reason=str(exc))
        return ConfigBacktest(config, unusable=str(exc))


@single_threaded_blas
def run_backtest(frame: pd.DataFrame, target: str, configs: Sequence[ModelConfig], settings: BacktestSettings,
                 schedule: Schedule | None = None) -> BacktestReport:
    """Backtest `configs` plus the naive baseline on the same origins."""
    validate_frame(frame, target)
    schedule = schedule or make_schedule(len(frame), settings)
    unique = {NAIVE.label: NAIVE}
    unique.update({config.label: config for config in configs})
    runs = {label: backtest_config(frame, target, config, schedule, settings) for label, config in unique.items()}
    return BacktestReport(settings.horizons, list(frame.index[schedule.scored]), settings.step_days, runs)
