"""Test doubles for the service: bundles written by the real training code from synthetic numbers, a
controllable source, a manual clock."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gasforecast.forecasting import Assessment, Decision, FittedForecast, ModelConfig, NestedEvaluation
from gasforecast.forecasting.distribution import EXPERTS, QUANTILE_LEVELS, PredictiveDistribution, learned_steps
from gasforecast.forecasting.evaluation import baseline_quantiles
from gasforecast.forecasting.evidence import LossTest
from gasforecast.forecasting.procedure import CandidateEvidence
from gasforecast.forecasting.selection import NAIVE
from gasforecast.platform.config import Settings
from gasforecast.platform.storage import StoredObject
from gasforecast.publication import sanity
from gasforecast.publication.bundle import QUANTILE_FIELDS, QUANTILE_PERCENTS, ForecastBundle
from gasforecast.publication.documents import ForecastDocument, HistoryDocument, Sanity, TrackRecordDocument
from gasforecast.publication.serving import ChampionPointer
from gasforecast.scoring.ledger import ledger_entry
from gasforecast.scoring.track_record import build_document
from gasforecast.training.retrain import ForecastResult, TrainingRun, forecast_document, history_document

LABEL = "var[ttf_price,hdd]"


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
    """Points with a Gaussian quantile grid widening like sqrt(h) from the price at the origin; the bands are
    its 10–90 % and 2.5–97.5 % quantiles, as in a real bundle."""
    points = []
    for h, day in enumerate(dates, start=1):
        mean = origin_value * (1 + drift * h)
        spread = origin_value * 0.02 * math.sqrt(h)
        grid = {name: round(mean + float(stats.norm.ppf(percent / 100)) * spread, 3)
                for name, percent in zip(QUANTILE_FIELDS, QUANTILE_PERCENTS, strict=True)}
        points.append({"date": day.isoformat(), "mean": round(mean, 3), "lower_80": grid["q10"],
                       "upper_80": grid["q90"], "lower_95": grid["q2.5"], "upper_95": grid["q97.5"],
                       "quantiles": grid})
    return points


def synthetic_track_record(history: list[dict[str, Any]], calendar: str, horizon_max: int, *,
                           origins: int = 20, every: int = 5, horizons=(1, 7, 14, 30)) -> TrackRecordDocument:
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
            "target": "uk_gas_price", "unit": "pence/therm", "model": {"class": "VAR", "label": LABEL},
            "data": {"uri": "gs://b/curated/history.csv", "first_date": known[0]["date"], "last_date": last.isoformat(),
                     "rows": len(known), "calendar": calendar},
            "training_window": {"start": known[0]["date"], "end": last.isoformat()}, "horizon_max": horizon_max,
            "backtest": {"horizons": [1], "origins": 0, "selected": LABEL, "baseline": "naive", "metrics": {}},
            "points": forecast_points(known[-1]["value"], series_dates(last, horizon_max, calendar, after=True)),
        }
        bundle = ForecastBundle(ForecastDocument.model_validate(earlier, strict=False),
                                HistoryDocument.model_validate({"points": known}), version=str(origins - k))
        entries.append(ledger_entry(bundle, f"key-{k}"))
    actuals = {p["date"]: p["value"] for p in history}
    return build_document(entries, actuals, horizons, target="uk_gas_price", unit="pence/therm")


# The gate's three outcomes (gasforecast.forecasting.procedure.gate), each with test-half ratios to naive per
# horizon for the challenger and the p-value of its Diebold–Mariano test, as a real training records them.
DECISIONS = ("promoted", "kept_champion_config", "naive")
_MODEL = ModelConfig("var", ("ttf_price", "hdd"))
_RIVAL = ModelConfig("ar", naive_weight=0.5)


def _candidate(config: ModelConfig, selection: list[float], test: list[float]) -> CandidateEvidence:
    return CandidateEvidence(config, selection_ratios=np.array(selection), test_ratios=np.array(test))


def _assessment_and_decision(decision: str, calendar: str, history: list[dict[str, Any]],
                             horizons: tuple[int, ...]) -> tuple[Assessment, Decision]:
    """What the procedure's assess and gate steps hand to training, for one of `DECISIONS`."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}")
    model = _candidate(_MODEL, [0.92, 0.95, 0.97, 0.98], [0.90, 0.95, 0.96, 0.97])
    rival = _candidate(_RIVAL, [0.96, 0.98, 0.99, 0.99], [0.95, 0.99, 1.0, 1.0])
    naive = _candidate(NAIVE, [1.0] * 4, [1.0] * 4)
    if decision == "naive":  # a challenger that looked better on the selection half, not clearly so on the test half
        model = _candidate(_MODEL, [0.95, 0.98, 0.99, 0.99], [0.97, 1.0, 1.01, 1.0])
    if decision == "kept_champion_config":  # a rival best on the selection half, no better on the test half
        rival = _candidate(_RIVAL, [0.90, 0.94, 0.96, 0.97], [0.92, 0.96, 0.97, 0.98])
    candidates = {ev.config.label: ev for ev in (naive, rival, model)}
    origins = min(len(history) // 2, 730)
    dates = [p["date"] for p in history]
    stretch = {"first_origin": dates[-origins], "test_from": dates[-origins // 2], "last_origin": dates[-1],
               "origins": origins, "refits": 8}
    challenger = _MODEL if decision != "kept_champion_config" else _RIVAL
    assessment = Assessment("uk_gas_price", calendar, horizons, pd.Timestamp(dates[-1]), stretch,
                            ["ttf_price", "hdd", "brent_price"], _MODEL.drivers, candidates, challenger.label)
    score = candidates[challenger.label].test_score
    if decision == "promoted":
        gate = Decision(_MODEL, decision, "the challenger beats naive on the test half (p = 0.0031); no champion yet",
                        _MODEL.label, None, NAIVE.label, score, None, LossTest(-0.002, -2.9, 0.0031, 336), 0.01)
    elif decision == "kept_champion_config":
        gate = Decision(_MODEL, decision, f"the challenger's edge over {_MODEL.label} on the test half is not "
                        "significant (p = 0.62); the champion's configuration still beats naive (p = 0.0004)",
                        _RIVAL.label, _MODEL.label, _MODEL.label, score, model.test_score,
                        LossTest(0.0004, 0.3, 0.62, 336), 0.01)
    else:
        gate = Decision(NAIVE, decision, "the challenger's edge over naive on the test half is not significant "
                        "(p = 0.21); no champion yet", _MODEL.label, None, NAIVE.label, score, None,
                        LossTest(-0.0003, -0.8, 0.21, 336), 0.01)
    return assessment, gate


def _nested_evaluation(frame: pd.DataFrame, calendar: str, horizons: tuple[int, ...], served: str, decision: str,
                       origins: int = 12, step: int = 8) -> NestedEvaluation:
    """Nested figures scored by the real code: forecasts a little closer than naive, fixed log-normal bands."""
    prices = frame["uk_gas_price"].to_numpy()
    h = np.asarray(horizons)
    positions = len(prices) - 1 - h[-1] - step * np.arange(origins - 1, -1, -1)
    naive = prices[positions]
    actual = prices[positions[:, None] + h[None, :]]
    mean = naive[:, None] + np.array([0.12, 0.06, 0.03, 0.01])[: h.size] * (actual - naive[:, None])
    spread = 0.02 * np.sqrt(h)[None, :, None] * stats.norm.ppf(QUANTILE_LEVELS)[None, None, :]
    quantiles = mean[:, :, None] * np.exp(spread)
    baselines = baseline_quantiles(np.log(prices), positions, horizons, calendar)
    return NestedEvaluation("uk_gas_price", calendar, horizons, frame.index[positions], step,
                            [served] * origins, [decision] * origins, actual, mean,
                            quantiles, naive, baselines, seconds=1.0)


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
    decision: str = "promoted",
    evaluation: bool = True,
    declaration: dict[str, Any] | None = None,
) -> ForecastBundle:
    """A bundle written by the real `training.forecast_document` and `history_document`, parsed like the real one.

    The procedure's objects (assessment, gate decision, fitted forecast, nested evaluation) are the real
    classes filled with synthetic numbers, so the bundle has exactly the fields training writes
    (test_service_fakes.py also compares it with a real training's). `calendar` None leaves
    `data.calendar` out (an older bundle: daily); "business" puts history and forecast on Monday–Friday.
    `decision` is one of `DECISIONS`; `evaluation` False leaves the nested figures out (NESTED_ORIGINS=0);
    `track_record` adds a `track_record.json` scored by the real code; `declaration` holds the settings that
    say what the series is (target_label, target_product, data_source, data_synthetic) as training saw them.
    """
    rng = np.random.default_rng(seed)
    series_calendar = calendar or "daily"
    dates = series_dates(last_date, history_days, series_calendar)
    walk = level * np.exp(np.cumsum(rng.normal(0, 0.02, history_days)))
    frame = pd.DataFrame({"uk_gas_price": np.round(walk, 3)}, index=pd.DatetimeIndex(dates))
    history = [{"date": day.isoformat(), "value": float(v)} for day, v in zip(dates, frame["uk_gas_price"], strict=True)]
    horizons = (1, 7, 14, 30)
    assessment, gate = _assessment_and_decision(decision, series_calendar, history, horizons)
    points = pd.DataFrame([{**{k: v for k, v in p.items() if k != "quantiles"}, **p["quantiles"]}
                           for p in forecast_points(history[-1]["value"],
                                                    series_dates(last_date, horizon_max, series_calendar, after=True))],
                          index=pd.RangeIndex(1, horizon_max + 1, name="step"))
    points["date"] = pd.to_datetime(points["date"])
    naive_served = gate.served.kind == "naive"
    fitted = FittedForecast(gate.served, points, model=None, orders={} if naive_served else {"lags": 3},
                            transforms="log" if naive_served else "log-difference", train_start=frame.index[0],
                            train_end=frame.index[-1], calendar=series_calendar)
    nested = _nested_evaluation(frame, series_calendar, horizons, gate.served.label, decision).to_dict() if evaluation else None
    steps = learned_steps(horizons)
    distribution = PredictiveDistribution(steps, np.zeros((1, steps.size, QUANTILE_LEVELS.size)),
                                          np.full((steps.size, QUANTILE_LEVELS.size, len(EXPERTS)), 1 / len(EXPERTS)),
                                          start=0)
    result = ForecastResult(assessment, gate.served, fitted, gate.to_dict(), nested, chart_png=b"",
                            distribution=distribution.to_dict())
    csv = b"date,uk_gas_price\n"
    training = TrainingRun(Settings(forecast_horizon_max=horizon_max, **(declaration or {})), request=None, message_id=None, key="key",
                           dataset_uri="gs://b/curated/history.csv", curated=StoredObject("curated/history.csv", csv,
                                                                                           1732000000000000),
                           observed=None, frame=frame, prep=None, result=result, run_id=run_id)
    forecast = forecast_document(training)
    judged = sanity.check([p.to_json_dict() for p in forecast.points], frame["uk_gas_price"]).to_dict()
    judged["level_guard"] = sanity.level_guard([p.to_json_dict() for p in forecast.points], None).to_dict()  # a first training's
    forecast = forecast.model_copy(update={
        "trained_at": f"{last_date.isoformat()}T17:00:00Z",  # not the wall clock: pages and ETags stay stable
        "sanity": Sanity.model_validate(judged)})
    text = forecast.model_dump_json(by_alias=True)
    if calendar is None:  # an older bundle: no data.calendar
        document = json.loads(text)
        del document["data"]["calendar"]
        text = json.dumps(document)
    history_doc = history_document(training)
    record = synthetic_track_record(history, series_calendar, horizon_max) if track_record else None
    return ForecastBundle.from_files(text, history_doc.model_dump_json(), version=version,
                                     track_record_text=record.model_dump_json() if record else None)


def rewritten(bundle: ForecastBundle, forecast: Callable[[dict[str, Any]], Any] | None = None,
              track_record: Callable[[dict[str, Any]], Any] | None = None) -> ForecastBundle:
    """`bundle` as if training had written its artifacts with these edits (each changes the JSON document
    in place), parsed back like the service parses a bundle: for older, odd or broken bundles."""
    forecast_doc = bundle.forecast.to_json_dict()
    if forecast is not None:
        forecast(forecast_doc)
    record = bundle.track_record.to_json_dict() if bundle.track_record is not None else None
    if track_record is not None and record is not None:
        track_record(record)
    return ForecastBundle.from_files(json.dumps(forecast_doc), bundle.history.model_dump_json(), bundle.version,
                                     track_record_text=json.dumps(record) if record is not None else None)


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
        """Every published version, newest first, as the serving prefix lists them."""
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
