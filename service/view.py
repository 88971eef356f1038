"""Everything the service answers about one champion version, computed once when it is loaded.

The request path only picks a precomputed body (bytes + ETag) — no JSON encoding of the forecast,
no SVG drawing, no pandas — so the forecast endpoint costs about as much as a trivial one. The page,
whose freshness note changes with the date, is rendered once a day and then picked like the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Literal

from gasforecast.platform.config import DEFAULT_SERIES, Settings
from gasforecast.platform.logs import get_logger
from gasforecast.publication.bundle import POINT_FIELDS, QUANTILE_FIELDS, ForecastBundle
from gasforecast.publication.documents import Document, ForecastPoint, HistoryPoint, SeriesDeclaration
from gasforecast.scoring.track_record import POINT_COLUMNS, THRESHOLDS, WINDOW_NAMES
from service.overview import card
from service.page import API_BASE, DEFAULT_WINDOW, champion_pages
from service.schemas import CardModel, Forecast, History, ModelCard, ModelReference, ServedTrackRecordPoint, TrackRecord

log = get_logger(__name__)

HISTORY_DAYS_MAX = 3660  # ten years: more than any bundle holds (training keeps five)
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
Format = Literal["json", "csv"]
FORMATS: tuple[Format, ...] = ("json", "csv")
SERIES_COLUMNS = tuple(SeriesDeclaration.model_fields)  # appended to every CSV row: a download says what it holds


@dataclass(frozen=True)
class Body:
    """A response body, its media type and its strong ETag (a content hash, so equal bodies revalidate as equal)."""

    data: bytes
    etag: str
    mimetype: str = JSON_TYPE

    @classmethod
    def of_json(cls, payload: Any) -> Body:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        return cls.of_bytes(data)

    @classmethod
    def of_model(cls, document: Document) -> Body:
        """A typed answer as JSON, with the field names it is written with (`class`, `q2.5`)."""
        return cls.of_json(document.to_json_dict())

    @classmethod
    def of_csv(cls, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Body:
        """A header row, then one line per row; numbers as Python writes them (they read back exactly),
        booleans as true/false, missing values as empty cells."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(name)) for name in columns])
        return cls.of_bytes(out.getvalue().encode("utf-8"), CSV_TYPE)

    @classmethod
    def of_bytes(cls, data: bytes, mimetype: str = JSON_TYPE) -> Body:
        return cls(data, '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"', mimetype)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def series_of(bundle: ForecastBundle, settings: Settings) -> SeriesDeclaration:
    """What training declared the series to be; for a bundle trained before declarations, this service's settings."""
    forecast = bundle.forecast
    return forecast.series or SeriesDeclaration.declared(settings, forecast.unit)


def model_reference(bundle: ForecastBundle, settings: Settings) -> ModelReference:
    """Which model answered: repeated in every data response so a consumer can trace a number."""
    return ModelReference(name=settings.model_name, version=bundle.version, run_id=bundle.run_id,
                          trained_at=bundle.forecast.trained_at)


def model_card(bundle: ForecastBundle, settings: Settings) -> ModelCard:
    """The `/api/v1/model` document (docs/api.md#model-card), as training recorded it."""
    forecast = bundle.forecast
    return ModelCard(
        model=CardModel(**dict(model_reference(bundle, settings)), **dict(forecast.model)),
        target=forecast.target,
        unit=forecast.unit,
        series=series_of(bundle, settings),
        data=forecast.data,
        training_window=forecast.training_window,
        horizon_max=len(forecast.points),
        evaluation=forecast.evaluation,
        backtest=forecast.backtest,
        promotion=forecast.promotion,
        sanity=forecast.sanity,
    )


def track_record_document(bundle: ForecastBundle, settings: Settings) -> TrackRecord:
    """The `/api/v1/track-record` document: the shipped record, or an empty one for a bundle without
    (or with an unreadable) record."""
    record = bundle.track_record
    reference, forecast, series = model_reference(bundle, settings), bundle.forecast, series_of(bundle, settings)
    if record is None:
        return TrackRecord(model=reference, target=forecast.target, unit=forecast.unit, series=series,
                           calendar=bundle.calendar,
                           status="no_track_record", computed_at=None, data_through=None, forecasts=0, horizons=[],
                           windows=list(WINDOW_NAMES), thresholds=THRESHOLDS, breaches=[], summary=[], points=[])
    return TrackRecord(model=reference, target=forecast.target, unit=forecast.unit, series=series,
                       calendar=record.calendar,
                       status=record.status, computed_at=record.computed_at, data_through=record.data_through,
                       forecasts=record.forecasts, horizons=record.horizons, windows=record.windows,
                       thresholds=record.thresholds, breaches=record.breaches, summary=record.summary,
                       points=[ServedTrackRecordPoint(**dict(point)) for point in record.points])


class ChampionView:
    """Precomputed answers for one champion version (built in the refresh thread, read by requests)."""

    def __init__(self, bundle: ForecastBundle, settings: Settings, series_id: str = DEFAULT_SERIES) -> None:
        api_base = API_BASE if series_id == DEFAULT_SERIES else f"{API_BASE}/series/{series_id}"
        forecast = bundle.forecast
        self.version = bundle.version
        self.reference = model_reference(bundle, settings)
        self.target = forecast.target
        self.unit = forecast.unit
        self.series = series_of(bundle, settings)
        self._series_cells = self.series.model_dump()
        self.calendar = bundle.calendar
        self.data_last_date = date.fromisoformat(forecast.data.last_date)
        self.horizon_max = min(settings.forecast_horizon_max, len(forecast.points))
        served = forecast.points[: self.horizon_max]
        # the quantile grid where the bundle has one (bundles trained before it have only the bands)
        graded = all(p.quantiles is not None for p in served)
        points = served if graded else [p.model_copy(update={"quantiles": None}) for p in served]
        rows = [{**p.model_dump(include=set(POINT_FIELDS)),
                 **(p.quantiles.model_dump(by_alias=True) if p.quantiles is not None else {})} for p in points]
        columns = POINT_FIELDS + (QUANTILE_FIELDS if graded else ())
        self._forecasts = {
            "json": tuple(self._forecast_body(points[:h], h) for h in range(1, self.horizon_max + 1)),
            "csv": tuple(self._csv(columns, rows[:h]) for h in range(1, self.horizon_max + 1)),
        }
        self.model = Body.of_model(model_card(bundle, settings))
        track = track_record_document(bundle, settings)
        self._track_records = {"json": Body.of_model(track),
                               "csv": self._csv(POINT_COLUMNS, (dict(point) for point in track.points))}
        self.history_points: list[HistoryPoint] = bundle.history.points
        self._history = lru_cache(maxsize=32)(self._history_body)
        self.pages = champion_pages(bundle, settings, self.horizon_max, track, self.series, api_base)
        self.card = card(series_id, self.series, bundle, self.horizon_max, track)
        self._pages_of_the_day: dict[str, tuple[date, Body]] = {}

    def _csv(self, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> Body:
        """A CSV download whose every row also says what the series is (label, unit, product, source, synthetic)."""
        return Body.of_csv((*columns, *SERIES_COLUMNS), ({**row, **self._series_cells} for row in rows))

    def _forecast_body(self, points: list[ForecastPoint], horizon: int) -> Body:
        return Body.of_model(Forecast(model=self.reference, target=self.target, unit=self.unit, series=self.series,
                                      data_last_date=self.data_last_date.isoformat(), calendar=self.calendar,
                                      horizon=horizon, points=points))

    def forecast(self, horizon: int, fmt: Format = "json") -> Body:
        """The forecast truncated to `horizon` steps (1 ≤ horizon ≤ `horizon_max`)."""
        return self._forecasts[fmt][horizon - 1]

    def history(self, days: int, fmt: Format = "json") -> Body:
        """Observations of the last `days` calendar days up to the last observed date (inclusive)."""
        return self._history(days, fmt)

    def page_body(self, today: date, window: str = DEFAULT_WINDOW) -> Body:
        """The HTML page as of `today` with the fan chart's history `window` (a key of `pages`), rendered once
        a day (only its freshness note and "today" marker depend on the date), so a page request costs a
        lookup like any other."""
        cached = self._pages_of_the_day.get(window)  # one read: another thread may replace it, never half-way
        if cached is None or cached[0] != today:
            cached = (today, Body.of_bytes(self.pages[window].render(today).encode("utf-8"), HTML_TYPE))
            self._pages_of_the_day[window] = cached
        return cached[1]

    def track_record(self, fmt: Format = "json") -> Body:
        """The live track record: aggregates and matured points (JSON) or the matured points (CSV)."""
        return self._track_records[fmt]

    def _history_body(self, days: int, fmt: Format) -> Body:
        last = date.fromisoformat(self.history_points[-1].date) if self.history_points else self.data_last_date
        since = (last - timedelta(days=days - 1)).isoformat()
        points = [p for p in self.history_points if p.date >= since]
        if fmt == "csv":
            return self._csv(("date", "value"), (dict(p) for p in points))
        return Body.of_model(History(model=self.reference, target=self.target, unit=self.unit, series=self.series,
                                     days=days,
                                     points=points))
