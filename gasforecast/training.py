"""Retraining: from a retrain request to a registered, promoted model version.

Keyed for at-least-once delivery: the key is (dataset generation, training configuration), and a
forced request is keyed by its message id too. A key already trained is acknowledged without a new
run. Training always uses the *latest* curated dataset, so an older request is coalesced into the
newest data. A storage lease serialises trainings, so concurrent deliveries yield one run per key and
one writer of the `champion` alias.

Exactly one version per key, crash or not (docs/model.md#exactly-one-version-per-training-key): the
run is tagged with its key when it opens, the version when it is created, and the last step marks
the version promoted. A retry closes runs a crashed trainer left RUNNING, finishes a version that was
registered but not promoted, and registers only when the key has no version at all.

The live track record (docs/track-record.md): every training scores the forecast ledger against the
curated data and ships the result with its run as `track_record.json`; promoting a version records
its forecast in the ledger, once, before the version is marked promoted, so a retry repairs a crash.

Promotion compares configurations, not stale fits: the challenger selected on the new data and the
current champion's configuration are backtested on the same windows of that data; the winner,
refitted on all of it, is registered and becomes `champion` — unless its bundle fails promotion
sanity (`gasforecast.sanity`), in which case nothing is registered and the old champion stays.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

import gasforecast
from gasforecast import dataset, ledger, sanity, track_record
from gasforecast.bundle import FORECAST_ARTIFACT, HISTORY_ARTIFACT, SCHEMA_VERSION, TRACK_RECORD_ARTIFACT
from gasforecast.config import Settings
from gasforecast.errors import TransientError
from gasforecast.lease import Lease
from gasforecast.logs import get_logger
from gasforecast.messaging import RetrainRequest
from gasforecast.registry import KeyedVersion, Registry, RunRecord, safe_name
from gasforecast.storage import Bucket, ObjectStore, StoredObject, parse_gs_uri

if TYPE_CHECKING:  # pandas, statsmodels and friends load only when a training really runs
    import pandas as pd
    from google.cloud import storage

    from gasforecast.dataset import PrepReport
    from gasforecast.forecasting import BacktestReport, FittedForecast, ModelConfig, Selection

log = get_logger(__name__)

LEASE_OBJECT = "locks/training.lease"
HISTORY_YEARS_SERVED = 5

TrainStatus = Literal["trained", "resumed", "duplicate", "refused", "insufficient_history"]


@dataclass(frozen=True)
class TrainOutcome:
    """What one delivery did: trained (or resumed a crashed training), nothing (duplicate), or
    acknowledged without a version (refused by promotion sanity, too little history)."""

    status: TrainStatus
    key: str
    run_id: str | None = None
    version: str | None = None
    decision: str | None = None


@dataclass(frozen=True)
class ForecastResult:
    """What the forecasting procedure hands over for recording and promotion."""

    selection: Selection
    report: BacktestReport  # the selection's report, or the challenger-vs-champion one
    winner: ModelConfig
    fitted: FittedForecast
    decision: dict[str, Any]
    backtest_png: bytes  # the backtest plot, logged with the run


@dataclass(frozen=True)
class TrainingRun:
    """Everything one training knows once the model is fitted and its MLflow run is open."""

    settings: Settings
    request: RetrainRequest
    message_id: str | None
    key: str
    dataset_uri: str
    curated: StoredObject
    observed: pd.DataFrame  # the curated data as read: only observed prices, what the track record scores against
    frame: pd.DataFrame  # the training frame (calendar-aligned, gaps filled)
    prep: PrepReport
    result: ForecastResult
    run_id: str

    @property
    def dataset_sha256(self) -> str:
        return hashlib.sha256(self.curated.data).hexdigest()


Forecaster = Callable[[Settings, "pd.DataFrame", "dict | None"], ForecastResult]


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


def decide_promotion(challenger: ModelConfig, champion: ModelConfig | None,
                     report: BacktestReport) -> tuple[ModelConfig, dict]:
    """Pick the configuration to refit and serve: the challenger only when it scores strictly better
    than the champion's configuration on the same backtest windows (`report` must hold both).

    Returns the winning configuration and the decision with its numbers, as logged on the run.
    """
    challenger_score = report.score(challenger.label)
    decision = {"challenger": challenger.label, "champion": None, "challenger_score": challenger_score,
                "champion_score": None, "decision": "first_champion", "reason": "no champion yet"}
    if champion is None:
        return challenger, decision
    champion_score = report.score(champion.label)
    decision.update(champion=champion.label, champion_score=champion_score)
    if champion == challenger:
        decision.update(decision="promoted", reason="the challenger has the champion's configuration; refitted on the new data")
        return challenger, decision
    if challenger_score < champion_score:
        decision.update(decision="promoted", reason="the challenger's backtest score is lower (better) on the same windows")
        return challenger, decision
    decision.update(decision="kept_champion_config",
                    reason="the champion's configuration is at least as good on the same windows; refitted on the new data")
    return champion, decision


def run_forecasting(settings: Settings, frame: pd.DataFrame, champion_config: dict | None) -> ForecastResult:
    """The one call into the forecasting package: select a challenger, gate it against the champion's
    configuration on the same windows, refit the winner on all the data, plot the backtest."""
    from gasforecast.forecasting import (
        BacktestSettings,
        ModelConfig,
        compare_configs,
        fit_forecast,
        plot_backtest,
        select_model,
    )

    target = settings.target_column
    backtest_settings = BacktestSettings(
        horizons=tuple(settings.backtest_horizons),
        origins=settings.backtest_origins,
        step_days=settings.backtest_step_days,
        max_drivers=settings.max_drivers,
        window_years=settings.training_window_years or None,
    )
    selection = select_model(frame, target, backtest_settings)
    champion = ModelConfig.from_dict(champion_config) if champion_config else None
    report = selection.report
    if champion is not None and champion != selection.best:
        report = compare_configs(frame, target, [selection.best, champion], backtest_settings)
    winner, decision = decide_promotion(selection.best, champion, report)
    fitted = fit_forecast(frame, target, winner, settings.forecast_horizon_max, calibration=report)
    with tempfile.TemporaryDirectory() as tmp:
        plot_path = Path(tmp) / "backtest.png"
        plot_backtest(report, frame, target, str(plot_path))
        backtest_png = plot_path.read_bytes()
    return ForecastResult(selection, report, winner, fitted, decision, backtest_png)


def handle_retrain(settings: Settings, request: RetrainRequest, storage_client: storage.Client, *,
                   message_id: str | None, registry: Registry | None = None) -> TrainOutcome:
    """Train for `request` unless its key is done; raise `TransientError` when a dependency is down."""
    bucket_name, object_name = parse_gs_uri(request.dataset or settings.curated_uri)
    return train(settings, request, Bucket(storage_client, bucket_name), object_name,
                 Bucket(storage_client, settings.data_bucket), registry or Registry(settings), message_id=message_id)


def train(settings: Settings, request: RetrainRequest, dataset_bucket: ObjectStore, object_name: str,
          data_bucket: ObjectStore, registry: Registry, *, message_id: str | None,
          forecaster: Forecaster = run_forecasting) -> TrainOutcome:
    """`handle_retrain` on any buckets and registry (the unit tests pass in-memory ones).

    `dataset_bucket` holds the curated object the request names; `data_bucket` (DATA_BUCKET) holds
    the training lease and the forecast ledger.
    """
    lease = Lease(data_bucket, LEASE_OBJECT, settings.train_lock_ttl_seconds)
    with lease.held(settings.train_lock_wait_seconds):
        return _train_latest(settings, request, dataset_bucket, object_name, data_bucket, registry, lease, message_id,
                             forecaster)


def _train_latest(settings: Settings, request: RetrainRequest, dataset_bucket: ObjectStore, object_name: str,
                  data_bucket: ObjectStore, registry: Registry, lease: Lease, message_id: str | None,
                  forecaster: Forecaster) -> TrainOutcome:
    curated = dataset_bucket.read(object_name)
    if curated is None:
        raise TransientError(f"{dataset_bucket.uri(object_name)} does not exist yet")
    key = training_key(curated.generation, settings)
    request_id = message_id if request.force else None  # a forced retrain is its own key, once per message
    ids = {"message_id": message_id, "generation": curated.generation, "training_key": key}
    if request.generation and str(curated.generation) != request.generation:
        log.info("train.coalesced", requested_generation=request.generation, **ids)

    existing = registry.find_version(key, request_id)
    pending_run = existing.run_id if existing is not None and existing.state == "pending" else None
    closed = registry.close_abandoned_runs(keep_run_id=pending_run)
    if closed:
        log.warning("train.abandoned_runs_closed", run_ids=closed, **ids)
    started = time.monotonic()
    if existing is not None and existing.state == "promoted":
        log.info("train.duplicate", run_id=existing.run_id, model_version=existing.version, **ids)
        return TrainOutcome("duplicate", key, existing.run_id, existing.version)
    if existing is not None:  # registered by a delivery that crashed before it finished promoting
        log.warning("train.resumed", run_id=existing.run_id, model_version=existing.version, **ids)
        outcome = _promote(registry, data_bucket, lease, existing, key, "resumed", None)
    else:
        refused = registry.find_refused_run(key, request_id)
        if refused is not None:
            log.info("train.duplicate", run_id=refused, refused=True, **ids)
            return TrainOutcome("duplicate", key, refused)
        log.info("train.started", reason=request.reason, force=request.force, source=request.source, **ids)
        from gasforecast.forecasting import InsufficientHistory

        observed = dataset.read_curated(curated.data)
        frame, prep = dataset.training_frame(observed, settings.target_column)
        try:
            result = forecaster(settings, frame, registry.champion_config())
        except InsufficientHistory as exc:
            # Retrying cannot help; the next upload (or the hourly schedule) tries again with more data.
            log.warning("train.insufficient_history", error=str(exc), **ids)
            return TrainOutcome("insufficient_history", key)
        run_id = registry.start_run(key, request_id, request, message_id)
        training = TrainingRun(settings, request, message_id, key, dataset_bucket.uri(object_name), curated, observed,
                               frame, prep, result, run_id)
        outcome = _record_and_register(training, registry, data_bucket, lease, request_id, ids)
    if outcome.status != "refused":
        log.info("train.finished", status=outcome.status, run_id=outcome.run_id, model_version=outcome.version,
                 decision=outcome.decision, duration_s=round(time.monotonic() - started, 2), **ids)
    return outcome


def _record_and_register(training: TrainingRun, registry: Registry, data_bucket: ObjectStore, lease: Lease,
                         request_id: str | None, ids: dict[str, Any]) -> TrainOutcome:
    """Log the run's bundle, track record, model, params and metrics; register and promote unless
    sanity refuses."""
    result, run_id, settings = training.result, training.run_id, training.settings
    history_doc = history_document(training)
    forecast_doc = forecast_document(training)
    verdict = sanity.check(forecast_doc["points"], (p["value"] for p in history_doc["points"]))
    forecast_doc["sanity"] = verdict.to_dict()
    track = track_record.score_served_forecasts(data_bucket, training.observed, target=settings.target_column,
                                                unit=settings.target_unit, horizons=settings.backtest_horizons, ids=ids)
    model = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        documents = {FORECAST_ARTIFACT: forecast_doc, HISTORY_ARTIFACT: history_doc, TRACK_RECORD_ARTIFACT: track,
                     "backtest.json": result.report.to_dict()}
        for name, doc in documents.items():
            (folder / name).write_text(json.dumps(doc, default=str), encoding="utf-8")
        (folder / "backtest.png").write_bytes(result.backtest_png)
        registry.log_artifacts(run_id, [folder / name for name in (*documents, "backtest.png")])
        if verdict.servable:  # the model goes before any metric (see Registry.log_model)
            model = registry.log_model(run_id, result.fitted.model, folder / FORECAST_ARTIFACT)
    registry.record(run_id, run_record(training))
    registry.log_track_record(track, training.key)
    if model is None:
        registry.finish_run(run_id, "refused")
        # Retrying cannot fix the bundle: acknowledge; the served champion stays as it is.
        log.error("train.promotion_refused", run_id=run_id, model=result.winner.label, reasons=list(verdict.reasons),
                  sanity=verdict.to_dict(), **ids)
        return TrainOutcome("refused", training.key, run_id, None, result.decision["decision"])
    lease.ensure_held()  # a lease broken under us means another trainer may be registering
    version = registry.register(run_id, model, training.key, request_id, result.winner.to_dict())
    return _promote(registry, data_bucket, lease, version, training.key, "trained", result.decision["decision"])


def _promote(registry: Registry, data_bucket: ObjectStore, lease: Lease, version: KeyedVersion, key: str,
             status: TrainStatus, decision: str | None) -> TrainOutcome:
    """Move the alias, record the served forecast in the ledger (created once: a retry finds it), finish
    the run, mark the version promoted: each step repeatable by a retry."""
    lease.ensure_held()
    registry.promote(version.version)
    ledger.record_served_forecast(data_bucket, registry.load_bundle(version), key)
    registry.finish_run(version.run_id, "registered", version.version)
    registry.mark_promoted(version.version)
    log.info("train.promoted", run_id=version.run_id, model_version=version.version, decision=decision,
             training_key=key)
    return TrainOutcome(status, key, version.run_id, version.version, decision)


def run_record(training: TrainingRun) -> RunRecord:
    """The run's params and metrics; every name built from a label (hence from column names) goes
    through `safe_name`, so no column can make MLflow refuse the run."""
    result, settings = training.result, training.settings
    winner, fitted, decision, report = result.winner, result.fitted, result.decision, result.report
    params = {
        "model_class": winner.model_class,
        "model_label": winner.label,
        "drivers": ",".join(winner.drivers) or "(none)",
        "transforms": fitted.transforms,
        "train_start": fitted.train_start.date().isoformat(),
        "train_end": fitted.train_end.date().isoformat(),
        "dataset_uri": training.dataset_uri,
        "dataset_generation": str(training.curated.generation),
        "dataset_sha256": training.dataset_sha256,
        "candidates": len(result.selection.candidates),
        **{f"order.{safe_name(str(k))}": v for k, v in fitted.orders.items()},
        **{f"config.{k}": v for k, v in training_config(settings).items()},
        **{f"prep.{k}": v for k, v in training.prep.to_dict().items() if isinstance(v, (int, float, str))},
    }
    metrics: dict[str, float] = {}

    def add(prefix: str, per_horizon: dict) -> None:
        for horizon, values in per_horizon.items():
            for name, value in values.items():
                if value is not None and value == value:  # MLflow refuses NaN
                    metrics[f"{prefix}.h{horizon}.{safe_name(str(name))}"] = float(value)

    for label, per_horizon in result.selection.report.metrics().items():
        add("naive" if label == "naive" else f"candidate.{safe_name(label)}", per_horizon)
    gate = report.metrics()
    add("model", gate[winner.label])
    if decision["champion"] is not None and decision["champion"] != decision["challenger"]:
        add("champion_config", gate[decision["champion"]])
    for label, score in ((decision["challenger"], decision["challenger_score"]),
                         (decision["champion"], decision["champion_score"])):
        if label is not None and score is not None and score != float("inf"):
            metrics[f"score.{safe_name(label)}"] = float(score)
    metrics["selected.score"] = float(report.score(winner.label))
    return RunRecord(config=winner.to_dict(), model_label=winner.label, decision=decision["decision"],
                     params=params, metrics=metrics)


def _finite(value: float) -> float | None:
    """JSON has no infinity: an unusable configuration's score is reported as null."""
    return None if value != value or value in (float("inf"), float("-inf")) else float(value)


def _iso_date(value) -> str:
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def forecast_document(training: TrainingRun) -> dict:
    """forecast.json (docs/api.md#bundle), without `sanity`, which is judged on this very document."""
    settings, result, frame = training.settings, training.result, training.frame
    winner, fitted, report = result.winner, result.fitted, result.report
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": training.run_id,
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
            "uri": training.dataset_uri,
            "generation": str(training.curated.generation),
            "sha256": training.dataset_sha256,
            "first_date": _iso_date(frame.index[0]),
            "last_date": _iso_date(frame.index[-1]),
            "rows": int(len(frame)),
        },
        "training_window": {"start": _iso_date(fitted.train_start), "end": _iso_date(fitted.train_end)},
        "horizon_max": settings.forecast_horizon_max,
        "points": fitted.points_records(),
        "backtest": {
            "horizons": list(report.horizons),
            "origins": len(report.origins),
            "first_origin": _iso_date(report.origins[0]) if len(report.origins) else None,
            "last_origin": _iso_date(report.origins[-1]) if len(report.origins) else None,
            "selected": winner.label,
            "baseline": "naive",
            "metrics": {label: {str(h): v for h, v in per_h.items()} for label, per_h in report.metrics().items()},
            "scores": {label: _finite(report.score(label)) for label in report.metrics()},
        },
        "promotion": {k: _finite(v) if isinstance(v, float) else v for k, v in result.decision.items()},
    }


def history_document(training: TrainingRun) -> dict:
    settings = training.settings
    recent = training.frame[settings.target_column].iloc[-HISTORY_YEARS_SERVED * 366:]
    return {
        "target": settings.target_column,
        "unit": settings.target_unit,
        "points": [{"date": _iso_date(d), "value": round(float(v), 4)} for d, v in recent.items()],
    }
