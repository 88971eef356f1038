"""Revisions judged as revisions: an upload that changes curated values is compared with what was there.

Why: plausibility (gasforecast.ingestion.plausibility) judges each value against its neighbours, so an upload
that rescales the *whole* history (×1.4, then ×10) has no suspicious step anywhere and would be
merged, retrained on and served. A revision is different from an append: the value it replaces was
already accepted, trained on and scored. Ingest therefore compares every value an upload changes
with the curated value it replaces and holds the file (like an implausible value) when the revision
is

- `revision_size`: a value changes by more than `max_change` (relative to the curated value), or
- `revision_breadth`: more values of a column change materially than `max_cells`, or than
  `max_share` of the column's curated values when that is fewer (at least one), or
- `revision_age`: a value dated more than `max_age_days` before the curated data's last date
  changes materially,

where a change is *material* above `tolerance` (rounding, a settlement correction of a fraction of a
percent, flows through). Appends (new dates, new columns, filling an empty cell) are not revisions.
A revision that puts right a value the curated history itself finds implausible (an accepted spike,
then its correction) is a correction, not a rewrite, and is not held.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from gasforecast.ingestion.plausibility import suspicious_cells
from gasforecast.platform.config import Settings

EXAMPLES = 5  # revised cells listed per finding (the counts cover all of them)

RULE_HINTS = {
    "revision_size": "A revision this large is usually a unit change or a different series: check the source.",
    "revision_breadth": "Rewriting this much of the history changes what every past forecast was trained and "
                        "scored on: upload only the rows that really changed.",
    "revision_age": "Old values are rarely revised: check that the file holds the same series in the same unit.",
}


@dataclass(frozen=True)
class RevisionLimits:
    """What a revision may do without a person (the REVISION_* settings; docs/data-contract.md)."""

    max_change: float = 0.10
    tolerance: float = 0.005
    max_cells: int = 10
    max_share: float = 0.05
    max_age_days: int = 31

    @classmethod
    def from_settings(cls, settings: Settings) -> RevisionLimits:
        return cls(max_change=settings.revision_max_change, tolerance=settings.revision_tolerance,
                   max_cells=settings.revision_max_cells, max_share=settings.revision_max_share,
                   max_age_days=settings.revision_max_age_days)

    def breadth_limit(self, curated_values: int) -> int:
        """Material revisions a column of `curated_values` values may take in one upload."""
        return min(self.max_cells, max(1, int(self.max_share * curated_values)))


@dataclass(frozen=True)
class RevisionFinding:
    """One rule one column's revision breaks, with the numbers a person needs to judge it."""

    column: str
    rule: str
    why: str
    revised: int  # values of the column the upload changes materially
    curated_values: int  # values the column had
    largest_change: float  # the largest relative change, e.g. 9.0 for ×10
    median_factor: float  # median of upload ÷ curated over the revised values (1.4 for a ×1.4 rescale)
    first_date: str
    last_date: str
    examples: list[dict[str, Any]]  # the first revised cells: {date, curated, upload, change}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scale(old: pd.Series, column: pd.Series) -> np.ndarray:
    """What a change is relative to: the curated value itself for an all-positive column (a price),
    else at least the column's typical magnitude (a temperature revised from 0.1 to 0.2 is no ×2)."""
    magnitude = np.abs(old.to_numpy())
    if not bool((column > 0).all()):
        typical = float(column.abs().median()) if len(column) else 0.0
        magnitude = np.maximum(magnitude, typical)
    return np.where(magnitude > 0, magnitude, 1.0)


def _corrections(curated: pd.DataFrame, column: str, dates: pd.Index) -> pd.Index:
    """Of `dates`, those whose curated value the curated history itself finds implausible."""
    outliers = {pd.Timestamp(s.date) for s in suspicious_cells(None, curated[[column]])}
    return dates[dates.isin(list(outliers))]


def _finding(column: str, rule: str, why: str, changes: pd.DataFrame, curated_values: int) -> RevisionFinding:
    ratio = (changes["upload"] / changes["curated"]).replace([np.inf, -np.inf], np.nan).dropna()
    examples = [{"date": day.strftime("%Y-%m-%d"), "curated": float(row.curated), "upload": float(row.upload),
                 "change": round(float(row.change), 6)} for day, row in changes.head(EXAMPLES).iterrows()]
    return RevisionFinding(
        column=column, rule=rule, why=why, revised=len(changes), curated_values=curated_values,
        largest_change=round(float(changes["change"].max()), 6),
        median_factor=round(float(ratio.median()), 6) if len(ratio) else float("nan"),
        first_date=changes.index[0].strftime("%Y-%m-%d"), last_date=changes.index[-1].strftime("%Y-%m-%d"),
        examples=examples,
    )


def _column_findings(curated: pd.DataFrame, incoming: pd.DataFrame, column: str,
                     limits: RevisionLimits) -> list[RevisionFinding]:
    history = curated[column].dropna()
    new = incoming[column].dropna()
    old = history.reindex(new.index)
    revised = old.notna() & (old != new)
    if not revised.any():
        return []
    old, new = old[revised], new[revised]
    change = pd.Series(np.abs(new.to_numpy() - old.to_numpy()) / _scale(old, history), index=old.index)
    material = change > limits.tolerance
    if not material.any():
        return []
    changes = pd.DataFrame({"curated": old, "upload": new, "change": change})[material].sort_index()
    large = changes["change"] > limits.max_change
    if large.any():
        corrected = _corrections(curated, column, changes.index[large.to_numpy()])
        changes = changes.drop(index=corrected)
        large = changes["change"] > limits.max_change
    if changes.empty:
        return []
    last_day = curated.index.max()
    cutoff = last_day - pd.Timedelta(days=limits.max_age_days)
    findings = []
    if large.any():
        worst = changes[large]
        findings.append(_finding(column, "revision_size", (
            f"{len(worst)} value(s) change by more than {limits.max_change:.0%} of the curated value "
            f"(largest {worst['change'].max():.0%}, e.g. {worst.index[0]:%Y-%m-%d}: "
            f"{worst['curated'].iloc[0]:g} → {worst['upload'].iloc[0]:g})"), worst, len(history)))
    allowed = limits.breadth_limit(len(history))
    if len(changes) > allowed:
        findings.append(_finding(column, "revision_breadth", (
            f"{len(changes)} of the column's {len(history)} curated values change (by more than "
            f"{limits.tolerance:.1%}); at most {allowed} may change in one upload"), changes, len(history)))
    old_rows = changes[changes.index < cutoff]
    if len(old_rows):
        findings.append(_finding(column, "revision_age", (
            f"{len(old_rows)} value(s) dated more than {limits.max_age_days} days before the curated data's "
            f"last date ({last_day:%Y-%m-%d}) change, the oldest {old_rows.index[0]:%Y-%m-%d}"),
            old_rows, len(history)))
    return findings


def judge_revisions(curated: pd.DataFrame | None, incoming: pd.DataFrame,
                    limits: RevisionLimits) -> list[RevisionFinding]:
    """Findings for every column whose curated values the upload revises beyond `limits` (empty: fine).

    `curated` and `incoming` are date-indexed float frames (as `dataset.read_curated` and the
    contract return them); findings are ordered by the upload's columns, then rule.
    """
    if curated is None or curated.empty:
        return []
    findings: list[RevisionFinding] = []
    for column in incoming.columns:
        if column in curated.columns:
            findings += _column_findings(curated, incoming, column, limits)
    return findings
