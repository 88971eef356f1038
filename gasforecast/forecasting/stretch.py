"""Forecasts from every origin of the evaluation stretch: the evidence the training procedure decides on.

The stretch is the last `stretch_years` of rows before the end of the data. From its start to its
last origin, a configuration is re-estimated every `refit_years` on the rows up to the refit row
(within its training window) and forecasts from *every* row of its block with the data up to that
row: filtering with fixed parameters between refits, as a deployed model is used. Each fit is one
statsmodels call; the forecasts from hundreds of origins are one vectorised recursion
(`linear.forecast_paths`), which keeps a whole procedure run, and so the nested evaluation, cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gasforecast.forecasting.config import ModelConfig, ProcedureSettings
from gasforecast.forecasting.fitting import FitResult, fit_candidate
from gasforecast.forecasting.linear import forecast_paths, transform
from gasforecast.ingestion.series_calendar import ROWS_PER_YEAR, extended_index

MIN_STRETCH_ORIGINS = 40  # fewest origins per half of the stretch with every horizon observed


class InsufficientHistory(ValueError):
    """The frame is too short for the procedure; only more data can fix it."""


class UnusableConfig(ValueError):
    """This configuration cannot run on this frame (missing driver, too little data, failed fit...)."""


@dataclass(frozen=True)
class Stretch:
    """Row positions of the stretch's origins, where its test half starts, and the refit rows."""

    origins: np.ndarray  # every row from the stretch start to the second-to-last row
    split: int  # first origin of the test half; the selection half sees outcomes up to this row only
    block_starts: np.ndarray
    steps: int  # the largest horizon
    calendar: str

    @property
    def start(self) -> int:
        return int(self.origins[0])

    def selection_mask(self) -> np.ndarray:
        return self.origins < self.split

    def test_mask(self) -> np.ndarray:
        return self.origins >= self.split


def rows_for_years(years: float, calendar: str) -> int:
    return max(1, int(round(years * ROWS_PER_YEAR[calendar])))


def make_stretch(rows: int, calendar: str, settings: ProcedureSettings) -> Stretch:
    """Lay out the stretch on `rows` rows, shortening it (down to a floor) when history is short."""
    steps = settings.max_horizon
    minimum = 2 * (steps + MIN_STRETCH_ORIGINS)
    room = rows - 1 - settings.min_train_rows
    length = min(rows_for_years(settings.stretch_years, calendar), room)
    if length < minimum:
        raise InsufficientHistory(f"not enough history for the training procedure: {rows} rows, need at least "
                                  f"{settings.min_train_rows + minimum + 1} (of its {calendar} calendar)")
    origins = np.arange(rows - 1 - length, rows - 1)
    refit = rows_for_years(settings.refit_years, calendar)
    return Stretch(origins=origins, split=int(origins[0] + length // 2), block_starts=origins[::refit],
                   steps=steps, calendar=calendar)


def finite_run_start(values: np.ndarray) -> int:
    """Start of the run of all-finite rows that reaches the last row; raises if the last row is not finite."""
    finite = np.all(np.isfinite(values), axis=1)
    if not finite[-1]:
        raise UnusableConfig("a column has no value on the last row")
    gaps = np.flatnonzero(~finite)
    return int(gaps[-1] + 1) if gaps.size else 0


def config_values(frame: pd.DataFrame, target: str, config: ModelConfig) -> np.ndarray:
    missing = [name for name in config.drivers if name not in frame.columns or name == target]
    if missing:
        raise UnusableConfig(f"driver(s) not in the data: {', '.join(missing)}")
    try:
        return frame[[target, *config.drivers]].to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise UnusableConfig(f"a driver is not numeric: {exc}") from exc


def training_start(config: ModelConfig, first_valid: int, fit_end: int, min_train_rows: int, calendar: str) -> int:
    start = first_valid
    if config.window_years is not None:
        start = max(start, fit_end + 1 - rows_for_years(config.window_years, calendar))
    if fit_end - start + 1 < min_train_rows:
        raise UnusableConfig(f"only {fit_end - start + 1} usable rows before row {fit_end}, need {min_train_rows}")
    return start


@dataclass
class Fitted:
    """One fit and the forecasts it makes (target, log space) from the given origins."""

    fit: FitResult
    paths: np.ndarray  # (origins, steps)
    start: int  # first training row


def fit_and_forecast(config: ModelConfig, values: np.ndarray, dates: pd.DatetimeIndex, fit_end: int,
                     origins: np.ndarray, steps: int, min_train_rows: int, calendar: str,
                     with_results: bool = False) -> Fitted:
    """Fit `config.core` on rows up to `fit_end` and forecast `steps` rows from each origin (all ≥ fit_end).

    `dates` covers the frame's rows and `steps` rows beyond, where calendar terms are evaluated.
    """
    start = training_start(config, finite_run_start(values[: fit_end + 1]), fit_end, min_train_rows, calendar)
    try:
        fit = fit_candidate(config.core, values[start: fit_end + 1], dates[start: fit_end + 1], with_results)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise UnusableConfig(f"fit failed at row {fit_end}: {exc}") from exc
    z = transform(values, fit.level_model.log_columns)
    ahead = np.asarray(origins)[:, None] + np.arange(1, steps + 1)[None, :]
    if fit.term is not None:
        term = fit.term.values(dates)
        z[:, 0] -= term[: len(values)]
    paths = forecast_paths(fit.level_model, z, origins, steps)
    if fit.term is not None:
        paths += term[ahead]
    return Fitted(fit, paths, start)


@dataclass
class StretchPaths:
    """A core configuration's forecasts from every stretch origin and from the last row (log space)."""

    config: ModelConfig
    # Empty for an unusable configuration (`unusable` says why), so the arrays are never None.
    paths: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # (stretch origins, steps)
    final: np.ndarray = field(default_factory=lambda: np.empty(0))  # (final_steps,) from the last row, fitted on every row
    orders: dict = field(default_factory=dict)
    unusable: str | None = None


def stretch_paths(frame: pd.DataFrame, target: str, config: ModelConfig, stretch: Stretch, final_steps: int,
                  min_train_rows: int) -> StretchPaths:
    """Refit along the stretch and once on every row; an unusable configuration is returned with its reason."""
    try:
        values = config_values(frame, target, config)
        dates = extended_index(frame.index, max(final_steps, stretch.steps), stretch.calendar)
        paths = np.empty((stretch.origins.size, stretch.steps))
        ends = np.append(stretch.block_starts[1:], stretch.origins[-1] + 1)
        for block_start, block_end in zip(stretch.block_starts, ends, strict=True):
            rows = (stretch.origins >= block_start) & (stretch.origins < block_end)
            paths[rows] = fit_and_forecast(config, values, dates, int(block_start), stretch.origins[rows],
                                           stretch.steps, min_train_rows, stretch.calendar).paths
        last = len(frame) - 1
        final = fit_and_forecast(config, values, dates, last, np.array([last]), final_steps, min_train_rows,
                                 stretch.calendar)
    except UnusableConfig as exc:
        return StretchPaths(config, unusable=str(exc))
    if not (np.all(np.isfinite(paths)) and np.all(np.isfinite(final.paths))):
        return StretchPaths(config, unusable="non-finite forecasts (an explosive fit)")
    return StretchPaths(config, paths, final.paths[0], final.fit.orders)
