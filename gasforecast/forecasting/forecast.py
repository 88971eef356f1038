"""The served forecast: the decided configuration's path from the last row, its intervals, its fitted model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from gasforecast.forecasting.config import ModelConfig
from gasforecast.forecasting.distribution import BAND_LEVELS, error_ratio, level_index, price_quantiles
from gasforecast.forecasting.fitting import describe_transforms
from gasforecast.forecasting.stretch import config_values, fit_and_forecast
from gasforecast.ingestion.series_calendar import (
    NO_HOLIDAYS,
    MarketHolidays,
    extended_index,
    future_dates,
    infer_calendar,
)
from gasforecast.platform.logs import get_logger
from gasforecast.publication.bundle import POINT_FIELDS, QUANTILE_FIELDS

if TYPE_CHECKING:
    from gasforecast.forecasting.assessment import CandidateEvidence

log = get_logger(__name__)

POINT_COLUMNS = POINT_FIELDS  # the API point format


@dataclass
class FittedForecast:
    config: ModelConfig
    points: pd.DataFrame  # index 1..H (steps of the calendar); POINT_COLUMNS, prices in the target's unit
    model: object  # the fitted statsmodels results object (of the model part of a naive blend)
    orders: dict
    transforms: str
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    calendar: str
    holidays: MarketHolidays = NO_HOLIDAYS  # the weekdays a business-day series' market skips (not forecast)

    def points_records(self) -> list[dict]:
        """Points in the API format: ISO dates, prices rounded to 1e-4 of the unit, the quantile grid."""
        records = self.points.assign(date=self.points["date"].dt.strftime("%Y-%m-%d")).round(4)
        points = records[list(POINT_COLUMNS)].to_dict(orient="records")
        for point, grid in zip(points, records[list(QUANTILE_FIELDS)].to_dict(orient="records"), strict=True):
            point["quantiles"] = grid
        return points


def forecast_points(evidence: CandidateEvidence, naive: CandidateEvidence, moves: np.ndarray,
                    last_date: pd.Timestamp, horizon: int, calendar: str,
                    holidays: MarketHolidays = NO_HOLIDAYS) -> pd.DataFrame:
    """Price-scale points for steps 1..horizon: the candidate's log path, and the predictive distribution's
    quantiles (`moves`, (horizon, levels)) scaled by its errors relative to naive's; the 80/95 % bands
    are the grid's 10–90 % and 2.5–97.5 % quantiles. Step h is dated the h-th trading day after `last_date`."""
    centre = evidence.final[:horizon]
    steps = np.arange(1, horizon + 1)
    grid = price_quantiles(centre, moves[:horizon], error_ratio(evidence.widths, naive.widths, steps))
    columns: dict[str, object] = {"date": future_dates(last_date, horizon, calendar, holidays), "mean": np.exp(centre)}
    for level in (80, 95):
        low, high = BAND_LEVELS[level]
        columns[f"lower_{level}"] = grid[:, level_index(low)]
        columns[f"upper_{level}"] = grid[:, level_index(high)]
    columns.update(zip(QUANTILE_FIELDS, grid.T, strict=True))
    return pd.DataFrame(columns, index=pd.RangeIndex(1, horizon + 1, name="step"))


def served_forecast(frame: pd.DataFrame, target: str, evidence: CandidateEvidence, naive: CandidateEvidence,
                    moves: np.ndarray, horizon: int, min_train_rows: int,
                    calendar: str | None = None, holidays: MarketHolidays = NO_HOLIDAYS) -> FittedForecast:
    """The points of `evidence` with the predictive distribution's `moves`, plus the statsmodels results of its
    configuration refitted on every row.

    `calendar`: the frame's calendar when the caller already knows it (inferred from the index otherwise);
    `holidays`: the market's holidays (learned from the history's gaps by `training_frame`), never forecast
    on a business-day series.
    """
    config = evidence.config
    calendar = infer_calendar(frame.index) if calendar is None else calendar
    values = config_values(frame, target, config)
    last = len(frame) - 1
    dates = extended_index(frame.index, horizon, calendar, holidays)
    refit = fit_and_forecast(config, values, dates, last, np.array([last]), 1, min_train_rows, calendar,
                             with_results=True)
    points = forecast_points(evidence, naive, moves, frame.index[-1], horizon, calendar, holidays)
    log.info("forecast.fitted", config=config.label, orders=evidence.orders, horizon=horizon, calendar=calendar,
             train_start=str(frame.index[refit.start].date()), train_end=str(frame.index[last].date()))
    return FittedForecast(
        config=config,
        points=points,
        model=refit.fit.results,
        orders=evidence.orders,
        transforms=describe_transforms(config, refit.fit.level_model.log_columns),
        train_start=frame.index[refit.start],
        train_end=frame.index[last],
        calendar=calendar,
        holidays=holidays,
    )
