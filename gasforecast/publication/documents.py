"""The bundle documents, defined once: what training writes, what the ledger keeps, what the service reads.

`forecast.json`, `history.json` and `track_record.json` are the contract between training and
everything that serves or scores (docs/architecture.md#the-contract). Each is a pydantic model here:
training builds the model and writes `model_dump_json`; `ForecastBundle` parses the texts back with
`model_validate_json`, once, so a reader holds attributes that are known to be there, with the types
they claim (finite numbers, ISO dates, known calendars), and mypy sees every field. The service's API
answers and the OpenAPI components are built from the same classes (`service/openapi.py`).

Why pydantic: it is already installed with MLflow, its validation runs in Rust (a bundle parses in a
few milliseconds) and it derives JSON Schema 2020-12 from the classes, which is what OpenAPI 3.1 uses.

Compatibility: every field added after schema 1 was first written has a default, so bundles written
before it (no `calendar`, no `quantiles`, no `evaluation`, `distribution`, `sanity` or `series`) still parse;
numbers are strict (a bool or a string is not a price) and never NaN or ±Infinity.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

if TYPE_CHECKING:
    from gasforecast.platform.config import Settings

SCHEMA_VERSION: Literal[1] = 1
CALENDARS = ("daily", "business")
Calendar = Literal["daily", "business"]
# The predictive distribution's quantile grid, in percent (docs/model.md#distribution).
QUANTILE_PERCENTS = (2.5, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75, 80, 85, 90, 95, 97.5)
QUANTILE_FIELDS = tuple(f"q{percent:g}" for percent in QUANTILE_PERCENTS)


def _iso_date(text: str) -> str:
    if len(text) != 10 or date.fromisoformat(text).isoformat() != text:
        raise ValueError(f"not an ISO date (YYYY-MM-DD): {text!r}")
    return text


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
IsoDate = Annotated[str, AfterValidator(_iso_date),
                    Field(json_schema_extra={"format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"})]
ByHorizon = dict[str, FiniteFloat | None]  # horizon (as a string) → value


def _omitted_when_none(value: Any) -> bool:
    return value is None


class Document(BaseModel):
    """Strict values, unknown fields ignored (a newer writer's additions do not break an older reader)."""

    # The generated schema describes what is written: every field with a default is written too (bar
    # those `exclude_if` leaves out), and no other field.
    # Validators are built on first use (defer_build), not at import: a part builds only the documents it
    # reads, which keeps the service's cold start short.
    model_config = ConfigDict(strict=True, frozen=True, populate_by_name=True, extra="ignore",
                              json_schema_serialization_defaults_required=True,
                              json_schema_extra={"additionalProperties": False}, defer_build=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The document as JSON values, field names as written (`q2.5`, `class`)."""
        return self.model_dump(mode="json", by_alias=True)


class OpenDocument(Document):
    """A block whose producer (the forecasting package) may add fields: they are kept and passed on."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})


# --- forecast.json ----------------------------------------------------------------------------------------

class Quantiles(Document):
    """The predictive distribution at one step: q2.5 … q97.5 are its 2.5 % … 97.5 % quantiles."""

    q2_5: FiniteFloat = Field(alias="q2.5")
    q5: FiniteFloat
    q10: FiniteFloat
    q15: FiniteFloat
    q20: FiniteFloat
    q25: FiniteFloat
    q30: FiniteFloat
    q35: FiniteFloat
    q40: FiniteFloat
    q45: FiniteFloat
    q50: FiniteFloat
    q55: FiniteFloat
    q60: FiniteFloat
    q65: FiniteFloat
    q70: FiniteFloat
    q75: FiniteFloat
    q80: FiniteFloat
    q85: FiniteFloat
    q90: FiniteFloat
    q95: FiniteFloat
    q97_5: FiniteFloat = Field(alias="q97.5")


class ForecastPoint(Document):
    """One forecast step: the mean, the 80 % and 95 % bands, and (bundles trained since the grid was
    served) the quantile grid; lower/upper_80 are q10/q90, lower/upper_95 q2.5/q97.5."""

    date: IsoDate
    mean: FiniteFloat
    lower_80: FiniteFloat
    upper_80: FiniteFloat
    lower_95: FiniteFloat
    upper_95: FiniteFloat
    quantiles: Quantiles | None = Field(default=None, exclude_if=_omitted_when_none)


POINT_FIELDS = ("date", "mean", "lower_80", "upper_80", "lower_95", "upper_95")


class ModelSpec(OpenDocument):
    """A model configuration (gasforecast.forecasting.ModelConfig.to_dict; docs/model.md#candidates)."""

    kind: str
    drivers: list[str] = Field(default_factory=list)
    seasonal: str = "none"
    window_years: FiniteFloat | None = None
    naive_weight: FiniteFloat = 0.0


class ModelInfo(Document):
    """The served configuration as training fitted it."""

    class_: str = Field(alias="class", description="statsmodels model class, e.g. VAR, VECM, ARIMA")
    label: str
    config: ModelSpec | None = Field(default=None, description="the configuration (forecasting.ModelConfig)")
    orders: dict[str, Any] = Field(default_factory=dict, description='chosen orders, e.g. {"lags": 3}')
    drivers: list[str] = Field(default_factory=list)
    transforms: str | None = None


class DataInfo(Document):
    """Which curated data the model was trained on."""

    uri: str
    generation: str | None = None
    sha256: str | None = None
    first_date: IsoDate
    last_date: IsoDate
    rows: PositiveInt
    calendar: Calendar = Field(default="daily", description="business: steps and dates are trading days "
                                                            "(Monday to Friday); daily: calendar days (older bundles)")


class TrainingWindow(Document):
    start: IsoDate
    end: IsoDate


class Stretch(OpenDocument):
    first_origin: IsoDate | None = None
    test_from: IsoDate | None = None
    last_origin: IsoDate | None = None
    origins: NonNegativeInt | None = None
    refits: NonNegativeInt | None = None


class Backtest(OpenDocument):
    """The candidates' evidence on the evaluation stretch, as the gate weighed it."""

    kind: Literal["stretch"] | None = Field(default=None, description="absent in bundles trained before the "
                                                                      "evaluation stretch")
    horizons: list[PositiveInt]
    origins: NonNegativeInt
    first_origin: IsoDate | None = None
    last_origin: IsoDate | None = None
    stretch: Stretch | None = None
    selected: str = Field(description="label of the served configuration")
    challenger: str | None = Field(default=None, description="the best candidate on the selection half")
    baseline: str
    metrics: dict[str, dict[str, dict[str, FiniteFloat | None]]] = Field(
        description="candidate label → horizon (as a string) → {selection_ratio, test_ratio}: mean |log error| ÷ "
                    "the naive forecast's on each half of the stretch")


class LossTest(OpenDocument):
    mean_difference: FiniteFloat | None = None
    statistic: FiniteFloat | None = None
    p_value: FiniteFloat | None = None
    origins: int | None = None


class Decision(OpenDocument):
    """The gate's decision with its numbers (forecasting.Decision.to_dict; forecast.json `promotion`)."""

    decision: str = Field(description="promoted | kept_champion_config | naive (older bundles: other values)")
    reason: str
    served: str | None = None
    challenger: str | None = None
    champion: str | None = None
    incumbent: str | None = None
    challenger_score: FiniteFloat | None = None
    champion_score: FiniteFloat | None = None
    test: LossTest | None = Field(default=None, description="one-sided Diebold–Mariano test of the challenger "
                                                            "against the incumbent")
    significance: FiniteFloat | None = Field(default=None, description="the level the test's p-value had to be "
                                                                       "below (older bundles: absent)")


class Evaluation(OpenDocument):
    """The headline accuracy: the whole training procedure re-run at past origins on the data before each,
    and scored (forecasting.NestedEvaluation.to_dict)."""

    kind: Literal["nested"]
    origins: PositiveInt
    first_origin: IsoDate
    last_origin: IsoDate
    step_rows: PositiveInt | None = Field(default=None, description="steps of the calendar between origins")
    horizons: list[PositiveInt]
    mae_ratio_to_naive: ByHorizon
    mean_mae_ratio: FiniteFloat | None
    coverage_80: ByHorizon
    coverage_95: ByHorizon
    interval_score_ratio: ByHorizon = Field(description="mean 80 %/95 % Winkler score ÷ the strongest baseline's "
                                                        "(`baseline`); bundles trained before it: ÷ a full-history "
                                                        "Gaussian random walk's")
    crps_ratio: ByHorizon | None = Field(default=None, description="CRPS on the quantile grid ÷ the strongest "
                                                                   "baseline's")
    baseline: str | None = Field(default=None, description="the strongest baseline on this series: the lowest CRPS "
                                                           "over the horizons (docs/model.md#baselines)")
    served: dict[str, int] | None = Field(default=None, description="model label → origins at which the "
                                                                    "procedure served it")


class LevelGuard(OpenDocument):
    applies: bool
    passed: bool


class Sanity(OpenDocument):
    """Promotion sanity's verdict on the bundle (gasforecast.publication.sanity), with the level guard's."""

    servable: bool
    reasons: list[str] = Field(default_factory=list)
    level_guard: LevelGuard | None = Field(default=None, exclude_if=_omitted_when_none)


class SeriesDeclaration(Document):
    """What the series is, as training declared it (TARGET_LABEL, TARGET_PRODUCT, DATA_SOURCE, DATA_SYNTHETIC):
    carried with the numbers so a page, an API answer or a CSV never passes synthetic data for a market."""

    label: str = Field(description="the name shown for the series, e.g. NBP front-month")
    unit: str
    product: str = Field(description="the contract or product, e.g. day-ahead or front-month")
    source: str = Field(description="where the prices come from")
    synthetic: bool = Field(description="true when the prices are generated, not observed in a market")

    @classmethod
    def declared(cls, settings: Settings, unit: str) -> SeriesDeclaration:
        """The declaration of these settings: what training writes, and what the service falls back on for a
        bundle trained before the declaration was written."""
        return cls(label=settings.target_label, unit=unit, product=settings.target_product,
                   source=settings.data_source, synthetic=settings.data_synthetic)


class ForecastDocument(Document):
    """forecast.json: the champion's precomputed forecast and its card (docs/api.md#bundle)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    run_id: str
    trained_at: str
    target: str
    unit: str
    model: ModelInfo
    data: DataInfo
    training_window: TrainingWindow
    horizon_max: PositiveInt
    points: list[ForecastPoint] = Field(min_length=1)
    backtest: Backtest
    promotion: Decision | None = None
    evaluation: Evaluation | None = Field(default=None, exclude_if=_omitted_when_none)
    # The predictive distribution's experts and weights, as forecasting.PredictiveDistribution.to_dict writes them.
    distribution: dict[str, Any] | None = Field(default=None, exclude_if=_omitted_when_none)
    sanity: Sanity | None = Field(default=None, exclude_if=_omitted_when_none)
    series: SeriesDeclaration | None = Field(default=None, exclude_if=_omitted_when_none,
                                             description="what the series is (bundles trained before it: absent)")


class HistoryPoint(Document):
    date: IsoDate
    value: FiniteFloat


class HistoryDocument(Document):
    """history.json: the observed prices the model was trained on (the last five years)."""

    target: str | None = None
    unit: str | None = None
    points: list[HistoryPoint]


# --- track_record.json ----------------------------------------------------------------------------------

WINDOWS = (30, 90)  # rolling windows: the last N matured points of a horizon
WindowName = Literal["last_30", "last_90", "all"]
WINDOW_NAMES: tuple[WindowName, ...] = ("last_30", "last_90", "all")  # the windows, then all points
Status = Literal["no_scores", "too_few_points", "ok", "degraded"]
STATUSES: tuple[Status, ...] = ("no_scores", "too_few_points", "ok", "degraded")
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Thresholds(Document):
    """When the live record counts as degraded, judged per horizon on the last `window` matured points.

    Loose on purpose: overlapping multi-step forecasts are correlated, so 30 points carry less
    evidence than 30 independent ones; these fire on a clear break, not on noise.
    """

    window: PositiveInt = 30
    min_points: NonNegativeInt = 20  # fewer matured points than this: no verdict yet
    mae_ratio_max: FiniteFloat = 1.25  # errors 25 % larger than "no change"
    coverage_80_min: FiniteFloat = 0.60  # nominal 0.80
    coverage_95_min: FiniteFloat = 0.80  # nominal 0.95


class Aggregate(Document):
    """The measures over some scored points (all None when there are none)."""

    points: NonNegativeInt
    mae: FiniteFloat | None
    naive_mae: FiniteFloat | None
    mae_ratio: FiniteFloat | None = Field(description="MAE ÷ the naive (no change) forecast's MAE; below 1 is better")
    closer_than_naive: Share | None = Field(description="share of forecasts closer to the price than no change")
    coverage_80: Share | None
    coverage_95: Share | None


MEASURES = ("mae", "naive_mae", "mae_ratio", "closer_than_naive", "coverage_80", "coverage_95")


class SummaryRow(Aggregate):
    horizon: PositiveInt
    window: WindowName = Field(description="the last N matured points, or all")


class Breach(Document):
    horizon: PositiveInt
    window: WindowName
    measure: Literal["mae_ratio", "coverage_80", "coverage_95"]
    value: FiniteFloat
    threshold: FiniteFloat
    points: NonNegativeInt


class TrackRecordPoint(Document):
    """One matured forecast point, scored against the price first published for its date."""

    forecast_date: IsoDate = Field(description="last data date of the forecast (its origin)")
    target_date: IsoDate
    horizon: PositiveInt = Field(description="steps after forecast_date, in the series' calendar")
    mean: FiniteFloat
    lower_80: FiniteFloat
    upper_80: FiniteFloat
    lower_95: FiniteFloat
    upper_95: FiniteFloat
    actual: FiniteFloat = Field(description="the price first published for target_date: what the point is scored "
                                            "against")
    naive: FiniteFloat = Field(description="the no-change forecast: the price observed on forecast_date")
    abs_error: FiniteFloat
    naive_abs_error: FiniteFloat
    inside_80: bool
    inside_95: bool
    closer_than_naive: bool
    model_version: str = Field(description="registry version that made the forecast")
    run_id: str
    # Records written before first published prices were kept have no revisions: None.
    revised_actual: FiniteFloat | None = Field(default=None, description="the price the curated data holds for "
                                               "target_date now, when it was revised after it was first published "
                                               "(the score keeps using actual); else null")


POINT_COLUMNS = tuple(TrackRecordPoint.model_fields)


class TrackRecordDocument(Document):
    """track_record.json: how the forecasts served before did once their prices came in (docs/track-record.md)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    computed_at: str
    target: str
    unit: str
    calendar: Calendar
    data_through: IsoDate | None
    forecasts: NonNegativeInt
    horizons: list[PositiveInt]
    windows: list[WindowName] = Field(default_factory=lambda: list(WINDOW_NAMES))
    thresholds: Thresholds
    status: Status
    breaches: list[Breach]
    summary: list[SummaryRow]
    actuals: Literal["first_published"] = "first_published"
    revised_points: NonNegativeInt = 0
    points: list[TrackRecordPoint]

    @model_validator(mode="after")
    def _consistent(self) -> TrackRecordDocument:
        """Rows and breaches only of the record's own horizons, windows as this code names them."""
        if self.windows != list(WINDOW_NAMES):
            raise ValueError(f"windows must be {list(WINDOW_NAMES)}")
        known = set(self.horizons)
        if any(row.horizon not in known for row in self.summary) or any(b.horizon not in known for b in self.breaches):
            raise ValueError("a summary row or breach names a horizon the record does not have")
        return self

    def rows(self, window: str) -> list[SummaryRow]:
        return [row for row in self.summary if row.window == window]


# --- the forecast ledger (forecasts/ledger/) ------------------------------------------------------------

class LedgerPoint(ForecastPoint):
    step: PositiveInt


class LedgerEntry(Document):
    """One promoted version's forecast as the page showed it (gasforecast.scoring.ledger)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    model_version: Annotated[str, Field(pattern=r"^[0-9]{1,12}$")]
    run_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    training_key: str | None
    model_label: str
    trained_at: str
    recorded_at: str
    target: str
    unit: str
    calendar: Calendar
    data_through: IsoDate
    origin_value: FiniteFloat  # the price on data_through: the "no change" forecast from this origin
    points: list[LedgerPoint] = Field(min_length=1)


class FirstPrices(Document):
    """Prices of dates seen for the first time by one training (forecasts/first-prices/)."""

    schema_version: Literal[1] = SCHEMA_VERSION
    target: str
    recorded_at: str
    prices: dict[IsoDate, FiniteFloat]
