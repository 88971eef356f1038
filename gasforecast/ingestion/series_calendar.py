"""The calendar of a series: calendar-daily (every day observed) or business-daily (Mon–Fri).

A forecast step is one row of the series' calendar: for a business series step h is the h-th
trading day after the last date, so no Saturday/Sunday and none of the market's holidays is ever
forecast (docs/model.md#calendar). The holidays are learned from the history's own gaps
(`learn_holidays`): the market is not declared (NBP, TTF, Henry Hub and German spot keep different
holidays) and the uploaded history already says which weekdays its market skipped.
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from dateutil.easter import easter

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


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri")
ORDINALS = ("1st", "2nd", "3rd", "4th", "last")
# A rule is a holiday when its weekday is missing from the history in at least this share of the
# years it could have been observed, and in at least HOLIDAY_MIN_YEARS of them: a market closes on
# its holidays every year, a data outage does not repeat on the same rule.
HOLIDAY_MIN_SHARE = 0.75
HOLIDAY_MIN_YEARS = 2
EASTER_OFFSETS = range(-3, 62)  # Maundy Thursday .. Corpus Christi
RULE_ORDER_YEAR = 2024  # rules are listed in the order of their dates in this (leap) year
SUBSTITUTE = "substitute weekday"  # a fixed-date holiday on a weekend moves to the next free weekday
_FIXED = re.compile(r"^(\d{1,2}) (" + "|".join(MONTHS) + r")$")
_EASTER = re.compile(r"^Easter ([+-]\d+)$")
_NTH = re.compile(r"^(" + "|".join(ORDINALS) + r") (" + "|".join(WEEKDAYS) + r") of (" + "|".join(MONTHS) + r")$")


def _rule_date(rule: str, year: int) -> date | None:
    """The date `rule` (a form `_rules_for` writes) falls on in `year`; None when it has none (29 Feb)."""
    if match := _FIXED.match(rule):
        month, day = MONTHS.index(match.group(2)) + 1, int(match.group(1))
        return date(year, month, day) if 1 <= day <= monthrange(year, month)[1] else None
    if (match := _EASTER.match(rule)) and int(match.group(1)) in EASTER_OFFSETS:
        return easter(year) + timedelta(days=int(match.group(1)))
    if match := _NTH.match(rule):
        weekday, month = WEEKDAYS.index(match.group(2)), MONTHS.index(match.group(3)) + 1
        days = [date(year, month, d) for d in range(1, monthrange(year, month)[1] + 1)
                if date(year, month, d).weekday() == weekday]
        return days[ORDINALS.index(match.group(1))] if match.group(1) != "last" else days[-1]
    raise ValueError(f"not a holiday rule: {rule!r}")


def _rules_for(day: date) -> tuple[list[str], list[str]]:
    """The rules a missing weekday could be an instance of: its fixed date and its offset from Easter
    (when near enough), then its weekday of the month."""
    dated = [f"{day.day} {MONTHS[day.month - 1]}"]
    offset = (day - easter(day.year)).days
    if offset in EASTER_OFFSETS:
        dated.append(f"Easter {offset:+d}")
    weekday, month = WEEKDAYS[day.weekday()], MONTHS[day.month - 1]
    of_month = [f"{ORDINALS[(day.day - 1) // 7]} {weekday} of {month}"]
    if day.month != (day + timedelta(days=7)).month:
        of_month.append(f"last {weekday} of {month}")
    return dated, of_month


@dataclass(frozen=True)
class MarketHolidays:
    """The weekdays a business-day market does not trade, as yearly rules ("25 Dec", "Easter -2",
    "last Mon of May") and whether a fixed-date holiday on a weekend moves to the next free weekday."""

    rules: tuple[str, ...] = ()
    substitute: bool = False

    @classmethod
    def from_list(cls, described: list[str] | tuple[str, ...]) -> MarketHolidays:
        """The inverse of `describe`: what a report or a model card stores."""
        rules = tuple(rule for rule in described if rule != SUBSTITUTE)
        for rule in rules:
            if _rule_date(rule, 2000) is None:  # a leap year: only a date no year has (31 Feb) has none
                raise ValueError(f"not a date of any year: {rule!r}")
        return cls(rules, SUBSTITUTE in described)

    def describe(self) -> list[str]:
        return list(self.rules) + ([SUBSTITUTE] if self.substitute else [])

    def in_year(self, year: int) -> set[date]:
        """The holidays of `year` (weekdays only: a weekend is no trading day anyway)."""
        days = {rule: day for rule in self.rules if (day := _rule_date(rule, year)) is not None}
        closed = {day for day in days.values() if day.weekday() < 5}
        if self.substitute:
            for day in sorted(day for rule, day in days.items() if day.weekday() >= 5 and _FIXED.match(rule)):
                moved = day
                while moved.weekday() >= 5 or moved in closed:
                    moved += timedelta(days=1)
                closed.add(moved)
        return closed

    def between(self, start: pd.Timestamp, end: pd.Timestamp) -> set[pd.Timestamp]:
        return {pd.Timestamp(day) for year in range(start.year, end.year + 1) for day in self.in_year(year)
                if start <= pd.Timestamp(day) <= end}


NO_HOLIDAYS = MarketHolidays()


def learn_holidays(observed: pd.DatetimeIndex) -> MarketHolidays:
    """The holidays of a business-day series from the weekdays missing in its history.

    A rule (a fixed date, an offset from Easter Sunday, an n-th or last weekday of a month) is a
    holiday when its date is missing in most of the years it falls on a weekday inside the history
    (HOLIDAY_MIN_SHARE, HOLIDAY_MIN_YEARS). The simplest explanation goes first: fixed dates and Easter
    offsets, then the substitute rule (in most of the years a learned fixed-date holiday falls on a
    weekend, the next free weekday is missing too), then weekdays of a month, judged only on the days
    the rules before do not already explain (so 2 Jan 2023, a substitute, is no evidence for a
    "1st Mon of Jan" rule).
    """
    observed = pd.DatetimeIndex(observed).normalize().unique().sort_values()
    if len(observed) < 2:
        return NO_HOLIDAYS
    first, last = observed[0].date(), observed[-1].date()
    present = set(observed.date)
    missing = [day.date() for day in pd.bdate_range(observed[0], observed[-1]) if day.date() not in present]
    years = range(first.year, last.year + 1)

    def holds(days: Iterable[date | None], explained: set[date]) -> bool:
        inside = [day for day in days if day is not None and first <= day <= last and day.weekday() < 5
                  and day not in explained]
        closed = sum(day not in present for day in inside)
        return closed >= HOLIDAY_MIN_YEARS and closed >= HOLIDAY_MIN_SHARE * len(inside)

    def learned_from(candidates: set[str], known: MarketHolidays) -> MarketHolidays:
        explained = {day for year in years for day in known.in_year(year)}
        rules = known.rules + tuple(rule for rule in sorted(candidates)
                                    if holds((_rule_date(rule, year) for year in years), explained))
        return MarketHolidays(rules, known.substitute)

    dated = learned_from({rule for day in missing for rule in _rules_for(day)[0]}, NO_HOLIDAYS)
    with_substitutes = MarketHolidays(dated.rules, True)
    if holds((day for year in years for day in with_substitutes.in_year(year) - dated.in_year(year)), set()):
        dated = with_substitutes
    learned = learned_from({rule for day in missing for rule in _rules_for(day)[1]}, dated)
    ordered = sorted(learned.rules, key=lambda rule: _rule_date(rule, RULE_ORDER_YEAR) or date.max)
    return MarketHolidays(tuple(ordered), learned.substitute)


def future_dates(last: pd.Timestamp, steps: int, calendar: str,
                 holidays: MarketHolidays = NO_HOLIDAYS) -> pd.DatetimeIndex:
    """The dates of forecast steps 1..steps after `last` in the series' calendar: every day for a
    calendar-daily series, the trading days (weekdays that are not `holidays`) for a business one."""
    if calendar != BUSINESS:
        return pd.date_range(last + pd.Timedelta(days=1), periods=steps, freq="D", name="date")
    weekdays = pd.bdate_range(last + pd.offsets.BDay(1), periods=steps + steps // 10 + 15, name="date")
    while True:
        trading = weekdays[~weekdays.isin(list(holidays.between(weekdays[0], weekdays[-1])))]
        if len(trading) >= steps:
            return trading[:steps]
        weekdays = pd.bdate_range(weekdays[0], periods=2 * len(weekdays), name="date")


def extended_index(index: pd.DatetimeIndex, steps: int, calendar: str,
                   holidays: MarketHolidays = NO_HOLIDAYS) -> pd.DatetimeIndex:
    """The frame's dates followed by `steps` future dates: what deterministic terms are evaluated on."""
    return index.append(future_dates(index[-1], steps, calendar, holidays)) if steps else index
