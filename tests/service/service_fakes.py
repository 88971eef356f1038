"""Test doubles for the service: schema-true synthetic bundles, a controllable source, a manual clock."""

from __future__ import annotations

import json
import math
import threading
from datetime import date, timedelta
from typing import Any

import numpy as np

from gasforecast.bundle import ForecastBundle
from gasforecast.ledger import ledger_entry
from gasforecast.registry_rest import ChampionPointer
from gasforecast.track_record import build_document

LABEL = "var[ttf_price,hdd]"


def _metrics(rng: np.random.Generator, horizons: tuple[int, ...], scale: float) -> dict[str, dict[str, float]]:
    table = {}
    for h in horizons:
        error = scale * math.sqrt(h)
        table[str(h)] = {
            "mae": round(error, 4),
            "rmse": round(error * 1.3, 4),
            "mase": round(error / math.sqrt(h) * (0.9 + 0.05 * rng.random()), 4),
            "smape": round(error * 0.8, 4),
            "coverage_80": round(0.78 + 0.04 * rng.random(), 3),
            "coverage_95": round(0.93 + 0.04 * rng.random(), 3),
            "winkler_95": round(error * 5, 4),
        }
    return table


def series_dates(last_date: date, count: int, calendar: str = "daily", *, after: bool = False) -> list[date]:
    """`count` dates of a series' calendar ending on `last_date`, or (after=True) following it."""
    step = 1 if after else -1
    dates, day = [], last_date if not after else last_date + timedelta(days=1)
    while len(dates) < count:
        if calendar == "daily" or day.weekday() < 5:
            dates.append(day)
        day += timedelta(days=step)
    return dates if after else dates[::-1]


def forecast_points(origin_value: float, dates: list[date], drift: float = 0.0005) -> list[dict[str, Any]]:
    """Points with bands widening like sqrt(h), from the price at the origin."""
    points = []
    for h, day in enumerate(dates, start=1):
        mean = origin_value * (1 + drift * h)
        spread = origin_value * 0.02 * math.sqrt(h)
        points.append(
            {
                "date": day.isoformat(),
                "mean": round(mean, 3),
                "lower_80": round(mean - 1.28 * spread, 3),
                "upper_80": round(mean + 1.28 * spread, 3),
                "lower_95": round(mean - 1.96 * spread, 3),
                "upper_95": round(mean + 1.96 * spread, 3),
            }
        )
    return points


def synthetic_track_record(history: list[dict[str, Any]], calendar: str, horizon_max: int, *,
                           origins: int = 20, every: int = 5, horizons=(1, 7, 14, 30)) -> dict[str, Any]:
    """A track record made by the real scorer: earlier forecasts from this history, scored against it."""
    entries = []
    for k in range(origins):
        origin = len(history) - 1 - (k + 1) * every
        if origin < 1:
            break
        known = history[: origin + 1]
        last = date.fromisoformat(known[-1]["date"])
        earlier = {
            "schema_version": 1, "run_id": f"run-past{k:02d}", "trained_at": f"{last.isoformat()}T17:00:00Z",
            "target": "uk_gas_price", "unit": "pence/therm", "model": {"label": LABEL},
            "data": {"last_date": last.isoformat(), "calendar": calendar},
            "points": forecast_points(known[-1]["value"], series_dates(last, horizon_max, calendar, after=True)),
        }
        bundle = ForecastBundle(earlier, {"points": known}, version=str(origins - k))
        entries.append(ledger_entry(bundle, f"key-{k}"))
    actuals = {p["date"]: p["value"] for p in history}
    return build_document(entries, actuals, horizons, target="uk_gas_price", unit="pence/therm")


def make_bundle(
    version: str = "1",
    run_id: str = "run-aaaa",
    *,
    last_date: date = date(2024, 12, 30),
    history_days: int = 400,
    horizon_max: int = 90,
    level: float = 100.0,
    seed: int = 1,
    calendar: str | None = None,
    track_record: bool = True,
) -> ForecastBundle:
    """A bundle that follows the forecast.json/history.json contract, parsed like the real one.

    `calendar` None leaves `data.calendar` out (an older bundle: daily); "business" puts history and
    forecast on Monday–Friday. `track_record` adds a `track_record.json` scored by the real code.
    """
    rng = np.random.default_rng(seed)
    dates = series_dates(last_date, history_days, calendar or "daily")
    walk = level * np.exp(np.cumsum(rng.normal(0, 0.02, history_days)))
    history = [{"date": day.isoformat(), "value": round(float(v), 3)} for day, v in zip(dates, walk)]
    last_value = history[-1]["value"]
    points = forecast_points(last_value, series_dates(last_date, horizon_max, calendar or "daily", after=True))
    horizons = (1, 7, 14, 30)
    forecast: dict[str, Any] = {
        "schema_version": 1,
        "run_id": run_id,
        "trained_at": f"{last_date.isoformat()}T17:00:00Z",
        "target": "uk_gas_price",
        "unit": "pence/therm",
        "model": {
            "class": "VAR",
            "label": LABEL,
            "config": {"drivers": ["ttf_price", "hdd"], "maxlags": 14, "ic": "aic"},
            "orders": {"lags": 3},
            "drivers": ["ttf_price", "hdd"],
            "transforms": "log-difference",
        },
        "data": {
            "uri": "gs://b/curated/history.csv",
            "generation": "1732000000000000",
            "sha256": "0" * 64,
            "first_date": history[0]["date"],
            "last_date": last_date.isoformat(),
            "rows": history_days,
            **({"calendar": calendar} if calendar else {}),
        },
        "training_window": {"start": history[0]["date"], "end": last_date.isoformat()},
        "horizon_max": horizon_max,
        "points": points,
        "backtest": {
            "horizons": list(horizons),
            "origins": 104,
            "first_origin": "2023-01-02",
            "last_origin": "2024-12-23",
            "selected": LABEL,
            "baseline": "naive",
            "metrics": {LABEL: _metrics(rng, horizons, 1.0), "naive": _metrics(rng, horizons, 1.2)},
            "scores": {LABEL: 0.97, "naive": 1.0},
        },
        "promotion": {
            "decision": "first_champion",
            "challenger": LABEL,
            "champion": None,
            "challenger_score": 0.97,
            "champion_score": None,
            "reason": "no champion yet",
        },
    }
    history_doc = {"target": "uk_gas_price", "unit": "pence/therm", "points": history}
    record = synthetic_track_record(history, calendar or "daily", horizon_max) if track_record else None
    return ForecastBundle.from_files(json.dumps(forecast), json.dumps(history_doc), version=version,
                                     track_record_text=json.dumps(record) if record else None)


class FakeSource:
    """A registry stand-in: tests set the alias, make it fail, or hold a load until released."""

    def __init__(self, *bundles: ForecastBundle) -> None:
        self.bundles = {b.version: b for b in bundles}
        self.alias: str | None = bundles[-1].version if bundles else None
        self.failure: Exception | None = None
        self.gate = threading.Event()
        self.gate.set()
        self.pointer_calls = 0
        self.load_calls = 0
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()

    def promote(self, bundle: ForecastBundle) -> None:
        self.bundles[bundle.version] = bundle
        self.alias = bundle.version

    def pointer(self) -> ChampionPointer | None:
        with self._lock:
            self.pointer_calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self.gate.wait(30)
            if self.failure:
                raise self.failure
            if self.alias is None:
                return None
            return ChampionPointer(version=self.alias, run_id=self.bundles[self.alias].run_id)
        finally:
            with self._lock:
                self.active -= 1

    def load(self, pointer: ChampionPointer) -> ForecastBundle:
        self.load_calls += 1
        if self.failure:
            raise self.failure
        return self.bundles[pointer.version]

    def fallbacks(self) -> list[ChampionPointer]:
        """Every registered version, newest first, as the registry's version search returns them."""
        if self.failure:
            raise self.failure
        return [ChampionPointer(version=v, run_id=self.bundles[v].run_id)
                for v in sorted(self.bundles, key=int, reverse=True)]


class ManualClock:
    """Monotonic time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
