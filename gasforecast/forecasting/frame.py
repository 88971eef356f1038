"""Checks on the frame every forecasting entry point receives (built by gasforecast.dataset)."""

from __future__ import annotations

import numpy as np
import pandas as pd


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
