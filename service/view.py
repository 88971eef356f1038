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
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Iterable, Literal, Sequence

from gasforecast.bundle import POINT_FIELDS, QUANTILE_FIELDS, ForecastBundle
from gasforecast.config import Settings
from gasforecast.logs import get_logger
from gasforecast.track_record import POINT_COLUMNS, THRESHOLDS, WINDOW_NAMES, validate_document
from service.page import champion_page

log = get_logger(__name__)

HISTORY_DAYS_MAX = 3660  # ten years: more than any bundle holds (training keeps five)
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
Format = Literal["json", "csv"]
FORMATS: tuple[Format, ...] = ("json", "csv")


@dataclass(frozen=True)
class Body:
    """A response body, its media type and its strong ETag (a content hash, so equal bodies revalidate as equal)."""

    data: bytes
    etag: str
    mimetype: str = JSON_TYPE

    @classmethod
    def of_json(cls, payload: Any) -> "Body":
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        return cls.of_bytes(data)

    @classmethod
    def of_csv(cls, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> "Body":
        """A header row, then one line per row; numbers as Python writes them (they read back exactly),
        booleans as true/false, missing values as empty cells."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_csv_cell(row.get(name)) for name in columns])
        return cls.of_bytes(out.getvalue().encode("utf-8"), CSV_TYPE)

    @classmethod
    def of_bytes(cls, data: bytes, mimetype: str = JSON_TYPE) -> "Body":
        return cls(data, '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"', mimetype)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


def model_reference(bundle: ForecastBundle, settings: Settings) -> dict[str, Any]:
    """Which model answered: repeated in every data response so a consumer can trace a number."""
    return {
        "name": settings.model_name,
        "version": bundle.version,
        "run_id": bundle.run_id,
        "trained_at": bundle.forecast["trained_at"],
    }


def model_card(bundle: ForecastBundle, settings: Settings) -> dict[str, Any]:
    """The `/api/v1/model` document (docs/api.md#model-card): the champion's card, data provenance, its
    out-of-sample accuracy (`evaluation`), the evidence and decision of the gate that chose it
    (`backtest`, `promotion`) and the promotion sanity figures, as training recorded them."""
    forecast = bundle.forecast
    model = forecast["model"]
    return {
        "model": {
            **model_reference(bundle, settings),
            "class": model["class"],
            "label": model["label"],
            "orders": model.get("orders", {}),
            "drivers": model.get("drivers", []),
            "transforms": model.get("transforms"),
            "config": model.get("config", {}),
        },
        "target": forecast["target"],
        "unit": forecast["unit"],
        "data": forecast["data"],
        "training_window": forecast["training_window"],
        "horizon_max": len(forecast["points"]),
        "evaluation": forecast.get("evaluation"),
        "backtest": forecast["backtest"],
        "promotion": forecast.get("promotion"),
        "sanity": forecast.get("sanity"),
    }


def served_track_record(bundle: ForecastBundle) -> dict[str, Any] | None:
    """The bundle's track record if it is one this service can show; None for older bundles or a bad file."""
    if bundle.track_record is None:
        return None
    try:
        return validate_document(bundle.track_record)
    except ValueError as exc:
        log.warning("service.track_record_invalid", model_version=bundle.version, run_id=bundle.run_id, error=str(exc))
        return None


def track_record_document(bundle: ForecastBundle, settings: Settings) -> dict[str, Any]:
    """The `/api/v1/track-record` document: the shipped record's known fields, or an empty record."""
    record = served_track_record(bundle) or {}
    return {
        "model": model_reference(bundle, settings),
        "target": bundle.forecast["target"],
        "unit": bundle.forecast["unit"],
        "calendar": record.get("calendar", bundle.calendar),
        "status": record.get("status", "no_track_record"),
        "computed_at": record.get("computed_at"),
        "data_through": record.get("data_through"),
        "forecasts": record.get("forecasts", 0),
        "horizons": record.get("horizons", []),
        "windows": record.get("windows", list(WINDOW_NAMES)),
        "thresholds": record.get("thresholds", THRESHOLDS.to_dict()),
        "breaches": record.get("breaches", []),
        "summary": record.get("summary", []),
        "points": [{name: point[name] for name in POINT_COLUMNS} for point in record.get("points", [])],
    }


class ChampionView:
    """Precomputed answers for one champion version (built in the refresh thread, read by requests)."""

    def __init__(self, bundle: ForecastBundle, settings: Settings) -> None:
        forecast = bundle.forecast
        self.version = bundle.version
        self.reference = model_reference(bundle, settings)
        self.target = forecast["target"]
        self.unit = forecast["unit"]
        self.calendar = bundle.calendar
        self.data_last_date = date.fromisoformat(forecast["data"]["last_date"])
        self.horizon_max = min(settings.forecast_horizon_max, len(forecast["points"]))
        served = forecast["points"][: self.horizon_max]
        # the quantile grid where the bundle has one (bundles trained before it have only the bands)
        graded = all(isinstance(p.get("quantiles"), dict) for p in served)
        points = [{**{name: p[name] for name in POINT_FIELDS},
                   **({"quantiles": {name: p["quantiles"][name] for name in QUANTILE_FIELDS}} if graded else {})}
                  for p in served]
        rows = [{**p, **p.get("quantiles", {})} for p in points]
        columns = POINT_FIELDS + (QUANTILE_FIELDS if graded else ())
        self._forecasts = {
            "json": tuple(self._forecast_body(points[:h], h) for h in range(1, self.horizon_max + 1)),
            "csv": tuple(Body.of_csv(columns, rows[:h]) for h in range(1, self.horizon_max + 1)),
        }
        self.model = Body.of_json(model_card(bundle, settings))
        track = track_record_document(bundle, settings)
        self._track_records = {"json": Body.of_json(track), "csv": Body.of_csv(POINT_COLUMNS, track["points"])}
        self.history_points: list[dict[str, Any]] = bundle.history["points"]
        self._history = lru_cache(maxsize=32)(self._history_body)
        self.page = champion_page(bundle, settings, self.horizon_max, track)
        self._page_of_the_day: tuple[date, Body] | None = None

    def _forecast_body(self, points: list[dict[str, Any]], horizon: int) -> Body:
        return Body.of_json(
            {
                "model": self.reference,
                "target": self.target,
                "unit": self.unit,
                "data_last_date": self.data_last_date.isoformat(),
                "calendar": self.calendar,
                "horizon": horizon,
                "points": points,
            }
        )

    def forecast(self, horizon: int, fmt: Format = "json") -> Body:
        """The forecast truncated to `horizon` steps (1 ≤ horizon ≤ `horizon_max`)."""
        return self._forecasts[fmt][horizon - 1]

    def history(self, days: int, fmt: Format = "json") -> Body:
        """Observations of the last `days` calendar days up to the last observed date (inclusive)."""
        return self._history(days, fmt)

    def page_body(self, today: date) -> Body:
        """The HTML page as of `today`, rendered once a day (only its freshness note and "today"
        marker depend on the date), so a page request costs a lookup like any other."""
        cached = self._page_of_the_day  # one read: another thread may replace it, never half-way
        if cached is None or cached[0] != today:
            cached = (today, Body.of_bytes(self.page.render(today).encode("utf-8"), HTML_TYPE))
            self._page_of_the_day = cached
        return cached[1]

    def track_record(self, fmt: Format = "json") -> Body:
        """The live track record: aggregates and matured points (JSON) or the matured points (CSV)."""
        return self._track_records[fmt]

    def _history_body(self, days: int, fmt: Format) -> Body:
        last = date.fromisoformat(self.history_points[-1]["date"]) if self.history_points else self.data_last_date
        since = (last - timedelta(days=days - 1)).isoformat()
        points = [p for p in self.history_points if p["date"] >= since]
        if fmt == "csv":
            return Body.of_csv(("date", "value"), points)
        return Body.of_json(
            {
                "model": self.reference,
                "target": self.target,
                "unit": self.unit,
                "days": days,
                "points": points,
            }
        )
