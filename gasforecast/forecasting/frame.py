"""Checks on the frame every forecasting entry point receives (built by gasforecast.ingestion.dataset)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gasforecast.ingestion.series_calendar import infer_calendar


def validate_frame(frame: pd.DataFrame, target: str) -> str:
    """Return the frame's calendar ("daily" or "business"); raise ValueError unless the frame is regular
    in it, sorted, and its target finite and positive."""
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValueError("the frame needs a DatetimeIndex of dates")
    if target not in frame.columns:
        raise ValueError(f"target column {target!r} not in the data (columns: {', '.join(map(str, frame.columns))})")
    calendar = infer_calendar(frame.index)
    values = frame[target].to_numpy(dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        raise ValueError(f"target {target!r} must be finite and strictly positive on every row")
    return calendar
