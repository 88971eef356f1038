"""Fit the chosen configuration on all the data and forecast with calibrated 80 % and 95 % intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gasforecast.bundle import POINT_FIELDS
from gasforecast.forecasting.backtest import (
    BacktestReport,
    config_values,
    finite_run_start,
    run_backtest,
    training_start,
)
from gasforecast.forecasting.blas import single_threaded_blas
from gasforecast.forecasting.config import BacktestSettings, ModelConfig
from gasforecast.forecasting.fitting import describe_transforms, fit_candidate
from gasforecast.forecasting.frame import validate_frame
from gasforecast.forecasting.intervals import LEVELS, ewma_volatility, interval_bounds, quantile_offsets, same_weekday
from gasforecast.forecasting.linear import forecast_paths, transform
from gasforecast.logs import get_logger

log = get_logger(__name__)

POINT_COLUMNS = POINT_FIELDS  # the API point format


@dataclass
class FittedForecast:
    config: ModelConfig
    points: pd.DataFrame  # index 1..H; POINT_COLUMNS, prices in the target's unit
    model: object  # the fitted statsmodels results object
    orders: dict
    transforms: str
    train_start: pd.Timestamp
    train_end: pd.Timestamp

    def points_records(self) -> list[dict]:
        """Points in the API format: ISO dates, prices rounded to 1e-4 of the unit."""
        records = self.points.assign(date=self.points["date"].dt.strftime("%Y-%m-%d")).round(4)
        return records[list(POINT_COLUMNS)].to_dict(orient="records")


def calibration_errors(frame: pd.DataFrame, target: str, config: ModelConfig,
                       calibration: BacktestReport | None) -> np.ndarray:
    """Standardised backtest errors of `config` from origins on the last date's weekday.

    Taken from `calibration` when it holds this configuration, else from a fresh one-origin backtest.
    """
    run = calibration.runs.get(config.label) if calibration is not None else None
    if run is None or run.calibration_errors is None:
        log.info("forecast.calibration_backtest", config=config.label)
        run = run_backtest(frame, target, [config], BacktestSettings(origins=1)).runs[config.label]
        if run.calibration_errors is None:
            raise ValueError(f"cannot calibrate intervals for {config.label}: {run.unusable}")
    days_before_end = (frame.index[-1] - run.calibration_origins).days.to_numpy()
    return run.calibration_errors[same_weekday(days_before_end, 0)]


def step_quantiles(errors: np.ndarray, horizon: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Quantiles per step 1..horizon; past the backtested steps the last one's are reused (sqrt(h) widening)."""
    offsets = quantile_offsets(list(errors.T))
    take = np.minimum(np.arange(horizon), errors.shape[1] - 1)
    return {level: (low[take], high[take]) for level, (low, high) in offsets.items()}


@single_threaded_blas
def fit_forecast(frame: pd.DataFrame, target: str, config: ModelConfig, horizon: int,
                 calibration: BacktestReport | None = None,
                 min_train_days: int = BacktestSettings.min_train_days) -> FittedForecast:
    """Fit `config` on every usable row (or its window) and forecast `horizon` days after the last date."""
    validate_frame(frame, target)
    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    values = config_values(frame, target, config)
    last = len(frame) - 1
    start = training_start(config, finite_run_start(values), last, min_train_days)
    fit = fit_candidate(config, values[start:], with_results=True)
    centre = forecast_paths(fit.level_model, transform(values, fit.level_model.log_columns), np.array([last]), horizon)
    sigma = ewma_volatility(np.log(values[:, 0]))[last:]
    steps = np.arange(1, horizon + 1, dtype=float)
    quantiles = step_quantiles(calibration_errors(frame, target, config, calibration), horizon)
    columns = {"date": frame.index[last] + pd.to_timedelta(np.arange(1, horizon + 1), unit="D"),
               "mean": np.exp(centre[0])}
    for level in LEVELS:
        lower, upper = interval_bounds(centre, sigma, steps, *quantiles[level])
        columns[f"lower_{level}"], columns[f"upper_{level}"] = np.exp(lower[0]), np.exp(upper[0])
    points = pd.DataFrame(columns, index=pd.RangeIndex(1, horizon + 1, name="step"))
    log.info("forecast.fitted", config=config.label, orders=fit.orders, horizon=horizon,
             train_start=str(frame.index[start].date()), train_end=str(frame.index[last].date()))
    return FittedForecast(
        config=config,
        points=points,
        model=fit.results,
        orders=fit.orders,
        transforms=describe_transforms(config, fit.level_model.log_columns),
        train_start=frame.index[start],
        train_end=frame.index[last],
    )
