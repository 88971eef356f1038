"""The served forecast bundle: what training stores as run artifacts and the service reads back.

Training writes `forecast.json` and `history.json` on every run, and `track_record.json` (how the
forecasts served before scored once their prices came in) when it has one; the service only ever
reads these (never fits a model), so its request path stays cheap and independent of statsmodels.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping, TypeGuard

FORECAST_ARTIFACT = "forecast.json"
HISTORY_ARTIFACT = "history.json"
TRACK_RECORD_ARTIFACT = "track_record.json"
REQUIRED_ARTIFACTS = (FORECAST_ARTIFACT, HISTORY_ARTIFACT)
# A run without these is still servable: older runs predate them.
OPTIONAL_ARTIFACTS = (TRACK_RECORD_ARTIFACT,)
SCHEMA_VERSION = 1
POINT_FIELDS = ("date", "mean", "lower_80", "upper_80", "lower_95", "upper_95")
# The predictive distribution's quantile grid, in percent (docs/model.md#distribution); a point carries
# `quantiles`, level name → price, from bundles trained since it was added.
QUANTILE_PERCENTS = (2.5, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 97.5)
QUANTILE_FIELDS = tuple(f"q{percent:g}" for percent in QUANTILE_PERCENTS)
CALENDARS = ("daily", "business")


def is_finite_number(value: Any) -> TypeGuard[float]:
    """A number that is a real figure: not a bool, not NaN or ±Infinity (documents read back are
    checked with it before anything is built from them; MLflow metrics must pass it too)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and value not in (float("inf"), float("-inf"))


@dataclass
class ForecastBundle:
    """One trained model's precomputed forecast, its card and its backtest.

    `forecast` is the parsed `forecast.json` (schema in docs/api.md#bundle), `history` the parsed
    `history.json`, `track_record` the parsed `track_record.json` or None; `version` comes from the
    registry when served.
    """

    forecast: dict[str, Any]
    history: dict[str, Any]
    version: str | None = None
    track_record: dict[str, Any] | None = None

    @property
    def run_id(self) -> str:
        return self.forecast["run_id"]

    @property
    def points(self) -> list[dict[str, Any]]:
        return self.forecast["points"]

    @property
    def calendar(self) -> str:
        """The series' calendar: "business" (steps are trading days) or "daily" (also for older bundles)."""
        calendar = self.forecast["data"].get("calendar", "daily")
        return calendar if calendar in CALENDARS else "daily"

    @classmethod
    def from_files(cls, forecast_text: str, history_text: str, version: str | None = None,
                   track_record_text: str | None = None) -> "ForecastBundle":
        forecast = json.loads(forecast_text)
        if forecast.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"unsupported forecast bundle schema {forecast.get('schema_version')!r}")
        track_record = json.loads(track_record_text) if track_record_text is not None else None
        return cls(forecast=forecast, history=json.loads(history_text), version=version, track_record=track_record)

    @classmethod
    def from_artifacts(cls, texts: Mapping[str, str], version: str | None = None) -> "ForecastBundle":
        """The bundle from artifact name → text, as downloaded from a run (optional artifacts may be absent)."""
        missing = [name for name in REQUIRED_ARTIFACTS if name not in texts]
        if missing:
            raise ValueError(f"the run has no {', '.join(missing)}")
        return cls.from_files(texts[FORECAST_ARTIFACT], texts[HISTORY_ARTIFACT], version,
                              track_record_text=texts.get(TRACK_RECORD_ARTIFACT))

    def to_artifacts(self) -> dict[str, str]:
        """Artifact name → text, the inverse of `from_artifacts` (what the serving pointer publishes)."""
        texts = {FORECAST_ARTIFACT: json.dumps(self.forecast), HISTORY_ARTIFACT: json.dumps(self.history)}
        if self.track_record is not None:
            texts[TRACK_RECORD_ARTIFACT] = json.dumps(self.track_record)
        return texts
