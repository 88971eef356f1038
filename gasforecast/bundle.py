"""The served forecast bundle: what training stores as run artifacts and the service reads back.

Training writes `forecast.json` and `history.json` on every run; the service only ever reads these
(never fits a model), so its request path stays cheap and independent of statsmodels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FORECAST_ARTIFACT = "forecast.json"
HISTORY_ARTIFACT = "history.json"
SCHEMA_VERSION = 1
POINT_FIELDS = ("date", "mean", "lower_80", "upper_80", "lower_95", "upper_95")


@dataclass
class ForecastBundle:
    """One trained model's precomputed forecast, its card and its backtest.

    `forecast` is the parsed `forecast.json` (schema in docs/api.md#bundle), `history` the parsed
    `history.json`; `version` and `alias_updated_at` come from the registry when served.
    """

    forecast: dict[str, Any]
    history: dict[str, Any]
    version: str | None = None

    @property
    def run_id(self) -> str:
        return self.forecast["run_id"]

    @property
    def points(self) -> list[dict[str, Any]]:
        return self.forecast["points"]

    @classmethod
    def from_files(cls, forecast_text: str, history_text: str, version: str | None = None) -> "ForecastBundle":
        forecast = json.loads(forecast_text)
        if forecast.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported forecast bundle schema {forecast.get('schema_version')!r}")
        return cls(forecast=forecast, history=json.loads(history_text), version=version)
