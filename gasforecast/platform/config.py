"""One place that reads the environment (12-factor), so every part agrees on names and defaults.

Each variable is documented in docs/configuration.md; tests/deploy/test_deploy_configuration_doc.py
checks that page against `Settings` (names and defaults).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Annotated, Any, Protocol, get_args, get_type_hints


def _int_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _flag(text: str) -> bool:
    """true/false (also 1/0, yes/no): anything else is an error, not a silent false."""
    value = text.strip().lower()
    if value not in ("true", "1", "yes", "false", "0", "no"):
        raise ValueError("must be true or false")
    return value in ("true", "1", "yes")


MAX_LAG_DAYS = 31

# Series (docs/series.md): the deployment's own settings are the default series; every other series is
# declared by an operator and named by a slug, which becomes part of object names and MLflow names.
DEFAULT_SERIES = "default"
SERIES_ID = re.compile(r"^[a-z][a-z0-9-]{1,31}$")
# The per-series settings a definition may override (besides target, label and unit), kept small.
SERIES_OVERRIDES = ("earliest_date", "max_drivers", "driver_publication_lags", "revision_max_change",
                    "revision_max_age_days")


def is_series_id(text: object) -> bool:
    """A safe series id: a lower-case slug (it becomes a folder and part of MLflow names)."""
    return isinstance(text, str) and SERIES_ID.fullmatch(text) is not None


def in_series(object_name: str, series: str) -> str:
    """Where an object of the default series lives for `series`: its top-level area keeps its prefix
    (so the IAM prefix conditions still hold), the series goes under `<area>/series/<id>/`."""
    if series == DEFAULT_SERIES:
        return object_name
    if not is_series_id(series):
        raise ValueError(f"{series!r} is not a series id")
    area, _, rest = object_name.partition("/")
    return f"{area}/series/{series}/{rest}"


_UNDECLARED = "not declared (gasforecast series add --replace sets it)"


class SeriesLike(Protocol):
    """What `Settings.for_series` reads of a series definition (`gasforecast.ingestion.series`)."""

    id: str
    target_column: str
    label: str
    unit: str
    product: str
    source: str
    synthetic: bool

    def overrides(self) -> dict[str, Any]: ...


def parse_lags(text: str) -> dict[str, int]:
    """`column=days,column=days` (DRIVER_PUBLICATION_LAGS, `--publication-lags`) as a mapping; `none`
    declares nothing (the default rule alone, docs/data-contract.md#publication-lags)."""
    lags: dict[str, int] = {}
    if text.strip().lower() == "none":
        return lags
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, sep, days = part.rpartition("=")
        if not sep or not name.strip() or not days.strip().isdigit() or int(days) > MAX_LAG_DAYS:
            raise ValueError(f"publication lag {part!r} must be column=days with 0 ≤ days ≤ {MAX_LAG_DAYS}")
        lags[name.strip()] = int(days)
    return lags


@dataclass(frozen=True)
class Env:
    """The environment variable a `Settings` field is read from (in the field's `Annotated` type)."""

    name: str


@dataclass(frozen=True)
class Settings:
    """Runtime configuration, read from the environment by `load_settings`: each field names its variable
    (`Env`) and is read by its type; the default is the field's."""

    project: Annotated[str, Env("GOOGLE_CLOUD_PROJECT")] = "gasforecast-local"
    uploads_bucket: Annotated[str, Env("UPLOADS_BUCKET")] = "gasforecast-uploads"
    data_bucket: Annotated[str, Env("DATA_BUCKET")] = "gasforecast-data"
    artifact_bucket: Annotated[str, Env("ARTIFACT_BUCKET")] = "gasforecast-artifacts"
    retrain_topic: Annotated[str, Env("RETRAIN_TOPIC")] = "retrain-requests"
    mlflow_tracking_uri: Annotated[str, Env("MLFLOW_TRACKING_URI")] = "http://127.0.0.1:5000"
    mlflow_experiment: Annotated[str, Env("MLFLOW_EXPERIMENT")] = "uk-gas-price"
    model_name: Annotated[str, Env("MODEL_NAME")] = "uk-gas-price-forecaster"
    champion_alias: Annotated[str, Env("CHAMPION_ALIAS")] = "champion"
    target_column: Annotated[str, Env("TARGET_COLUMN")] = "uk_gas_price"
    target_unit: Annotated[str, Env("TARGET_UNIT")] = "pence/therm"
    # What the series is, as training declares it in forecast.json `series` (docs/api.md#series): the name
    # shown on the page, e.g. "NBP front-month"; the contract or product; where the prices come from; and
    # whether they are synthetic. The defaults cannot pass for a real market.
    target_label: Annotated[str, Env("TARGET_LABEL")] = "Gas price series (set TARGET_LABEL)"
    target_product: Annotated[str, Env("TARGET_PRODUCT")] = "not declared (set TARGET_PRODUCT)"
    data_source: Annotated[str, Env("DATA_SOURCE")] = "not declared (set DATA_SOURCE)"
    data_synthetic: Annotated[bool, Env("DATA_SYNTHETIC")] = False
    forecast_horizon_max: Annotated[int, Env("FORECAST_HORIZON_MAX")] = 90
    # Data contract limits.
    max_upload_bytes: Annotated[int, Env("MAX_UPLOAD_BYTES")] = 50 * 1024 * 1024
    max_columns: Annotated[int, Env("MAX_COLUMNS")] = 50
    # Growth of the curated dataset (docs/data-contract.md#limits-on-growth): the earliest date a row may
    # carry (ISO date) and the most value columns (target and drivers) the curated dataset may hold.
    earliest_date: Annotated[str, Env("EARLIEST_DATE")] = "2000-01-01"
    max_curated_columns: Annotated[int, Env("MAX_CURATED_COLUMNS")] = 50
    # Revisions of curated values (docs/data-contract.md#revisions): beyond these an upload is held.
    revision_max_change: Annotated[float, Env("REVISION_MAX_CHANGE")] = 0.10  # relative change of one value
    revision_tolerance: Annotated[float, Env("REVISION_TOLERANCE")] = 0.005  # changes up to this are not material (rounding, settlement fixes)
    revision_max_cells: Annotated[int, Env("REVISION_MAX_CELLS")] = 10  # material revisions of one column in one upload ...
    revision_max_share: Annotated[float, Env("REVISION_MAX_SHARE")] = 0.05  # ... or this share of its curated values when fewer (at least 1)
    revision_max_age_days: Annotated[int, Env("REVISION_MAX_AGE_DAYS")] = 31  # values older than this before the last curated date are not revised
    # The training procedure (docs/model.md#procedure): scored horizons (steps of the series' calendar),
    # and the nested figures each training ships: that many origins, that many rows apart.
    backtest_horizons: Annotated[tuple[int, ...], Env("BACKTEST_HORIZONS")] = (1, 7, 14, 30)
    nested_origins: Annotated[int, Env("NESTED_ORIGINS")] = 12
    nested_step_rows: Annotated[int, Env("NESTED_STEP_ROWS")] = 22
    training_window_years: Annotated[float, Env("TRAINING_WINDOW_YEARS")] = 0.0  # 0 means all history
    # Trailing years of the curated history a training reads (docs/operations.md); 0 means all.
    max_training_years: Annotated[float, Env("MAX_TRAINING_YEARS")] = 10.0
    max_drivers: Annotated[int, Env("MAX_DRIVERS")] = 3
    # Publication lags beyond the default (docs/data-contract.md#publication-lags): "column=days,…".
    driver_publication_lags: Annotated[str, Env("DRIVER_PUBLICATION_LAGS")] = "none"
    # Training coordination (docs/operations.md#training-lease-and-recovery): how long a delivery waits
    # for another training to finish, and how long a dead trainer's lease blocks the others (a live
    # trainer renews it every TTL/4). Budget: wait + training (<= 180 s) < the function's 540 s timeout.
    train_lock_wait_seconds: Annotated[float, Env("TRAIN_LOCK_WAIT_SECONDS")] = 300.0
    train_lock_ttl_seconds: Annotated[float, Env("TRAIN_LOCK_TTL_SECONDS")] = 60.0
    # The train function's timeout as deployed (cloudbuild.yaml --timeout): no request lasts longer, so
    # a lease is renewed no longer than this (a trainer stuck past its request stops blocking the others).
    train_timeout_seconds: Annotated[float, Env("TRAIN_TIMEOUT_SECONDS")] = 540.0
    # Forced retrains (docs/operations.md#retrain-by-hand): at most one forced version per training key
    # in this many seconds; a forced message within it is trained as an ordinary one (usually a duplicate).
    force_min_interval_seconds: Annotated[float, Env("FORCE_MIN_INTERVAL_SECONDS")] = 3600.0
    # Service: how often the champion pointer is re-checked (seconds).
    champion_refresh_seconds: Annotated[float, Env("CHAMPION_REFRESH_SECONDS")] = 15.0
    max_series: Annotated[int, Env("MAX_SERIES")] = 100  # series one service instance serves (one champion's views each)
    history_days_default: Annotated[int, Env("HISTORY_DAYS_DEFAULT")] = 365
    # Data older than this many days is reported as stale (page, /readyz).
    stale_after_days: Annotated[int, Env("STALE_AFTER_DAYS")] = 7

    @property
    def series(self) -> str:
        """The series these settings are of: the deployment's own are the default series."""
        return DEFAULT_SERIES

    def area(self, name: str) -> str:
        """The series' own prefix of a top-level area of DATA_BUCKET (`archive`, `serving`, …), no slash."""
        return in_series(f"{name}/", self.series).rstrip("/")

    def for_series(self, definition: SeriesLike) -> Settings:
        """The settings of a declared series: ingest and training stay one code path for every series.
        Its registered model and experiment are this deployment's names suffixed with the id."""
        if definition.id == DEFAULT_SERIES or not is_series_id(definition.id):
            raise ValueError(f"{definition.id!r} cannot name a declared series")
        if self.series != DEFAULT_SERIES:
            raise ValueError("for_series derives a series from the deployment's settings, not another series'")
        return SeriesSettings(**{**{f.name: getattr(self, f.name) for f in fields(Settings)},
                                 "target_column": definition.target_column, "target_label": definition.label,
                                 "target_unit": definition.unit, "target_product": definition.product or _UNDECLARED,
                                 "data_source": definition.source or _UNDECLARED,
                                 "data_synthetic": definition.synthetic, "model_name": f"{self.model_name}-{definition.id}",
                                 "mlflow_experiment": f"{self.mlflow_experiment}-{definition.id}",
                                 **definition.overrides()}, series_id=definition.id)

    @property
    def curated_object(self) -> str:
        return f"{self.area('curated')}/history.csv"

    @property
    def lease_object(self) -> str:
        """The training lease: one per series, so series train in parallel."""
        return f"{self.area('locks')}/training.lease"

    @property
    def earliest(self) -> date:
        """`earliest_date` as a date (checked by `load_settings`)."""
        return date.fromisoformat(self.earliest_date)

    @property
    def curated_uri(self) -> str:
        return f"gs://{self.data_bucket}/{self.curated_object}"

    @property
    def monitoring_experiment(self) -> str:
        """MLflow experiment of the live track record's monitoring run (kept apart from training runs)."""
        return f"{self.mlflow_experiment}-monitoring"


@dataclass(frozen=True)
class SeriesSettings(Settings):
    """The settings of one declared series (`Settings.for_series`); not read from the environment."""

    series_id: str = DEFAULT_SERIES

    @property
    def series(self) -> str:
        return self.series_id


@dataclass(frozen=True)
class _Variable:
    """One environment variable as the settings declare it: its name, its field and how its text is read."""

    name: str
    field: str
    parse: Callable[[str], Any]


_PARSERS: dict[Any, Callable[[str], Any]] = {str: str, int: int, float: float, bool: _flag,
                                            tuple[int, ...]: _int_tuple}


def _declared() -> tuple[_Variable, ...]:
    """The variables, from the `Env` annotation of each `Settings` field (the one table of names)."""
    hints = get_type_hints(Settings, include_extras=True)
    variables = []
    for field in fields(Settings):
        kind, *extras = get_args(hints[field.name])
        (env,) = [extra for extra in extras if isinstance(extra, Env)]
        variables.append(_Variable(env.name, field.name, _PARSERS[kind]))
    return tuple(variables)


VARIABLES = _declared()


def env_names() -> dict[str, str]:
    """Field name → environment variable, for docs and for the local stack."""
    return {variable.field: variable.name for variable in VARIABLES}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from the environment; unset or empty variables keep their defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for variable in VARIABLES:
        raw = environ.get(variable.name, "").strip()
        if not raw:
            continue
        try:
            values[variable.field] = variable.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{variable.name}={raw!r} is not valid: {exc}") from exc
    settings = Settings(**values)
    if settings.forecast_horizon_max < max(settings.backtest_horizons):
        raise ValueError("FORECAST_HORIZON_MAX must be at least the largest backtest horizon")
    parse_lags(settings.driver_publication_lags)  # a bad declaration fails at start-up, not in a training
    if settings.train_lock_ttl_seconds <= 0 or settings.train_lock_wait_seconds < 0:
        raise ValueError("TRAIN_LOCK_TTL_SECONDS must be positive and TRAIN_LOCK_WAIT_SECONDS not negative")
    if settings.train_timeout_seconds <= settings.train_lock_ttl_seconds:
        raise ValueError("TRAIN_TIMEOUT_SECONDS must be longer than TRAIN_LOCK_TTL_SECONDS")
    try:
        _ = settings.earliest  # parses it: a bad EARLIEST_DATE fails here, at start-up
    except ValueError as exc:
        raise ValueError(f"EARLIEST_DATE={settings.earliest_date!r} is not an ISO date (YYYY-MM-DD)") from exc
    if settings.max_training_years < 0:
        raise ValueError("MAX_TRAINING_YEARS must not be negative (0 reads the whole history)")
    if settings.max_curated_columns < 1:
        raise ValueError("MAX_CURATED_COLUMNS must be at least 1 (the target)")
    if min(settings.revision_max_change, settings.revision_tolerance, settings.revision_max_share) < 0 or \
            settings.revision_max_cells < 1 or settings.revision_max_age_days < 0:
        raise ValueError("REVISION_* limits must not be negative, and REVISION_MAX_CELLS at least 1")
    return settings
