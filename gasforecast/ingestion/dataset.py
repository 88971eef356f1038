"""The curated dataset: merging accepted uploads into one history, and preparing it for training.

The curated CSV is the single source the models train on. Uploads are increments or full histories,
so merging is an upsert by date in which a value never disappears: new values win, empty cells are
"unknown" (never "delete"), new columns are added. Training needs a regular calendar, so
`training_frame` decides the series' calendar (calendar-daily or business-daily), fills short gaps
and cuts away history separated by longer holes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gasforecast.ingestion.contract import DATE_COLUMN
from gasforecast.ingestion.series_calendar import (
    BUSINESS,
    MarketHolidays,
    calendar_of_observations,
    is_weekend,
    learn_holidays,
    regular_index,
)

_ISO = "%Y-%m-%d"


def _iso(stamp: pd.Timestamp | None) -> str | None:
    return None if stamp is None or pd.isna(stamp) else stamp.strftime(_ISO)


@dataclass
class MergeReport:
    """What an upload changed in the curated dataset (logged, and stored beside the archived file)."""

    rows_added: int
    rows_updated: int
    cells_revised: int
    cells_filled: int
    columns_added: list[str]
    first_date: str | None
    last_date: str | None
    total_rows: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_curated(data: bytes) -> pd.DataFrame:
    """Parse the curated CSV (as written by `curated_to_bytes`) into a date-indexed float frame."""
    if not data.strip():
        return pd.DataFrame(index=pd.DatetimeIndex([], name=DATE_COLUMN), dtype="float64")
    frame = pd.read_csv(io.BytesIO(data), dtype={DATE_COLUMN: str})
    dates = pd.to_datetime(frame.pop(DATE_COLUMN), format=_ISO)
    frame.index = pd.DatetimeIndex(dates, name=DATE_COLUMN)
    return frame.astype("float64").sort_index()


def curated_to_bytes(frame: pd.DataFrame) -> bytes:
    """Canonical CSV: ISO dates in order, the frame's column order, floats that round-trip exactly."""
    ordered = frame.sort_index()
    out = ordered.copy()
    out.index = pd.Index(ordered.index.strftime(_ISO), name=DATE_COLUMN)
    return out.to_csv(lineterminator="\n").encode("utf-8")


def _column_order(curated: pd.DataFrame, incoming: pd.DataFrame, target: str) -> list[str]:
    """Target first, then the curated columns as they were, then new columns in upload order."""
    order = [target] if target in curated.columns or target in incoming.columns else []
    for name in [*curated.columns, *incoming.columns]:
        if name not in order:
            order.append(name)
    return order


def upsert(curated: pd.DataFrame | None, incoming: pd.DataFrame, target: str) -> tuple[pd.DataFrame, MergeReport]:
    """Merge an accepted upload into the curated dataset by date; new values win, nothing is dropped."""
    if not incoming.index.is_unique:
        raise ValueError("incoming dates must be unique (validate the file first)")
    base = curated if curated is not None else pd.DataFrame(index=pd.DatetimeIndex([], name=DATE_COLUMN))
    news = incoming.dropna(how="all").dropna(axis=1, how="all").astype("float64")
    columns = _column_order(base, news, target)
    dates = base.index.union(news.index).rename(DATE_COLUMN)
    old = base.reindex(index=dates, columns=columns).astype("float64")
    new = news.reindex(index=dates, columns=columns)
    merged = new.where(new.notna(), old)

    existing_row = dates.isin(base.index)[:, np.newaxis]
    old_has, new_has = old.notna().to_numpy(), new.notna().to_numpy()
    revised = old_has & new_has & (old.to_numpy() != new.to_numpy())
    filled = ~old_has & new_has & existing_row
    report = MergeReport(
        rows_added=int((~dates.isin(base.index) & dates.isin(news.index)).sum()),
        rows_updated=int((revised | filled).any(axis=1).sum()),
        cells_revised=int(revised.sum()),
        cells_filled=int(filled.sum()),
        columns_added=[name for name in columns if name not in base.columns],
        first_date=_iso(dates.min()) if len(dates) else None,
        last_date=_iso(dates.max()) if len(dates) else None,
        total_rows=len(dates),
    )
    return merged, report


@dataclass
class PrepReport:
    """How the curated history was turned into a regular training frame (daily or business-daily)."""

    gaps_filled: int  # target rows carried forward
    filled_dates: list[str]  # the first few of them
    long_gaps: list[dict[str, Any]]  # target gaps longer than the fill limit
    start: str | None
    end: str | None
    rows: int
    driver_cells_filled: int = 0
    stretch: str = "recent"  # "recent" or "longest": which regular stretch was kept (see docs)
    dropped_rows: int = 0  # rows of the calendar outside the kept stretch
    notes: list[str] = field(default_factory=list)
    calendar: str = "daily"  # "daily" or "business": the rows (and forecast steps) of this series
    publication_lags: dict[str, int] = field(default_factory=dict)  # driver → days after its date it is known
    # A business-day series' market holidays learned from the history's gaps (series_calendar.learn_holidays):
    # kept as rows of the frame (carried forward) but never a forecast date. Empty for a calendar-daily series.
    holidays: list[str] = field(default_factory=list)

    def market_holidays(self) -> MarketHolidays:
        return MarketHolidays.from_list(self.holidays)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fillable(column: pd.Series, max_fill_days: int) -> pd.Series:
    """Missing days that follow an observation within a run of at most `max_fill_days`."""
    missing = column.isna()
    run_id = (~missing).cumsum()
    run_length = missing.groupby(run_id).transform("sum")
    return missing & (run_id > 0) & (run_length <= max_fill_days)


def _long_gaps(target: pd.Series, max_fill_days: int) -> list[dict[str, Any]]:
    """Target gaps longer than the fill limit; `days` counts rows of the series' calendar."""
    missing = target.isna()
    run_id = (~missing).cumsum()
    gaps = []
    for _, run in target[missing].groupby(run_id[missing]):
        if len(run) > max_fill_days:
            gaps.append({"start": _iso(run.index[0]), "end": _iso(run.index[-1]), "days": len(run)})
    return gaps


def _choose_stretch(target: pd.Series, min_recent_days: int) -> tuple[pd.Timestamp, pd.Timestamp, str]:
    """The stretch without long gaps that ends at the last observation, or the longest if that is too short."""
    observed = target.notna()
    stretch_id = (~observed).cumsum()[observed]
    bounds = target[observed].index.to_series().groupby(stretch_id.to_numpy()).agg(["first", "last"])
    bounds["days"] = target.index.get_indexer(bounds["last"]) - target.index.get_indexer(bounds["first"]) + 1
    recent = bounds.iloc[-1]
    if recent["days"] >= min_recent_days or len(bounds) == 1:
        return recent["first"], recent["last"], "recent"
    longest = bounds[bounds["days"] == bounds["days"].max()].iloc[-1]
    if longest["days"] <= recent["days"]:
        return recent["first"], recent["last"], "recent"
    return longest["first"], longest["last"], "longest"


# Weather, gas demand and storage figures for a day are published the next day (docs/data-contract.md#publication-lags).
LAGGED_BY_DEFAULT = re.compile(r"temp|hdd|cdd|weather|demand|offtake|consumption|storage|wind|solar", re.IGNORECASE)
DEFAULT_LAG_DAYS = 1


def publication_lags(columns: list[str], target: str, declared: Mapping[str, int] | None = None) -> dict[str, int]:
    """Days after its date each driver's value is known: the declared lag, else one day for weather, demand
    and storage columns (by name) and none for the rest. The target is never lagged."""
    lags = {name: DEFAULT_LAG_DAYS for name in columns if name != target and LAGGED_BY_DEFAULT.search(name)}
    lags.update({name: int(days) for name, days in (declared or {}).items() if name in columns and name != target})
    return {name: days for name, days in lags.items() if days > 0}


def as_published(curated: pd.DataFrame, lags: Mapping[str, int]) -> pd.DataFrame:
    """Each lagged driver's values moved to the date they are published on, so a row holds only what was
    known that day (a value published after the last row is not there yet)."""
    if not lags:
        return curated
    moved = {name: curated[name].dropna().set_axis(curated[name].dropna().index + pd.Timedelta(days=days))
             for name, days in lags.items()}
    published_on = pd.DatetimeIndex([d for series in moved.values() for d in series.index]).unique()
    index = curated.index.union(published_on)
    out = curated.reindex(index)
    for name, series in moved.items():
        out[name] = series.reindex(index)
    out.index.name = curated.index.name
    return out


def training_frame(
    curated: pd.DataFrame, target: str, max_fill_days: int = 4, min_recent_days: int = 365,
    declared_lags: Mapping[str, int] | None = None, max_years: float = 0.0,
) -> tuple[pd.DataFrame, PrepReport]:
    """A regular frame for fitting: drivers as published, short gaps carried forward, long target gaps cut away.

    The calendar comes from the target: a series (almost) never observed on Saturdays or Sundays is
    business-daily (rows Mon–Fri, weekend rows dropped, holidays carried forward and learned for the
    forecast dates from the weekdays the target misses year after year), any other is
    calendar-daily (weekends carried forward). Gap lengths (`max_fill_days`, `min_recent_days`) count
    rows of that calendar. The kept stretch is the one ending at the last target observation when it
    spans at least `min_recent_days`; otherwise the longest stretch (the most recent among equals).
    Drivers are filled the same way but never cut the frame: cells beyond the fill limit stay NaN.
    A driver with a publication lag (`publication_lags`) enters on the day it is published.
    With `max_years` > 0 the frame keeps only that many trailing years of the stretch: a training's
    cost grows with its rows, and older rows stay in the curated dataset (docs/operations.md).
    """
    lags = publication_lags(list(curated.columns), target, declared_lags)
    curated = as_published(curated, lags)
    observed = curated[target].dropna()
    if observed.empty:
        raise ValueError(f"the curated dataset has no values for {target!r}")
    calendar = calendar_of_observations(observed.index)
    span = curated.sort_index().loc[observed.index[0]: observed.index[-1]]
    notes = []
    if calendar == BUSINESS:
        weekend_rows = int(is_weekend(observed.index).sum())
        if weekend_rows:
            notes.append(f"business-day series: {weekend_rows} weekend value(s) of the target ignored")
        span = span[~is_weekend(span.index)]
    regular = span.reindex(regular_index(span.index[0], span.index[-1], calendar))
    filled_mask = pd.DataFrame({name: _fillable(regular[name], max_fill_days) for name in regular.columns})
    filled = regular.where(~filled_mask, regular.ffill())

    long_gaps = _long_gaps(regular[target], max_fill_days)
    start, end, stretch = _choose_stretch(filled[target], min_recent_days)
    if max_years > 0:
        window_start = end - pd.Timedelta(days=round(max_years * 365.25))
        if start < window_start:
            older = int((filled.loc[start:end].index < window_start).sum())
            notes.append(f"training reads the last {max_years:g} years (MAX_TRAINING_YEARS): {older} older row(s) "
                         "stay in the curated dataset")
            start = filled.loc[window_start:end].index[0]
    kept = filled.loc[start:end]
    kept_mask = filled_mask.loc[start:end]
    target_filled = kept_mask[target]
    if stretch == "longest":
        notes.append(f"the stretch after the last long gap is shorter than {min_recent_days} rows; "
                     f"training on the longest regular stretch, which ends {_iso(end)}")
    report = PrepReport(
        gaps_filled=int(target_filled.sum()),
        filled_dates=[day.strftime(_ISO) for day in target_filled[target_filled].index[:10]],
        long_gaps=long_gaps,
        start=_iso(start),
        end=_iso(end),
        rows=len(kept),
        driver_cells_filled=int(kept_mask.drop(columns=[target]).to_numpy().sum()),
        stretch=stretch,
        dropped_rows=len(filled) - len(kept),
        notes=notes,
        calendar=calendar,
        publication_lags=lags,
        holidays=learn_holidays(observed.index[~is_weekend(observed.index)]).describe() if calendar == BUSINESS else [],
    )
    return kept, report


def frame_from_csv(data: bytes, target: str, *, max_bytes: int, max_columns: int,
                   declared_lags: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, PrepReport]:
    """An analyst's CSV on the same path as an upload: the data contract, then the training frame.

    Raises ValueError, one line naming the first problem's line, when the file breaks the contract.
    """
    from gasforecast.ingestion.contract import validate_csv

    result = validate_csv(data, target=target, max_bytes=max_bytes, max_columns=max_columns)
    if not result.ok:
        more = len(result.problems) - 1
        first = result.problems[0]
        raise ValueError(f"the file breaks the data contract{' on ' + first.location if first.location else ''}: "
                         f"{first.message} ("
                         + (f"and {more} more problem{'s' if more > 1 else ''}; " if more else "")
                         + "`gasforecast validate` lists each with its fix)")
    return training_frame(result.frame, target, declared_lags=declared_lags)
