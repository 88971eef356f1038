"""The JSON API's answers as typed models: the service builds them, the OpenAPI components are generated
from them (`service.openapi`), so a field is declared once.

They are built from the bundle's documents (`gasforecast.publication.documents`) and reuse their parts, so a field
of forecast.json that the API passes on has one definition from training to the schema.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, computed_field

from gasforecast.publication.documents import (
    Backtest,
    Breach,
    Calendar,
    DataInfo,
    Decision,
    Document,
    Evaluation,
    ForecastPoint,
    HistoryPoint,
    IsoDate,
    ModelInfo,
    Sanity,
    SeriesDeclaration,
    Status,
    SummaryRow,
    Thresholds,
    TrackRecordPoint,
    TrainingWindow,
    WindowName,
)


class ModelReference(Document):
    """Which model answered: repeated in every data response so a consumer can trace a number."""

    name: str
    version: str | None = Field(description="registry version of the champion")
    run_id: str
    trained_at: str = Field(json_schema_extra={"format": "date-time"})


class Forecast(Document):
    model: ModelReference
    target: str
    unit: str
    series: SeriesDeclaration
    data_last_date: IsoDate
    calendar: Calendar
    horizon: PositiveInt
    points: list[ForecastPoint] = Field(min_length=1)


class History(Document):
    model: ModelReference
    target: str
    unit: str
    series: SeriesDeclaration
    days: PositiveInt
    points: list[HistoryPoint]


class CardModel(ModelReference, ModelInfo):
    """The champion's reference and its configuration, in one object."""


class ModelCard(Document):
    """/api/v1/model: the champion's card, data provenance, its out-of-sample accuracy (`evaluation`), the
    evidence and decision of the gate that chose it (`backtest`, `promotion`) and the promotion sanity figures."""

    model: CardModel
    target: str
    unit: str
    series: SeriesDeclaration = Field(description="what the series is: label, unit, product, source, synthetic")
    data: DataInfo
    training_window: TrainingWindow
    horizon_max: PositiveInt
    evaluation: Evaluation | None = Field(description="the headline accuracy: the whole training procedure re-run "
                                                      "at past origins on the data before each, and scored (null when "
                                                      "training ran none)")
    backtest: Backtest
    promotion: Decision | None
    sanity: Sanity | None = Field(description="promotion sanity figures: servable, reasons, band_ratio, "
                                              "max_band_ratio, …")


class ServedTrackRecordPoint(TrackRecordPoint):
    @computed_field(description="true when the price of target_date was revised after the point was scored "  # type: ignore[prop-decorator]
                                "(revised_actual holds the revised price; the score keeps the first published)")
    @property
    def revised_after_scoring(self) -> bool:
        return self.revised_actual is not None


class TrackRecord(Document):
    """/api/v1/track-record: the shipped record's fields, or an empty record (`no_track_record`)."""

    model: ModelReference
    target: str
    unit: str
    series: SeriesDeclaration
    calendar: Calendar
    status: Status | Literal["no_track_record"]
    computed_at: str | None = Field(json_schema_extra={"format": "date-time"})
    data_through: IsoDate | None
    forecasts: NonNegativeInt = Field(description="served forecasts in the ledger")
    horizons: list[PositiveInt]
    windows: list[WindowName]
    thresholds: Thresholds
    breaches: list[Breach]
    summary: list[SummaryRow]
    points: list[ServedTrackRecordPoint]


class SeriesSummary(Document):
    """One served series: what it is, which champion serves it, and where its answers are."""

    id: str = Field(description="the series id (docs/series.md); `default` is the deployment's own series")
    target: str | None = Field(description="the price column; null while the series has no champion")
    unit: str | None
    model_version: str | None
    data_last_date: IsoDate | None
    page: str = Field(description="the series' HTML page")
    api: str = Field(description="the base path of the series' API: append /forecast, /history, /track-record, /model")


class SeriesList(Document):
    series: list[SeriesSummary]


class Health(Document):
    status: Literal["ok"]


class Readiness(Document):
    status: Literal["ready", "degraded", "unavailable"]
    reason: str | None = None
    model_version: str | None = None
    run_id: str | None = None
    last_success_at: str | None = Field(default=None, json_schema_extra={"format": "date-time"})
    data_last_date: IsoDate | None = None
    data_age_days: int | None = None
    data_stale: bool | None = Field(default=None, description="data older than STALE_AFTER_DAYS")


class ErrorDetail(Document):
    status: int = Field(ge=400, le=599)
    message: str = Field(min_length=1)


class Error(Document):
    error: ErrorDetail


RESPONSES = (Forecast, History, ModelCard, TrackRecord, SeriesList, Health, Readiness, Error)
