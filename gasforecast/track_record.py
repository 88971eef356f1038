"""The live track record: how the forecasts that were served did once their prices came in.

At every training the ledger (`gasforecast.ledger`) is scored against the realised prices of the
curated data: each matured point — a forecast point whose target date has an observed price — gets
its absolute error, the error of the "no change" forecast from the same origin (the price observed
on the forecast's last data date) and whether the price fell inside its 80 % and 95 % bands.
Aggregates per horizon over the last 30 and 90 matured points and over all of them say whether the
forecasts beat "no change" and whether the bands hold what they promise. The document
(`track_record.json`, docs/api.md#track-record) ships with the champion's bundle; the service
serves it as it is.

When the live figures cross `THRESHOLDS` a `track_record.degraded` warning is logged, so an alert
can be built on it (docs/track-record.md explains the thresholds).

Pure Python on purpose: the service imports `validate_document` and must not load pandas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timezone
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from gasforecast.bundle import CALENDARS, is_finite_number
from gasforecast.logs import get_logger

if TYPE_CHECKING:  # the service imports this module for `validate_document` only: keep it light
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from gasforecast.storage import ObjectStore

log = get_logger(__name__)

SCHEMA_VERSION = 1
WINDOWS = (30, 90)  # rolling windows: the last N matured points of a horizon
WINDOW_NAMES = tuple(f"last_{n}" for n in WINDOWS) + ("all",)
MEASURES = ("mae", "naive_mae", "mae_ratio", "closer_than_naive", "coverage_80", "coverage_95")
POINT_COLUMNS = (
    "forecast_date", "target_date", "horizon", "mean", "lower_80", "upper_80", "lower_95", "upper_95",
    "actual", "naive", "abs_error", "naive_abs_error", "inside_80", "inside_95", "closer_than_naive",
    "model_version", "run_id", "revised_actual",
)
MONITORING_TAG = "gasforecast.monitoring"
MONITORING_KEY_TAG = "track_record.training_key"  # the training that logged the latest record
STATUSES = ("no_scores", "too_few_points", "ok", "degraded")


@dataclass(frozen=True)
class Thresholds:
    """When the live record counts as degraded, judged per horizon on the last `window` matured points.

    Loose on purpose: overlapping multi-step forecasts are correlated, so 30 points carry less
    evidence than 30 independent ones; these fire on a clear break, not on noise.
    """

    window: int = 30
    min_points: int = 20  # fewer matured points than this: no verdict yet
    mae_ratio_max: float = 1.25  # errors 25 % larger than "no change"
    coverage_80_min: float = 0.60  # nominal 0.80
    coverage_95_min: float = 0.80  # nominal 0.95

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


THRESHOLDS = Thresholds()


def realised_prices(curated: "pd.DataFrame", target: str) -> dict[str, float]:
    """Observed prices by ISO date from the curated data (no filled days: only what was observed)."""
    observed = curated[target].dropna()
    return {stamp.strftime("%Y-%m-%d"): float(value) for stamp, value in observed.items()}


def latest_per_origin(entries: Iterable[dict]) -> list[dict]:
    """One entry per data-through date: the highest version, i.e. the one served last from that data
    (a forced retrain on unchanged data promotes a second forecast from the same origin)."""
    latest: dict[str, dict] = {}
    for entry in entries:
        kept = latest.get(entry["data_through"])
        if kept is None or int(entry["model_version"]) > int(kept["model_version"]):
            latest[entry["data_through"]] = entry
    return [latest[origin] for origin in sorted(latest)]


def score_entries(entries: Iterable[dict], actuals: Mapping[str, float], horizons: Sequence[int],
                  target: str, current: Mapping[str, float] | None = None) -> list[dict]:
    """The matured points of `horizons` (steps in each entry's calendar), ordered by target date.

    A point is matured when its target date has an observed price; entries for another target are
    ignored (the ledger outlives a change of TARGET_COLUMN). `actuals` are the prices as first
    published; where the curated data (`current`) now says otherwise the point keeps its score and
    shows the revised price as `revised_actual` (None when unrevised).
    """
    wanted = set(horizons)
    scored = []
    for entry in latest_per_origin(e for e in entries if e["target"] == target):
        naive = entry["origin_value"]
        for point in entry["points"]:
            actual = actuals.get(point["date"])
            if point["step"] not in wanted or actual is None or point["date"] <= entry["data_through"]:
                continue
            error, naive_error = abs(actual - point["mean"]), abs(actual - naive)
            scored.append({
                "forecast_date": entry["data_through"],
                "target_date": point["date"],
                "horizon": point["step"],
                **{name: point[name] for name in ("mean", "lower_80", "upper_80", "lower_95", "upper_95")},
                "actual": actual,
                "naive": naive,
                "abs_error": round(error, 6),
                "naive_abs_error": round(naive_error, 6),
                "inside_80": point["lower_80"] <= actual <= point["upper_80"],
                "inside_95": point["lower_95"] <= actual <= point["upper_95"],
                "closer_than_naive": error < naive_error,
                "model_version": entry["model_version"],
                "run_id": entry["run_id"],
                "revised_actual": _revised(actual, (current or {}).get(point["date"])),
            })
    return sorted(scored, key=lambda p: (p["target_date"], p["horizon"], p["forecast_date"]))


def _revised(first: float, now: float | None) -> float | None:
    """The curated price of a scored date when it differs from the first published one, else None."""
    return None if now is None or now == first else now


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def aggregate(points: Sequence[dict]) -> dict[str, Any]:
    """The measures over some scored points (all None when there are none)."""
    n = len(points)
    mae = sum(p["abs_error"] for p in points) / n if n else None
    naive_mae = sum(p["naive_abs_error"] for p in points) / n if n else None
    return {
        "points": n,
        "mae": None if mae is None else round(mae, 6),
        "naive_mae": None if naive_mae is None else round(naive_mae, 6),
        "mae_ratio": round(mae / naive_mae, 4) if n and naive_mae else None,
        "closer_than_naive": _share([p["closer_than_naive"] for p in points]),
        "coverage_80": _share([p["inside_80"] for p in points]),
        "coverage_95": _share([p["inside_95"] for p in points]),
    }


def summarise(points: Sequence[dict], horizons: Sequence[int]) -> list[dict]:
    """One row per horizon and window (last 30, last 90 matured points, all); `points` by target date."""
    rows = []
    for horizon in horizons:
        mine = [p for p in points if p["horizon"] == horizon]
        for window, name in zip((*WINDOWS, None), WINDOW_NAMES):
            rows.append({"horizon": horizon, "window": name, **aggregate(mine[-window:] if window else mine)})
    return rows


def assess(summary: Sequence[dict], thresholds: Thresholds = THRESHOLDS) -> tuple[str, list[dict]]:
    """The record's status and the thresholds it crosses (see `Thresholds`)."""
    window = f"last_{thresholds.window}"
    judged = [row for row in summary if row["window"] == window and row["points"] >= thresholds.min_points]
    breaches = []
    for row in judged:
        checks = (("mae_ratio", row["mae_ratio"], thresholds.mae_ratio_max, lambda v, t: v > t),
                  ("coverage_80", row["coverage_80"], thresholds.coverage_80_min, lambda v, t: v < t),
                  ("coverage_95", row["coverage_95"], thresholds.coverage_95_min, lambda v, t: v < t))
        for measure, value, limit, crossed in checks:
            if value is not None and crossed(value, limit):
                breaches.append({"horizon": row["horizon"], "window": window, "measure": measure,
                                 "value": value, "threshold": limit, "points": row["points"]})
    if breaches:
        return "degraded", breaches
    if judged:
        return "ok", []
    return ("too_few_points" if any(row["points"] for row in summary) else "no_scores"), []


def _utc_stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def build_document(entries: Sequence[dict], actuals: Mapping[str, float], horizons: Sequence[int], *,
                   target: str, unit: str, computed_at: datetime | None = None,
                   thresholds: Thresholds = THRESHOLDS, current: Mapping[str, float] | None = None) -> dict[str, Any]:
    """The `track_record.json` document for the ledger `entries` and the realised prices `actuals` (as
    first published); `current`: the curated prices now, to show revisions beside the scores."""
    horizons = sorted(set(horizons))
    points = score_entries(entries, actuals, horizons, target, current)
    summary = summarise(points, horizons)
    status, breaches = assess(summary, thresholds)
    served = [e for e in entries if e["target"] == target]
    return {
        "schema_version": SCHEMA_VERSION,
        "computed_at": _utc_stamp(computed_at or datetime.now(timezone.utc)),
        "target": target,
        "unit": unit,
        "calendar": served[-1]["calendar"] if served else "daily",
        "data_through": max(actuals) if actuals else None,
        "forecasts": len(latest_per_origin(served)),
        "horizons": horizons,
        "windows": list(WINDOW_NAMES),
        "thresholds": thresholds.to_dict(),
        "status": status,
        "breaches": breaches,
        "summary": summary,
        "actuals": "first_published",
        "revised_points": sum(point["revised_actual"] is not None for point in points),
        "points": points,
    }


def score_served_forecasts(data_bucket: "ObjectStore", curated: "pd.DataFrame", *, target: str, unit: str,
                           horizons: Sequence[int], ids: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Score every served forecast in the ledger against the curated data; the `track_record.json` document.

    Logs `track_record.scored`, and `track_record.degraded` (warning) when a threshold is crossed.
    Call it before the new champion is promoted and ship the result with its run: the new forecast
    has no matured point yet, so the record does not depend on its ledger entry.
    """
    from gasforecast.ledger import read_ledger, record_first_prices

    current = realised_prices(curated, target)
    first = record_first_prices(data_bucket, current, target)
    document = build_document(read_ledger(data_bucket), first, horizons, target=target, unit=unit, current=current)
    context = {**(ids or {}), "status": document["status"], "forecasts": document["forecasts"],
               "scored_points": len(document["points"]), "revised_points": document["revised_points"],
               "data_through": document["data_through"]}
    headline = {f"h{row['horizon']}": {m: row[m] for m in ("points", "mae_ratio", "coverage_80", "coverage_95")}
                for row in document["summary"] if row["window"] == f"last_{THRESHOLDS.window}"}
    log.info("track_record.scored", last_30=headline, **context)
    if document["status"] == "degraded":
        log.warning("track_record.degraded", breaches=document["breaches"], **context)
    return document


def day_index(iso_date: str) -> int:
    """Days since 1970-01-01: the step of the monitoring metrics, so MLflow plots them against time."""
    return (date.fromisoformat(iso_date) - date(1970, 1, 1)).days


def monitoring_metrics(document: Mapping[str, Any]) -> dict[str, float]:
    """Metric name → value for every aggregate that has a value, e.g. `live.h30.last_30.mae_ratio`."""
    metrics = {}
    for row in document["summary"]:
        for measure in ("points", *MEASURES):
            if row[measure] is not None:
                metrics[f"live.h{row['horizon']}.{row['window']}.{measure}"] = float(row[measure])
    metrics["live.degraded"] = 1.0 if document["status"] == "degraded" else 0.0
    return metrics


def log_monitoring(mlflow_client: "MlflowClient", experiment_name: str, document: Mapping[str, Any],
                   training_key: str | None = None) -> str | None:
    """Append the aggregates to the monitoring run as time series (step = day index of the data);
    returns the run id, or None when nothing is scored yet.

    One long-lived run in its own experiment, found by tag, created on first use: the training holds
    the lease, so two trainings never race to create it. A training that already logged its record
    (the run's `track_record.training_key` tag) logs nothing more: a delivery retried after a crash
    scores the same ledger and data again. The tag is set after the metrics, so a crash in between
    can log one record twice, never lose one.
    """
    from mlflow.entities import Metric

    if document["data_through"] is None:
        return None
    experiment = mlflow_client.get_experiment_by_name(experiment_name)
    experiment_id = experiment.experiment_id if experiment else mlflow_client.create_experiment(experiment_name)
    runs = mlflow_client.search_runs([experiment_id], filter_string=f"tags.`{MONITORING_TAG}` = 'track_record'",
                                     order_by=["attributes.start_time ASC"], max_results=1)
    if runs:
        run_id = runs[0].info.run_id
        if training_key is not None and runs[0].data.tags.get(MONITORING_KEY_TAG) == training_key:
            return run_id
    else:
        run_id = mlflow_client.create_run(experiment_id, run_name="live-track-record",
                                          tags={MONITORING_TAG: "track_record"}).info.run_id
    step = day_index(document["data_through"])
    stamp = int(datetime.now(timezone.utc).timestamp() * 1000)
    metrics = [Metric(key, value, stamp, step) for key, value in sorted(monitoring_metrics(document).items())]
    mlflow_client.log_batch(run_id, metrics=metrics)
    mlflow_client.set_tag(run_id, "track_record.status", document["status"])
    if training_key is not None:
        mlflow_client.set_tag(run_id, MONITORING_KEY_TAG, training_key)
    return run_id


# --- reading a document back (the service) -------------------------------------------------------------

def _require(condition: bool, what: str) -> None:
    if not condition:
        raise ValueError(f"track record: {what}")


def _is_date(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(value) == 10 and date.fromisoformat(value).isoformat() == value
    except ValueError:
        return False


def validate_document(document: Any) -> dict[str, Any]:
    """`document` if it is a track record this code can serve, else ValueError saying what is wrong.

    The service checks the artifact before building bodies from it, so a malformed file shows as
    "no track record" instead of breaking the page.
    """
    _require(isinstance(document, dict) and document.get("schema_version") == SCHEMA_VERSION, "not schema version 1")
    _require(document.get("status") in STATUSES, "unknown status")
    _require(document.get("calendar") in CALENDARS, "unknown calendar")
    _require(document.get("data_through") is None or _is_date(document["data_through"]), "bad data_through")
    _require(isinstance(document.get("computed_at"), str), "bad computed_at")
    _require(isinstance(document.get("forecasts"), int) and document["forecasts"] >= 0, "bad forecasts count")
    _require(document.get("windows") == list(WINDOW_NAMES), "unknown windows")
    thresholds = document.get("thresholds")
    _require(isinstance(thresholds, dict) and set(thresholds) == set(THRESHOLDS.to_dict())
             and all(is_finite_number(v) for v in thresholds.values()), "bad thresholds")
    horizons = document.get("horizons")
    _require(isinstance(horizons, list) and all(isinstance(h, int) and h >= 1 for h in horizons), "bad horizons")
    summary = document.get("summary")
    _require(isinstance(summary, list), "no summary")
    for row in summary:
        _require(isinstance(row, dict) and row.get("horizon") in horizons and row.get("window") in WINDOW_NAMES,
                 "bad summary row")
        _require(isinstance(row.get("points"), int), "bad summary count")
        _require(all(row.get(m) is None or is_finite_number(row.get(m)) for m in MEASURES), "bad summary value")
    breaches = document.get("breaches")
    _require(isinstance(breaches, list), "no breaches")
    for breach in breaches:
        _require(isinstance(breach, dict) and breach.get("horizon") in horizons
                 and breach.get("measure") in ("mae_ratio", "coverage_80", "coverage_95")
                 and breach.get("window") in WINDOW_NAMES and isinstance(breach.get("points"), int)
                 and is_finite_number(breach.get("value")) and is_finite_number(breach.get("threshold")), "bad breach")
    points = document.get("points")
    _require(isinstance(points, list), "no points")
    numbers = ("mean", "lower_80", "upper_80", "lower_95", "upper_95", "actual", "naive", "abs_error",
               "naive_abs_error")
    for point in points:
        if isinstance(point, dict):  # a record from before first published prices: nothing was revised
            point.setdefault("revised_actual", None)
        _require(isinstance(point, dict) and set(POINT_COLUMNS) <= set(point), "point fields missing")
        _require(point["revised_actual"] is None or is_finite_number(point["revised_actual"]), "bad revised price")
        _require(_is_date(point["forecast_date"]) and _is_date(point["target_date"]), "bad point date")
        _require(isinstance(point["horizon"], int) and point["horizon"] >= 1, "bad point horizon")
        _require(all(is_finite_number(point[name]) for name in numbers), "bad point value")
        _require(all(isinstance(point[name], bool) for name in ("inside_80", "inside_95", "closer_than_naive")),
                 "bad point flag")
        _require(isinstance(point["model_version"], str) and isinstance(point["run_id"], str), "bad point model")
    return document
