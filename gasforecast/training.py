"""Retraining: from a retrain request to a registered, promoted model version.

Keyed for at-least-once delivery: the key is (dataset generation, training configuration). A key
already trained is acknowledged without a new run unless the request forces it. Training always
uses the *latest* curated dataset, so an older request is coalesced into the newest data. A GCS
lease serialises trainings, so concurrent deliveries yield one run per key and one writer of the
`champion` alias.

Promotion and model selection are one procedure (`forecasting.run_procedure`, docs/model.md): the
challenger selected on the new data replaces the current champion's configuration only with
significant out-of-sample evidence; what it decides, refitted on all the data, is registered and
becomes `champion`, with the nested figures of the procedure.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import gasforecast
from gasforecast import dataset, registry
from gasforecast.bundle import FORECAST_ARTIFACT, HISTORY_ARTIFACT, SCHEMA_VERSION
from gasforecast.config import Settings
from gasforecast.errors import TransientError
from gasforecast.lease import Lease, LeaseTimeout
from gasforecast.logs import get_logger
from gasforecast.messaging import RetrainRequest
from gasforecast.storage import Bucket, parse_gs_uri

if TYPE_CHECKING:  # statsmodels and friends load only when a training really runs
    from google.cloud import storage

    from gasforecast.forecasting import TrainingResult

log = get_logger(__name__)

KEY_TAG = "gasforecast.training_key"
CONFIG_TAG = "gasforecast.model_config"
VERSION_TAG = "gasforecast.registered_version"
LEASE_OBJECT = "locks/training.lease"
HISTORY_YEARS_SERVED = 5


@dataclass
class TrainOutcome:
    status: str  # "trained" | "duplicate" | "insufficient_history"
    key: str
    run_id: str | None = None
    version: str | None = None
    decision: str | None = None


def training_config(settings: Settings) -> dict:
    """Everything that changes what a training produces for the same data."""
    return {
        "code_version": gasforecast.__version__,
        "target": settings.target_column,
        "horizons": list(settings.backtest_horizons),
        "origins": settings.backtest_origins,
        "step_days": settings.backtest_step_days,
        "window_years": settings.training_window_years,
        "max_drivers": settings.max_drivers,
        "horizon_max": settings.forecast_horizon_max,
    }


def training_key(generation: int, settings: Settings) -> str:
    digest = hashlib.sha256(json.dumps(training_config(settings), sort_keys=True).encode()).hexdigest()[:12]
    return f"{generation}-{digest}"


def _procedure_settings(settings: Settings):
    from gasforecast.forecasting import ProcedureSettings

    return ProcedureSettings(
        horizons=tuple(settings.backtest_horizons),
        max_drivers=settings.max_drivers,
        window_years=settings.training_window_years or None,
    )


def handle_retrain(settings: Settings, request: RetrainRequest, storage_client: storage.Client, *,
                   message_id: str | None) -> TrainOutcome:
    """Train for `request` unless its key is done; raise `TransientError` when a dependency is down."""
    bucket_name, object_name = parse_gs_uri(request.dataset or settings.curated_uri)
    data_bucket = Bucket(storage_client, bucket_name)
    lease = Lease(Bucket(storage_client, settings.data_bucket), LEASE_OBJECT, settings.train_lock_ttl_seconds)
    try:
        lease.acquire(settings.train_lock_wait_seconds)
    except LeaseTimeout as exc:
        raise TransientError(str(exc)) from exc
    try:
        return _train_latest(settings, request, data_bucket, object_name, message_id)
    finally:
        lease.release()


def _train_latest(settings: Settings, request: RetrainRequest, data_bucket: Bucket, object_name: str,
                  message_id: str | None) -> TrainOutcome:
    curated = data_bucket.read(object_name)
    if curated is None:
        raise TransientError(f"{data_bucket.uri(object_name)} does not exist yet")
    key = training_key(curated.generation, settings)
    ids = {"message_id": message_id, "generation": curated.generation, "training_key": key}
    if request.generation and str(curated.generation) != request.generation:
        log.info("train.coalesced", requested_generation=request.generation, **ids)
    mlflow_client = registry.client(settings)
    done = registry.find_trained_run(mlflow_client, settings, KEY_TAG, key)
    if done is not None and not request.force:
        log.info("train.duplicate", run_id=done.info.run_id, model_version=done.data.tags.get(VERSION_TAG), **ids)
        return TrainOutcome("duplicate", key, done.info.run_id, done.data.tags.get(VERSION_TAG))
    started = time.monotonic()
    log.info("train.started", reason=request.reason, force=request.force, source=request.source, **ids)
    from gasforecast.forecasting import InsufficientHistory

    try:
        outcome = _fit_and_register(settings, request, data_bucket.uri(object_name), curated, key, message_id)
    except InsufficientHistory as exc:
        # Retrying cannot help; the next upload (or the hourly schedule) tries again with more data.
        log.warning("train.insufficient_history", error=str(exc), **ids)
        return TrainOutcome("insufficient_history", key)
    log.info(
        "train.finished", run_id=outcome.run_id, model_version=outcome.version, decision=outcome.decision,
        duration_s=round(time.monotonic() - started, 2), **ids,
    )
    return outcome


def _fit_and_register(settings: Settings, request: RetrainRequest, dataset_uri: str, curated, key: str,
                      message_id: str | None) -> TrainOutcome:
    import mlflow

    from gasforecast.forecasting import run_procedure
    from gasforecast.forecasting.plotting import plot_training

    target = settings.target_column
    frame, prep = dataset.training_frame(dataset.read_curated(curated.data), target)
    result = run_procedure(frame, target, _procedure_settings(settings),
                           champion=registry.champion_config(settings, CONFIG_TAG),
                           horizon=settings.forecast_horizon_max)
    winner, fitted, decision = result.config, result.forecast, result.decision.to_dict()

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    try:
        experiment = mlflow.set_experiment(settings.mlflow_experiment)
        with mlflow.start_run(experiment_id=experiment.experiment_id) as run:
            run_id = run.info.run_id
            forecast_doc = _forecast_document(settings, run_id, dataset_uri, curated, frame, result)
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                documents = {
                    FORECAST_ARTIFACT: forecast_doc,
                    HISTORY_ARTIFACT: _history_document(settings, frame),
                    "backtest.json": result.report.to_dict(),
                }
                for name, doc in documents.items():
                    (folder / name).write_text(json.dumps(doc, default=str), encoding="utf-8")
                # The model goes first: MLflow 3 links every metric already on the run to a newly
                # logged model, one request per metric, which would dominate the training time.
                version = registry.register_forecaster(settings, fitted.model, folder / FORECAST_ARTIFACT)
                plot_training(result, frame, target, str(folder / "backtest.png"))
                for name in (*documents, "backtest.png"):
                    mlflow.log_artifact(str(folder / name))
            _log_run(settings, request, dataset_uri, curated, key, message_id, prep, result)
            mlflow.set_tag(VERSION_TAG, version)
    except TransientError:
        raise
    except Exception as exc:
        if registry.is_unreachable(exc):
            raise TransientError(f"MLflow unreachable during training: {exc}") from exc
        raise
    registry.promote(settings, version, key)
    log.info("train.promoted", run_id=run_id, model_version=version, model=winner.label,
             decision=decision["decision"], challenger_score=decision["challenger_score"],
             champion_score=decision["champion_score"], training_key=key)
    return TrainOutcome("trained", key, run_id, version, decision["decision"])


def _safe_metric_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._-/" else "_" for c in label).strip("_")


def _log_run(settings, request, dataset_uri, curated, key, message_id, prep, result: TrainingResult) -> None:
    import mlflow

    winner, fitted, decision = result.config, result.forecast, result.decision
    mlflow.set_tags({
        KEY_TAG: key,
        CONFIG_TAG: json.dumps(winner.to_dict(), sort_keys=True),
        "trigger.reason": request.reason,
        "trigger.message_id": message_id or "",
        "trigger.source": request.source or "",
        "promotion.decision": decision.decision,
        "model.label": winner.label,
    })
    params = {
        "model_class": winner.model_class,
        "model_label": winner.label,
        "drivers": ",".join(winner.drivers) or "(none)",
        "transforms": fitted.transforms,
        "calendar": fitted.calendar,
        "train_start": fitted.train_start.date().isoformat(),
        "train_end": fitted.train_end.date().isoformat(),
        "dataset_uri": dataset_uri,
        "dataset_generation": str(curated.generation),
        "dataset_sha256": hashlib.sha256(curated.data).hexdigest(),
        "candidates": len(result.report.candidates),
        **{f"order.{k}": v for k, v in fitted.orders.items()},
        **{f"config.{k}": v for k, v in training_config(settings).items()},
        **{f"prep.{k}": v for k, v in prep.to_dict().items() if isinstance(v, (int, float, str))},
    }
    mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
    metrics: dict[str, float] = {}
    for label, per_horizon in result.report.metrics().items():
        prefix = "naive" if label == "naive" else f"candidate.{_safe_metric_name(label)}"
        for horizon, values in per_horizon.items():
            for name, value in values.items():
                if value == value:  # MLflow refuses NaN
                    metrics[f"{prefix}.h{horizon}.{name}"] = float(value)
    for name, value in (("score.challenger", decision.challenger_score), ("score.champion", decision.champion_score),
                        ("gate.p_value", decision.test.p_value if decision.test else None)):
        if value is not None and _finite(value) is not None:
            metrics[name] = float(value)
    evaluation = result.evaluation or {}
    for name in ("mae_ratio_to_naive", "coverage_80", "coverage_95", "interval_score_ratio"):
        for horizon, value in evaluation.get(name, {}).items():
            metrics[f"nested.h{horizon}.{name}"] = float(value)
    for name in ("mean_mae_ratio", "mean_coverage_80", "mean_coverage_95", "mean_interval_score_ratio"):
        if name in evaluation:
            metrics[f"nested.{name}"] = float(evaluation[name])
    mlflow.log_metrics(metrics)


def _finite(value: float) -> float | None:
    """JSON has no infinity: an unusable configuration's score is reported as null."""
    return None if value != value or value in (float("inf"), float("-inf")) else float(value)


def _iso_date(value) -> str:
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def _forecast_document(settings, run_id, dataset_uri, curated, frame, result: TrainingResult) -> dict:
    fitted, winner, report = result.forecast, result.config, result.report
    document = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "target": settings.target_column,
        "unit": settings.target_unit,
        "model": {
            "class": winner.model_class,
            "label": winner.label,
            "config": winner.to_dict(),
            "orders": fitted.orders,
            "drivers": list(winner.drivers),
            "transforms": fitted.transforms,
        },
        "data": {
            "uri": dataset_uri,
            "generation": str(curated.generation),
            "sha256": hashlib.sha256(curated.data).hexdigest(),
            "first_date": _iso_date(frame.index[0]),
            "last_date": _iso_date(frame.index[-1]),
            "rows": int(len(frame)),
            "calendar": fitted.calendar,
        },
        "training_window": {"start": _iso_date(fitted.train_start), "end": _iso_date(fitted.train_end)},
        "horizon_max": settings.forecast_horizon_max,
        "points": fitted.points_records(),
        "backtest": {
            "kind": "stretch",
            "horizons": list(report.horizons),
            "origins": report.stretch["origins"],
            "first_origin": report.stretch["first_origin"],
            "last_origin": report.stretch["last_origin"],
            "stretch": report.stretch,
            "selected": winner.label,
            "challenger": report.challenger,
            "baseline": "naive",
            "metrics": {label: {str(h): v for h, v in per_h.items()} for label, per_h in report.metrics().items()},
        },
        "promotion": result.decision.to_dict(),
    }
    if result.evaluation is not None:
        document["evaluation"] = result.evaluation
    return document


def _history_document(settings: Settings, frame) -> dict:
    recent = frame[settings.target_column].iloc[-HISTORY_YEARS_SERVED * 366:]
    return {
        "target": settings.target_column,
        "unit": settings.target_unit,
        "points": [{"date": _iso_date(d), "value": round(float(v), 4)} for d, v in recent.items()],
    }
