"""The live track record: how the forecasts that were served did once their prices came in.

At every training the ledger (`gasforecast.scoring.ledger`) is scored against the realised prices of the
curated data: each matured point — a forecast point whose target date has an observed price — gets
its absolute error, the error of the "no change" forecast from the same origin (the price observed
on the forecast's last data date) and whether the price fell inside its 80 % and 95 % bands.
Aggregates per horizon over the last 30 and 90 matured points and over all of them say whether the
forecasts beat "no change" and whether the bands hold what they promise. The document
(`track_record.json`, docs/api.md#track-record) ships with the champion's bundle; the service
serves it as it is.

When the live figures cross `THRESHOLDS` a `track_record.degraded` warning is logged, so an alert
can be built on it (docs/track-record.md explains the thresholds).

The document's fields are typed once in `gasforecast.publication.documents`; the service reads it through
`ForecastBundle`. The monitoring run's MLflow calls and tags belong to `gasforecast.training.registry.Registry`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from gasforecast.platform.logs import get_logger
from gasforecast.publication.documents import (
    MEASURES,
    POINT_COLUMNS,
    STATUSES,
    WINDOW_NAMES,
    WINDOWS,
    Aggregate,
    Breach,
    LedgerEntry,
    Status,
    SummaryRow,
    Thresholds,
    TrackRecordDocument,
    TrackRecordPoint,
)

if TYPE_CHECKING:
    import pandas as pd

    from gasforecast.platform.storage import ObjectStore

__all__ = ["MEASURES", "POINT_COLUMNS", "STATUSES", "THRESHOLDS", "WINDOWS", "WINDOW_NAMES", "Thresholds",
           "build_document", "monitoring_metrics", "score_served_forecasts"]

log = get_logger(__name__)

THRESHOLDS = Thresholds()


def realised_prices(curated: pd.DataFrame, target: str) -> dict[str, float]:
    """Observed prices by ISO date from the curated data (no filled days: only what was observed)."""
    observed = curated[target].dropna()
    return {stamp.strftime("%Y-%m-%d"): float(value) for stamp, value in observed.items()}


def latest_per_origin(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """One entry per data-through date: the highest version, i.e. the one served last from that data
    (a forced retrain on unchanged data promotes a second forecast from the same origin)."""
    latest: dict[str, LedgerEntry] = {}
    for entry in entries:
        kept = latest.get(entry.data_through)
        if kept is None or int(entry.model_version) > int(kept.model_version):
            latest[entry.data_through] = entry
    return [latest[origin] for origin in sorted(latest)]


def score_entries(entries: Iterable[LedgerEntry], actuals: Mapping[str, float], horizons: Sequence[int],
                  target: str, current: Mapping[str, float] | None = None) -> list[TrackRecordPoint]:
    """The matured points of `horizons` (steps in each entry's calendar), ordered by target date.

    A point is matured when its target date has an observed price; entries for another target are
    ignored (the ledger outlives a change of TARGET_COLUMN). `actuals` are the prices as first
    published; where the curated data (`current`) now says otherwise the point keeps its score and
    shows the revised price as `revised_actual` (None when unrevised).
    """
    wanted = set(horizons)
    scored = []
    for entry in latest_per_origin(e for e in entries if e.target == target):
        naive = entry.origin_value
        for point in entry.points:
            actual = actuals.get(point.date)
            if point.step not in wanted or actual is None or point.date <= entry.data_through:
                continue
            error, naive_error = abs(actual - point.mean), abs(actual - naive)
            scored.append(TrackRecordPoint(
                forecast_date=entry.data_through, target_date=point.date, horizon=point.step, mean=point.mean,
                lower_80=point.lower_80, upper_80=point.upper_80, lower_95=point.lower_95, upper_95=point.upper_95,
                actual=actual, naive=naive, abs_error=round(error, 6), naive_abs_error=round(naive_error, 6),
                inside_80=point.lower_80 <= actual <= point.upper_80,
                inside_95=point.lower_95 <= actual <= point.upper_95,
                closer_than_naive=error < naive_error, model_version=entry.model_version, run_id=entry.run_id,
                revised_actual=_revised(actual, (current or {}).get(point.date)),
            ))
    return sorted(scored, key=lambda p: (p.target_date, p.horizon, p.forecast_date))


def _revised(first: float, now: float | None) -> float | None:
    """The curated price of a scored date when it differs from the first published one, else None."""
    return None if now is None or now == first else now


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def aggregate(points: Sequence[TrackRecordPoint]) -> Aggregate:
    """The measures over some scored points (all None when there are none)."""
    n = len(points)
    mae = sum(p.abs_error for p in points) / n if n else None
    naive_mae = sum(p.naive_abs_error for p in points) / n if n else None
    return Aggregate(
        points=n,
        mae=None if mae is None else round(mae, 6),
        naive_mae=None if naive_mae is None else round(naive_mae, 6),
        mae_ratio=round(mae / naive_mae, 4) if mae is not None and naive_mae else None,
        closer_than_naive=_share([p.closer_than_naive for p in points]),
        coverage_80=_share([p.inside_80 for p in points]),
        coverage_95=_share([p.inside_95 for p in points]),
    )


def summarise(points: Sequence[TrackRecordPoint], horizons: Sequence[int]) -> list[SummaryRow]:
    """One row per horizon and window (last 30, last 90 matured points, all); `points` by target date."""
    rows = []
    for horizon in horizons:
        mine = [p for p in points if p.horizon == horizon]
        for window, name in zip((*WINDOWS, None), WINDOW_NAMES, strict=True):
            measures = aggregate(mine[-window:] if window else mine)
            rows.append(SummaryRow(horizon=horizon, window=name, **dict(measures)))
    return rows


def assess(summary: Sequence[SummaryRow], thresholds: Thresholds = THRESHOLDS) -> tuple[Status, list[Breach]]:
    """The record's status and the thresholds it crosses (see `Thresholds`)."""
    window = f"last_{thresholds.window}"
    judged = [row for row in summary if row.window == window and row.points >= thresholds.min_points]
    breaches = []
    for row in judged:
        checks = (("mae_ratio", row.mae_ratio, thresholds.mae_ratio_max, lambda v, t: v > t),
                  ("coverage_80", row.coverage_80, thresholds.coverage_80_min, lambda v, t: v < t),
                  ("coverage_95", row.coverage_95, thresholds.coverage_95_min, lambda v, t: v < t))
        for measure, value, limit, crossed in checks:
            if value is not None and crossed(value, limit):
                breaches.append(Breach.model_validate({"horizon": row.horizon, "window": row.window,
                                                       "measure": measure, "value": value, "threshold": limit,
                                                       "points": row.points}))
    if breaches:
        return "degraded", breaches
    if judged:
        return "ok", []
    return ("too_few_points" if any(row.points for row in summary) else "no_scores"), []


def _utc_stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def build_document(entries: Sequence[LedgerEntry], actuals: Mapping[str, float], horizons: Sequence[int], *,
                   target: str, unit: str, computed_at: datetime | None = None,
                   thresholds: Thresholds = THRESHOLDS,
                   current: Mapping[str, float] | None = None) -> TrackRecordDocument:
    """The `track_record.json` document for the ledger `entries` and the realised prices `actuals` (as
    first published); `current`: the curated prices now, to show revisions beside the scores."""
    horizons = sorted(set(horizons))
    points = score_entries(entries, actuals, horizons, target, current)
    summary = summarise(points, horizons)
    status, breaches = assess(summary, thresholds)
    served = [e for e in entries if e.target == target]
    return TrackRecordDocument(
        computed_at=_utc_stamp(computed_at or datetime.now(UTC)),
        target=target,
        unit=unit,
        calendar=served[-1].calendar if served else "daily",
        data_through=max(actuals) if actuals else None,
        forecasts=len(latest_per_origin(served)),
        horizons=horizons,
        thresholds=thresholds,
        status=status,
        breaches=breaches,
        summary=summary,
        revised_points=sum(point.revised_actual is not None for point in points),
        points=points,
    )


def score_served_forecasts(data_bucket: ObjectStore, curated: pd.DataFrame, *, target: str, unit: str,
                           horizons: Sequence[int], ids: Mapping[str, Any] | None = None,
                           area: str = "forecasts") -> TrackRecordDocument:
    """Score every served forecast in the ledger against the curated data; the `track_record.json` document.

    Logs `track_record.scored`, and `track_record.degraded` (warning) when a threshold is crossed.
    Call it before the new champion is promoted and ship the result with its run: the new forecast
    has no matured point yet, so the record does not depend on its ledger entry. `area` is the
    series' own `forecasts` area (`Settings.area`).
    """
    from gasforecast.scoring.ledger import read_ledger, record_first_prices

    current = realised_prices(curated, target)
    first = record_first_prices(data_bucket, current, target, area)
    document = build_document(read_ledger(data_bucket, area), first, horizons, target=target, unit=unit, current=current)
    context = {**(ids or {}), "status": document.status, "forecasts": document.forecasts,
               "scored_points": len(document.points), "revised_points": document.revised_points,
               "data_through": document.data_through}
    headline = {f"h{row.horizon}": row.model_dump(include={"points", "mae_ratio", "coverage_80", "coverage_95"})
                for row in document.rows(f"last_{THRESHOLDS.window}")}
    log.info("track_record.scored", last_30=headline, **context)
    if document.status == "degraded":
        log.warning("track_record.degraded", breaches=[b.to_json_dict() for b in document.breaches], **context)
    return document


def day_index(iso_date: str) -> int:
    """Days since 1970-01-01: the step of the monitoring metrics, so MLflow plots them against time."""
    return (date.fromisoformat(iso_date) - date(1970, 1, 1)).days


def monitoring_metrics(document: TrackRecordDocument) -> dict[str, float]:
    """Metric name → value for every aggregate that has a value, e.g. `live.h30.last_30.mae_ratio`."""
    metrics = {}
    for row in document.summary:
        for measure, value in row.model_dump(include={"points", *MEASURES}).items():
            if value is not None:
                metrics[f"live.h{row.horizon}.{row.window}.{measure}"] = float(value)
    metrics["live.degraded"] = 1.0 if document.status == "degraded" else 0.0
    return metrics
