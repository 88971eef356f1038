"""Hand-made served forecasts and price series for the ledger and track-record unit tests."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from gasforecast.publication.bundle import ForecastBundle
from gasforecast.publication.documents import ForecastDocument, HistoryDocument


def business_days_after(day: date, count: int) -> list[date]:
    days = []
    while len(days) < count:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days.append(day)
    return days


def daily_after(day: date, count: int) -> list[date]:
    return [day + timedelta(days=h) for h in range(1, count + 1)]


def served_bundle(version: str, last_date: date, origin_value: float, *, steps: int = 30, calendar: str | None = None,
                  mean: float | None = None, half_80: float = 2.0, half_95: float = 4.0, target: str = "uk_gas_price",
                  run_id: str | None = None) -> ForecastBundle:
    """A promoted forecast with a flat mean (`mean`, default the origin value) and constant bands."""
    dates = business_days_after(last_date, steps) if calendar == "business" else daily_after(last_date, steps)
    centre = origin_value if mean is None else mean
    points = [{"date": d.isoformat(), "mean": centre, "lower_80": centre - half_80, "upper_80": centre + half_80,
               "lower_95": centre - half_95, "upper_95": centre + half_95} for d in dates]
    first = (last_date - timedelta(days=1)).isoformat()
    forecast: dict[str, Any] = {
        "schema_version": 1, "run_id": run_id or f"run{version}", "trained_at": f"{last_date}T17:00:00Z",
        "target": target, "unit": "pence/therm", "model": {"class": "naive", "label": "naive"},
        "data": {"uri": "gs://b/curated/history.csv", "first_date": first, "last_date": last_date.isoformat(),
                 "rows": 2, **({"calendar": calendar} if calendar else {})},
        "training_window": {"start": first, "end": last_date.isoformat()}, "horizon_max": steps,
        "points": points,
        "backtest": {"horizons": [1], "origins": 0, "selected": "naive", "baseline": "naive", "metrics": {}},
    }
    history = {"points": [{"date": first, "value": origin_value + 5},
                          {"date": last_date.isoformat(), "value": origin_value}]}
    return ForecastBundle(ForecastDocument.model_validate(forecast, strict=False),
                          HistoryDocument.model_validate(history, strict=False), version=version)


def events(caplog, name: str) -> list[dict]:
    """The structured fields of every logged event called `name`."""
    return [record.fields for record in caplog.records
            if getattr(record, "fields", {}).get("event") == name and record.levelno >= logging.INFO]
