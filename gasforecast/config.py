"""One place that reads the environment (12-factor), so every part agrees on names and defaults.

Each variable is documented in docs/configuration.md; keep that page in step with `Settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from datetime import date
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from gasforecast.revisions import RevisionLimits


def _int_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


MAX_LAG_DAYS = 31


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
class Settings:
    """Runtime configuration, read from the environment by `load_settings`."""

    project: str = "gasforecast-local"
    uploads_bucket: str = "gasforecast-uploads"
    data_bucket: str = "gasforecast-data"
    artifact_bucket: str = "gasforecast-artifacts"
    retrain_topic: str = "retrain-requests"
    mlflow_tracking_uri: str = "http://127.0.0.1:5000"
    mlflow_experiment: str = "uk-gas-price"
    model_name: str = "uk-gas-price-forecaster"
    champion_alias: str = "champion"
    target_column: str = "uk_gas_price"
    target_unit: str = "pence/therm"
    target_label: str = "UK gas price"  # the hub or contract shown on the page, e.g. "NBP front-month"
    forecast_horizon_max: int = 90
    # Data contract limits.
    max_upload_bytes: int = 50 * 1024 * 1024
    max_columns: int = 50
    # Growth of the curated dataset (docs/data-contract.md#limits-on-growth): the earliest date a row may
    # carry (ISO date) and the most value columns (target and drivers) the curated dataset may hold.
    earliest_date: str = "2000-01-01"
    max_curated_columns: int = 50
    # Revisions of curated values (docs/data-contract.md#revisions): beyond these an upload is held.
    revision_max_change: float = 0.10  # relative change of one value
    revision_tolerance: float = 0.005  # changes up to this are not material (rounding, settlement fixes)
    revision_max_cells: int = 10  # material revisions of one column in one upload ...
    revision_max_share: float = 0.05  # ... or this share of its curated values when fewer (at least 1)
    revision_max_age_days: int = 31  # values older than this before the last curated date are not revised
    # The training procedure (docs/model.md#procedure): scored horizons (steps of the series' calendar),
    # and the nested figures each training ships: that many origins, that many rows apart.
    backtest_horizons: tuple[int, ...] = (1, 7, 14, 30)
    nested_origins: int = 12
    nested_step_rows: int = 22
    training_window_years: float = 0.0  # 0 means all history
    max_training_years: float = 10.0  # trailing years of the curated history training reads; 0 means all
    max_drivers: int = 3
    # Publication lags beyond the default (docs/data-contract.md#publication-lags): "column=days,…".
    driver_publication_lags: str = "none"
    # Training coordination (docs/operations.md#training-lease-and-recovery): how long a delivery waits
    # for another training to finish, and how long a dead trainer's lease blocks the others (a live
    # trainer renews it every TTL/4). Budget: wait + training (<= 180 s) < the function's 540 s timeout.
    train_lock_wait_seconds: float = 300.0
    train_lock_ttl_seconds: float = 60.0
    # The train function's timeout as deployed (cloudbuild.yaml --timeout): no request lasts longer, so
    # a lease is renewed no longer than this (a trainer stuck past its request stops blocking the others).
    train_timeout_seconds: float = 540.0
    # Forced retrains (docs/operations.md#retrain-by-hand): at most one forced version per training key
    # in this many seconds; a forced message within it is trained as an ordinary one (usually a duplicate).
    force_min_interval_seconds: float = 3600.0
    # Service: how often the champion pointer is re-checked (seconds).
    champion_refresh_seconds: float = 15.0
    history_days_default: int = 365
    # Data older than this many days is reported as stale (page, /readyz).
    stale_after_days: int = 7

    @property
    def curated_object(self) -> str:
        return "curated/history.csv"

    @property
    def earliest(self) -> date:
        """`earliest_date` as a date (checked by `load_settings`)."""
        return date.fromisoformat(self.earliest_date)

    @property
    def revision_limits(self) -> "RevisionLimits":
        """The REVISION_* settings as the ingest rule takes them (imported here: revisions loads pandas)."""
        from gasforecast.revisions import RevisionLimits

        return RevisionLimits(max_change=self.revision_max_change, tolerance=self.revision_tolerance,
                              max_cells=self.revision_max_cells, max_share=self.revision_max_share,
                              max_age_days=self.revision_max_age_days)

    @property
    def curated_uri(self) -> str:
        return f"gs://{self.data_bucket}/{self.curated_object}"

    @property
    def monitoring_experiment(self) -> str:
        """MLflow experiment of the live track record's monitoring run (kept apart from training runs)."""
        return f"{self.mlflow_experiment}-monitoring"


_ENV_NAMES = {
    "project": "GOOGLE_CLOUD_PROJECT",
    "uploads_bucket": "UPLOADS_BUCKET",
    "data_bucket": "DATA_BUCKET",
    "artifact_bucket": "ARTIFACT_BUCKET",
    "retrain_topic": "RETRAIN_TOPIC",
    "mlflow_tracking_uri": "MLFLOW_TRACKING_URI",
    "mlflow_experiment": "MLFLOW_EXPERIMENT",
    "model_name": "MODEL_NAME",
    "champion_alias": "CHAMPION_ALIAS",
    "target_column": "TARGET_COLUMN",
    "target_unit": "TARGET_UNIT",
    "target_label": "TARGET_LABEL",
    "forecast_horizon_max": "FORECAST_HORIZON_MAX",
    "max_upload_bytes": "MAX_UPLOAD_BYTES",
    "max_columns": "MAX_COLUMNS",
    "earliest_date": "EARLIEST_DATE",
    "max_curated_columns": "MAX_CURATED_COLUMNS",
    "revision_max_change": "REVISION_MAX_CHANGE",
    "revision_tolerance": "REVISION_TOLERANCE",
    "revision_max_cells": "REVISION_MAX_CELLS",
    "revision_max_share": "REVISION_MAX_SHARE",
    "revision_max_age_days": "REVISION_MAX_AGE_DAYS",
    "backtest_horizons": "BACKTEST_HORIZONS",
    "nested_origins": "NESTED_ORIGINS",
    "nested_step_rows": "NESTED_STEP_ROWS",
    "training_window_years": "TRAINING_WINDOW_YEARS",
    "max_training_years": "MAX_TRAINING_YEARS",
    "max_drivers": "MAX_DRIVERS",
    "driver_publication_lags": "DRIVER_PUBLICATION_LAGS",
    "train_lock_wait_seconds": "TRAIN_LOCK_WAIT_SECONDS",
    "train_lock_ttl_seconds": "TRAIN_LOCK_TTL_SECONDS",
    "train_timeout_seconds": "TRAIN_TIMEOUT_SECONDS",
    "force_min_interval_seconds": "FORCE_MIN_INTERVAL_SECONDS",
    "champion_refresh_seconds": "CHAMPION_REFRESH_SECONDS",
    "history_days_default": "HISTORY_DAYS_DEFAULT",
    "stale_after_days": "STALE_AFTER_DAYS",
}


def env_names() -> dict[str, str]:
    """Field name → environment variable, for docs and for the local stack."""
    return dict(_ENV_NAMES)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from the environment; unset or empty variables keep their defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in fields(Settings):
        raw = environ.get(_ENV_NAMES[field.name], "").strip()
        if not raw:
            continue
        default = getattr(Settings, field.name)
        try:
            if isinstance(default, tuple):
                values[field.name] = _int_tuple(raw)
            elif isinstance(default, bool):
                values[field.name] = raw.lower() in {"1", "true", "yes"}
            elif isinstance(default, int):
                values[field.name] = int(raw)
            elif isinstance(default, float):
                values[field.name] = float(raw)
            else:
                values[field.name] = raw
        except ValueError as exc:
            raise ValueError(f"{_ENV_NAMES[field.name]}={raw!r} is not valid: {exc}") from exc
    settings = Settings(**values)
    if settings.forecast_horizon_max < max(settings.backtest_horizons):
        raise ValueError("FORECAST_HORIZON_MAX must be at least the largest backtest horizon")
    parse_lags(settings.driver_publication_lags)  # a bad declaration fails at start-up, not in a training
    if settings.train_lock_ttl_seconds <= 0 or settings.train_lock_wait_seconds < 0:
        raise ValueError("TRAIN_LOCK_TTL_SECONDS must be positive and TRAIN_LOCK_WAIT_SECONDS not negative")
    if settings.train_timeout_seconds <= settings.train_lock_ttl_seconds:
        raise ValueError("TRAIN_TIMEOUT_SECONDS must be longer than TRAIN_LOCK_TTL_SECONDS")
    try:
        settings.earliest
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
