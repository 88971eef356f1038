"""Checks on the frame every forecasting entry point receives, and a plain CSV reader for the CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd

MAX_FILL_DAYS = 4


def validate_frame(frame: pd.DataFrame, target: str) -> None:
    """Raise ValueError unless `frame` is calendar-daily, sorted, and its target finite and positive."""
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError("the frame needs a DatetimeIndex of dates")
    if target not in frame.columns:
        raise ValueError(f"target column {target!r} not in the data (columns: {', '.join(map(str, frame.columns))})")
    if len(frame) > 1 and not ((frame.index[1:] - frame.index[:-1]) == pd.Timedelta(days=1)).all():
        raise ValueError("the frame must be regular calendar-daily, sorted, without duplicate dates")
    values = frame[target].to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"target {target!r} must be finite and strictly positive on every day")


def read_history_csv(path: str, target: str) -> pd.DataFrame:
    """Read a data-contract CSV into a daily frame: gaps of up to 4 days are carried forward.

    The target is then cut to its longest regular stretch at the end of the file, so a leading or
    interior long gap does not stop the analyst CLI.
    """
    raw = pd.read_csv(path, encoding="utf-8-sig")
    if "date" not in raw.columns:
        raise ValueError(f"{path}: no 'date' column")
    raw["date"] = pd.to_datetime(raw["date"], format="%Y-%m-%d")
    raw = raw.set_index("date").sort_index()
    if raw.index.has_duplicates:
        raise ValueError(f"{path}: duplicate dates")
    daily = raw.astype(float).asfreq("D").ffill(limit=MAX_FILL_DAYS)
    daily.index.name = "date"
    if target not in daily.columns:
        raise ValueError(f"{path}: target column {target!r} not found")
    missing = daily[target].isna().to_numpy()
    if missing.any():
        last_gap = int(np.flatnonzero(missing).max())
        daily = daily.iloc[last_gap + 1 :]
    return daily
