"""Plausibility beyond format: values that would move a series implausibly far are held for a person.

A mistyped price (1326.3 for 132.63) is a valid number, so the data contract lets it through; once
merged it would be trained on and served. Ingest therefore compares every value an upload adds or
revises with the series' own recent history (the curated dataset with the upload merged in) and
holds the file when a value

- `ratio_step`: differs by a factor of 5 or more from the median of the (up to 5) observations
  before it, in a column whose values are all positive (prices, volumes; a decimal-point slip is a
  factor of 10), unless that log change is within `RATIO_SIGMAS` times the column's recent
  volatility (a positive column that lives near zero, such as a winter temperature), or
- `volatility_jump`: jumps at least `JUMP_SIGMAS` times the column's recent volatility away from
  that median (volatility: the 90th percentile of absolute one-step changes, in logs for positive
  columns, over the previous `WINDOW` observations; at least `MIN_WINDOW` are needed), lands
  beyond the range of those observations by at least the range's own width, and reverts: the next
  observation, when there is one, comes back at least halfway.

Observations more than `MAX_GAP_DAYS` apart do not count as neighbours (a new stretch starts).
Genuine spikes exist (2022 had +58 % days), so a held file is never rejected: an operator accepts
it explicitly (docs/data-contract.md). On ten years of real NBP, TTF, JKM, Henry Hub, Brent, EUA,
NTS demand, weather and German VHP data uploaded month by month, the rule holds 4 of 404 monthly
increments and never a price target (bench/plausibility_holds.py lists each held cell).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

RATIO_LIMIT = 5.0
RATIO_SIGMAS = 5.0
JUMP_SIGMAS = 10.0
WINDOW = 250
MIN_WINDOW = 10
REFERENCE_OBSERVATIONS = 5
MAX_GAP_DAYS = 31
VOLATILITY_QUANTILE = 0.9

RULE_HINTS = {
    "ratio_step": "A factor of 5 or more in one step is usually a misplaced decimal point or a unit change.",
    "volatility_jump": "A jump of this size that reverts the next day is usually a typing slip.",
}


@dataclass(frozen=True)
class Suspicion:
    """One cell of an upload that looks implausible, with the numbers that make it so."""

    column: str
    date: str
    value: float
    rule: str
    reference: float  # median of the observations just before
    previous: dict[str, Any] | None  # {"date", "value"} of the observation just before
    next: dict[str, Any] | None
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _neighbour(series: pd.Series, position: int) -> dict[str, Any] | None:
    if not 0 <= position < len(series):
        return None
    return {"date": series.index[position].strftime("%Y-%m-%d"), "value": float(series.iloc[position])}


def _changed_cells(curated: pd.DataFrame | None, incoming: pd.DataFrame, column: str) -> pd.Index:
    """Dates where the upload adds or revises a value of `column` (unchanged values were checked before)."""
    new = incoming[column].dropna()
    if curated is None or column not in curated.columns:
        return new.index
    old = curated[column].reindex(new.index)
    return new.index[~(old == new).to_numpy()]


def _column_suspicions(column: str, series: pd.Series, checked: pd.Index, positive: bool) -> list[Suspicion]:
    """Judge the `checked` dates of one merged, observed-only, date-sorted series; `positive`: the
    whole column (not only this stretch) is positive, so it is judged in logs and ratios."""
    y = pd.Series(np.log(series.to_numpy()) if positive else series.to_numpy(float), index=series.index)
    days = series.index.to_series()
    gap_before = (days - days.shift(1)).dt.days.to_numpy()
    gap_after = (days.shift(-1) - days).dt.days.to_numpy()
    previous = y.shift(1)
    reference = previous.rolling(REFERENCE_OBSERVATIONS, min_periods=1).median()
    sigma = y.diff().abs().shift(1).rolling(WINDOW, min_periods=MIN_WINDOW).quantile(VOLATILITY_QUANTILE)
    low = previous.rolling(WINDOW, min_periods=MIN_WINDOW).min()
    high = previous.rolling(WINDOW, min_periods=MIN_WINDOW).max()
    width = high - low

    jump = (y - reference).abs()
    has_previous = gap_before <= MAX_GAP_DAYS
    calm_enough = (sigma.isna() | (jump >= RATIO_SIGMAS * sigma)).to_numpy()
    ratio_step = has_previous & positive & (jump >= np.log(RATIO_LIMIT)).to_numpy() & calm_enough
    beyond_range = ((y > high + width) | (y < low - width)).to_numpy()
    next_value = y.shift(-1).where(gap_after <= MAX_GAP_DAYS)
    reverts = (next_value.isna() | ((next_value - reference).abs() <= jump / 2)).to_numpy()
    volatility_jump = has_previous & (jump >= JUMP_SIGMAS * sigma.clip(lower=0)).to_numpy() & beyond_range & reverts

    wanted = series.index.isin(checked)
    suspicions = []
    for position in map(int, np.flatnonzero(wanted & (ratio_step | volatility_jump))):
        ref = float(np.exp(reference.iloc[position]) if positive else reference.iloc[position])
        value = float(series.iloc[position])
        if ratio_step[position]:
            factor = max(value / ref, ref / value)
            direction = "larger" if value > ref else "smaller"
            rule, why = "ratio_step", (f"{value:g} is {factor:.1f} times {direction} than the level just before "
                                       f"({ref:.4g}); the limit is a factor of {RATIO_LIMIT:g}")
        else:
            unit = "log changes" if positive else "changes"
            multiple = float(jump.iloc[position] / sigma.iloc[position]) if sigma.iloc[position] > 0 else float("inf")
            rule, why = "volatility_jump", (f"{value:g} jumps {multiple:.0f} times the recent volatility of {unit} "
                                            f"away from {ref:.4g}, beyond the range of the last {WINDOW} "
                                            f"observations, and reverts")
        suspicions.append(Suspicion(
            column=column, date=series.index[position].strftime("%Y-%m-%d"), value=value, rule=rule, reference=ref,
            previous=_neighbour(series, position - 1), next=_neighbour(series, position + 1), why=why,
        ))
    return suspicions


def suspicious_cells(curated: pd.DataFrame | None, incoming: pd.DataFrame) -> list[Suspicion]:
    """Cells the upload adds or revises that look implausible against the merged history.

    `curated` and `incoming` are date-indexed float frames (as `dataset.read_curated` and the
    contract return them); the result is ordered by column, then date.
    """
    suspicions: list[Suspicion] = []
    for column in incoming.columns:
        checked = _changed_cells(curated, incoming, column)
        if checked.empty:
            continue
        new = incoming[column].dropna()
        old = curated[column].dropna() if curated is not None and column in curated.columns else new.iloc[:0]
        merged = pd.concat([old[~old.index.isin(new.index)], new]).sort_index()
        positions = merged.index.get_indexer(checked)
        # Only the history the rule looks at (a decade of curated rows does not make increments slow).
        start = max(0, int(positions.min()) - WINDOW - REFERENCE_OBSERVATIONS - 1)
        suspicions += _column_suspicions(column, merged.iloc[start: int(positions.max()) + 2], checked,
                                         positive=bool((merged > 0).all()))
    return suspicions
