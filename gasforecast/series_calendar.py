"""The calendar of a series: calendar-daily (every day observed) or business-daily (Mon–Fri).

A forecast step is one row of the series' calendar: for a business series step h is the h-th
business day after the last date, so no Saturday/Sunday point is ever forecast (docs/model.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAILY = "daily"
BUSINESS = "business"
ROWS_PER_YEAR = {DAILY: 365.25, BUSINESS: 5 * 365.25 / 7}
WEEKEND_SHARE_MAX = 0.02  # a target observed on weekends at most this often is a business-day series


def is_weekend(index: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(index.day_of_week >= 5)


def calendar_of_observations(dates: pd.DatetimeIndex) -> str:
    """`business` when (almost) no observation falls on a Saturday or Sunday, else `daily`."""
    if len(dates) == 0:
        return DAILY
    return BUSINESS if is_weekend(dates).mean() <= WEEKEND_SHARE_MAX else DAILY


def regular_index(start: pd.Timestamp, end: pd.Timestamp, calendar: str) -> pd.DatetimeIndex:
    """Every row date of the calendar from `start` to `end` (both snapped into the calendar)."""
    freq = "B" if calendar == BUSINESS else "D"
    return pd.date_range(start, end, freq=freq, name="date")


def infer_calendar(index: pd.DatetimeIndex) -> str:
    """The calendar of a regular frame index; raises ValueError for an irregular one."""
    if len(index) < 2:
        return BUSINESS if len(index) and is_weekend(index).sum() == 0 else DAILY
    for calendar in (DAILY, BUSINESS):
        expected = regular_index(index[0], index[-1], calendar)
        if len(expected) == len(index) and (expected == index).all():
            return calendar
    raise ValueError("the frame must be regular: calendar-daily or business-daily (Mon–Fri), sorted, "
                     "without duplicate dates")


def future_dates(last: pd.Timestamp, steps: int, calendar: str) -> pd.DatetimeIndex:
    """The dates of forecast steps 1..steps after `last` in the series' calendar."""
    offset = pd.offsets.BDay(1) if calendar == BUSINESS else pd.Timedelta(days=1)
    return pd.date_range(last + offset, periods=steps, freq="B" if calendar == BUSINESS else "D", name="date")


def extended_index(index: pd.DatetimeIndex, steps: int, calendar: str) -> pd.DatetimeIndex:
    """The frame's dates followed by `steps` future dates: what deterministic terms are evaluated on."""
    return index.append(future_dates(index[-1], steps, calendar)) if steps else index
