"""Everything the service answers about one champion version, computed once when it is loaded.

The request path only picks a precomputed body (bytes + ETag) — no JSON encoding of the forecast,
no SVG drawing, no pandas — so the forecast endpoint costs about as much as a trivial one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from gasforecast.bundle import POINT_FIELDS, ForecastBundle
from gasforecast.config import Settings
from service.page import champion_page

HISTORY_DAYS_MAX = 3660  # ten years: more than any bundle holds (training keeps five)


@dataclass(frozen=True)
class Body:
    """A response body and its strong ETag (a content hash, so equal bodies revalidate as equal)."""

    data: bytes
    etag: str

    @classmethod
    def of_json(cls, payload: Any) -> "Body":
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
        return cls.of_bytes(data)

    @classmethod
    def of_bytes(cls, data: bytes) -> "Body":
        return cls(data, '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"')


def model_reference(bundle: ForecastBundle, settings: Settings) -> dict[str, Any]:
    """Which model answered: repeated in every data response so a consumer can trace a number."""
    return {
        "name": settings.model_name,
        "version": bundle.version,
        "run_id": bundle.run_id,
        "trained_at": bundle.forecast["trained_at"],
    }


def model_card(bundle: ForecastBundle, settings: Settings) -> dict[str, Any]:
    """The `/api/v1/model` document: the champion's card, data provenance, backtest and promotion."""
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
        "backtest": forecast["backtest"],
        "promotion": forecast.get("promotion"),
    }


class ChampionView:
    """Precomputed answers for one champion version (built in the refresh thread, read by requests)."""

    def __init__(self, bundle: ForecastBundle, settings: Settings) -> None:
        forecast = bundle.forecast
        self.bundle = bundle
        self.version = bundle.version
        self.reference = model_reference(bundle, settings)
        self.target = forecast["target"]
        self.unit = forecast["unit"]
        self.data_last_date = date.fromisoformat(forecast["data"]["last_date"])
        self.horizon_max = min(settings.forecast_horizon_max, len(forecast["points"]))
        points = [{name: p[name] for name in POINT_FIELDS} for p in forecast["points"][: self.horizon_max]]
        self._forecasts = tuple(self._forecast_body(points[:h], h) for h in range(1, self.horizon_max + 1))
        self.model = Body.of_json(model_card(bundle, settings))
        self.history_points: list[dict[str, Any]] = bundle.history["points"]
        self.history = lru_cache(maxsize=32)(self._history_body)
        self.page = champion_page(self, settings)

    def _forecast_body(self, points: list[dict[str, Any]], horizon: int) -> Body:
        return Body.of_json(
            {
                "model": self.reference,
                "target": self.target,
                "unit": self.unit,
                "data_last_date": self.data_last_date.isoformat(),
                "horizon": horizon,
                "points": points,
            }
        )

    def forecast(self, horizon: int) -> Body:
        """The forecast truncated to `horizon` days (1 ≤ horizon ≤ `horizon_max`)."""
        return self._forecasts[horizon - 1]

    def _history_body(self, days: int) -> Body:
        """Observations of the last `days` calendar days up to the last observed date (inclusive)."""
        last = date.fromisoformat(self.history_points[-1]["date"]) if self.history_points else self.data_last_date
        since = (last - timedelta(days=days - 1)).isoformat()
        points = [p for p in self.history_points if p["date"] >= since]
        return Body.of_json(
            {
                "model": self.reference,
                "target": self.target,
                "unit": self.unit,
                "days": days,
                "points": points,
            }
        )
