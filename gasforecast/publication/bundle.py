"""The served forecast bundle: what training stores as run artifacts and the service reads back.

Training writes `forecast.json` and `history.json` on every run, and `track_record.json` (how the
forecasts served before scored once their prices came in) when it has one; the service only ever
reads these (never fits a model), so its request path stays cheap and independent of statsmodels.
The documents are typed once in `gasforecast.publication.documents`; a bundle is parsed and validated there, when
it is read, and its readers hold attributes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from pydantic import ValidationError

from gasforecast.platform.logs import get_logger
from gasforecast.publication.documents import (
    CALENDARS,
    POINT_FIELDS,
    QUANTILE_FIELDS,
    QUANTILE_PERCENTS,
    SCHEMA_VERSION,
    Calendar,
    ForecastDocument,
    ForecastPoint,
    HistoryDocument,
    TrackRecordDocument,
)

__all__ = ["CALENDARS", "POINT_FIELDS", "QUANTILE_FIELDS", "QUANTILE_PERCENTS", "SCHEMA_VERSION", "ForecastBundle",
           "is_finite_number"]

log = get_logger(__name__)

FORECAST_ARTIFACT = "forecast.json"
HISTORY_ARTIFACT = "history.json"
TRACK_RECORD_ARTIFACT = "track_record.json"
REQUIRED_ARTIFACTS = (FORECAST_ARTIFACT, HISTORY_ARTIFACT)
# A run without these is still servable: older runs predate them.
OPTIONAL_ARTIFACTS = (TRACK_RECORD_ARTIFACT,)


def is_finite_number(value: Any) -> TypeGuard[float]:
    """A number that is a real figure: not a bool, not NaN or ±Infinity (MLflow metrics must pass it)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and value not in (float("inf"), float("-inf"))


def _parsed(model: type[Any], text: str, artifact: str) -> Any:
    """The artifact's text as `model`, or ValueError naming the artifact and the first problem."""
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(document)"
        raise ValueError(f"{artifact} is not a valid bundle document ({exc.error_count()} problem(s); "
                         f"first at {where}: {first['msg']})") from exc


@dataclass(frozen=True)
class ForecastBundle:
    """One trained model's precomputed forecast, its card, its history and its live track record.

    `track_record` is None for runs trained before it existed, and for a record that does not parse
    (logged: the page then shows "no track record" rather than failing); `version` comes from the
    registry when served.
    """

    forecast: ForecastDocument
    history: HistoryDocument
    version: str | None = None
    track_record: TrackRecordDocument | None = None

    @property
    def run_id(self) -> str:
        return self.forecast.run_id

    @property
    def points(self) -> list[ForecastPoint]:
        return self.forecast.points

    @property
    def calendar(self) -> Calendar:
        """The series' calendar: "business" (steps are trading days) or "daily" (also for older bundles)."""
        return self.forecast.data.calendar

    @classmethod
    def from_files(cls, forecast_text: str, history_text: str, version: str | None = None,
                   track_record_text: str | None = None) -> ForecastBundle:
        """Parse and validate the artifacts' texts; ValueError when the forecast or history is not servable."""
        forecast = _parsed(ForecastDocument, forecast_text, FORECAST_ARTIFACT)
        history = _parsed(HistoryDocument, history_text, HISTORY_ARTIFACT)
        track_record = None
        if track_record_text is not None:
            try:
                track_record = _parsed(TrackRecordDocument, track_record_text, TRACK_RECORD_ARTIFACT)
            except ValueError as exc:
                log.warning("bundle.track_record_invalid", model_version=version, run_id=forecast.run_id,
                            error=str(exc))
        return cls(forecast=forecast, history=history, version=version, track_record=track_record)

    @classmethod
    def from_artifacts(cls, texts: Mapping[str, str], version: str | None = None) -> ForecastBundle:
        """The bundle from artifact name → text, as downloaded from a run (optional artifacts may be absent)."""
        missing = [name for name in REQUIRED_ARTIFACTS if name not in texts]
        if missing:
            raise ValueError(f"the run has no {', '.join(missing)}")
        return cls.from_files(texts[FORECAST_ARTIFACT], texts[HISTORY_ARTIFACT], version,
                              track_record_text=texts.get(TRACK_RECORD_ARTIFACT))

    def to_artifacts(self) -> dict[str, str]:
        """Artifact name → text, the inverse of `from_artifacts` (what the serving pointer publishes)."""
        texts = {FORECAST_ARTIFACT: self.forecast.model_dump_json(by_alias=True),
                 HISTORY_ARTIFACT: self.history.model_dump_json(by_alias=True)}
        if self.track_record is not None:
            texts[TRACK_RECORD_ARTIFACT] = self.track_record.model_dump_json(by_alias=True)
        return texts
