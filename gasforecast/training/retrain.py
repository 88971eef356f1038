"""Retraining: from a retrain request to a registered, promoted model version.

Keyed for at-least-once delivery: the key is (dataset generation, training configuration), and a
forced request is keyed by its message id too. A key already trained is acknowledged without a new
run. Training always uses the *latest* curated dataset, so an older request is coalesced into the
newest data. A storage lease serialises trainings, so concurrent deliveries yield one run per key and
one writer of the `champion` alias.

Exactly one version per key, crash or not (docs/model.md#exactly-one-version-per-training-key): the
run is tagged with its key when it opens, the version when it is created, and the last step marks
the version promoted. A retry closes runs a crashed trainer left RUNNING, finishes a version that was
registered but not promoted, and registers only when the key has no version at all; any training
first finishes a served champion whose promotion was cut short and whose own retry never came.

The live track record (docs/track-record.md): every training scores the forecast ledger against the
curated data and ships the result with its run as `track_record.json`; promoting a version records
its forecast in the ledger, once, before the version is marked promoted, so a retry repairs a crash.

Promotion and model selection are one procedure (`forecasting.run_procedure`, docs/model.md): the
challenger selected on the new data replaces the current champion's configuration only with
significant out-of-sample evidence; what it decides, refitted on all the data, is registered and
becomes `champion` with the nested figures of the procedure — unless its bundle fails promotion
sanity (`gasforecast.publication.sanity`), in which case nothing is registered and the old champion stays. The
same holds when the level guard (`sanity.level_guard`) finds the forecast too far from the served
champion's; only a forced retrain (an explicit operator action) promotes such a forecast, and logs it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import ValidationError

import gasforecast
from gasforecast.ingestion import dataset
from gasforecast.ingestion.series import UndeclaredSeries, declared_ids, series_settings
from gasforecast.platform.config import Settings, parse_lags
from gasforecast.platform.errors import TransientError
from gasforecast.platform.logs import get_logger
from gasforecast.platform.messaging import Publisher, RetrainRequest, make_publisher, publish_retrain
from gasforecast.platform.storage import Bucket, ObjectStore, StoredObject, parse_gs_uri
from gasforecast.publication import sanity, serving
from gasforecast.publication.bundle import (
    FORECAST_ARTIFACT,
    HISTORY_ARTIFACT,
    TRACK_RECORD_ARTIFACT,
    ForecastBundle,
    is_finite_number,
)
from gasforecast.publication.documents import (
    POINT_FIELDS,
    Backtest,
    Calendar,
    DataInfo,
    Decision,
    Evaluation,
    ForecastDocument,
    ForecastPoint,
    HistoryDocument,
    HistoryPoint,
    ModelInfo,
    Sanity,
    SeriesDeclaration,
    TrainingWindow,
)
from gasforecast.scoring import ledger, track_record
from gasforecast.training.lease import Lease
from gasforecast.training.registry import KeyedVersion, Registry, RunRecord, safe_name

if TYPE_CHECKING:  # pandas, statsmodels and friends load only when a training really runs
    import pandas as pd
    from google.cloud import storage

    from gasforecast.forecasting import Assessment, FittedForecast, ModelConfig, ProcedureSettings
    from gasforecast.ingestion.dataset import PrepReport
    from gasforecast.ingestion.series_calendar import MarketHolidays

log = get_logger(__name__)

LEASE_OBJECT = Settings().lease_object  # the default series' (each series has its own)
EVIDENCE_ARTIFACT = "evidence.json"  # every candidate's ratios to naive on the evaluation stretch
CHART_ARTIFACT = "forecast.png"
HISTORY_YEARS_SERVED = 5

TrainStatus = Literal["trained", "resumed", "duplicate", "refused", "insufficient_history", "override_refused",
                      "undeclared_series"]


@dataclass(frozen=True)
class TrainOutcome:
    """What one delivery did: trained (or resumed a crashed training), nothing (duplicate, the record
    of a refused override, an undeclared series), or acknowledged without a version (refused by
    promotion sanity, too little history)."""

    status: TrainStatus
    key: str  # the training key; empty when the message asked for no training
    run_id: str | None = None
    version: str | None = None
    decision: str | None = None


@dataclass(frozen=True)
class ForecastResult:
    """What the forecasting procedure hands over for recording and promotion."""

    report: Assessment  # every candidate's evidence on the evaluation stretch
    winner: ModelConfig  # the configuration the gate decided to serve
    fitted: FittedForecast
    decision: dict[str, Any]  # the gate's decision with its numbers (`Decision.to_dict()`)
    evaluation: dict[str, Any] | None  # the nested figures (forecast.json `evaluation`)
    chart_png: bytes  # the served forecast and the candidates' evidence, logged with the run
    distribution: dict[str, Any] | None = None  # the predictive distribution's experts and weights (model card)


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


# (settings, training frame, champion's configuration, the market's holidays) → what is served
Forecaster = Callable[[Settings, "pd.DataFrame", "dict | None", "MarketHolidays"], ForecastResult]


def training_config(settings: Settings) -> dict:
    """Everything that changes what a training produces for the same data."""
    return {
        "code_version": gasforecast.__version__,
        "target": settings.target_column,
        "horizons": list(settings.backtest_horizons),
        "nested_origins": settings.nested_origins,
        "nested_step_rows": settings.nested_step_rows,
        "window_years": settings.training_window_years,
        "max_drivers": settings.max_drivers,
        "horizon_max": settings.forecast_horizon_max,
    }


def training_key(generation: int, settings: Settings) -> str:
    digest = hashlib.sha256(json.dumps(training_config(settings), sort_keys=True).encode()).hexdigest()[:12]
    return f"{generation}-{digest}"


def procedure_settings(settings: Settings) -> ProcedureSettings:
    from gasforecast.forecasting import ProcedureSettings

    return ProcedureSettings(
        horizons=tuple(settings.backtest_horizons),
        max_drivers=settings.max_drivers,
        window_years=settings.training_window_years or None,
        nested_origins=settings.nested_origins,
        nested_step=settings.nested_step_rows,
    )


def run_forecasting(settings: Settings, frame: pd.DataFrame, champion_config: dict | None,
                    holidays: MarketHolidays) -> ForecastResult:
    """The one call into the forecasting package: the training procedure (selection, the gate against
    the champion's configuration, calibrated intervals, nested figures, dates that skip `holidays`),
    then its chart."""
    from gasforecast.forecasting import run_procedure
    from gasforecast.forecasting.plotting import plot_training

    target = settings.target_column
    result = run_procedure(frame, target, procedure_settings(settings), champion=champion_config,
                           horizon=settings.forecast_horizon_max, holidays=holidays)
    with tempfile.TemporaryDirectory() as tmp:
        chart_path = Path(tmp) / "chart.png"
        plot_training(result, frame, target, str(chart_path), label=settings.target_label, unit=settings.target_unit)
        chart_png = chart_path.read_bytes()
    return ForecastResult(result.report, result.config, result.forecast, result.decision.to_dict(),
                          result.evaluation, chart_png, result.distribution.to_dict())


def handle_retrain(settings: Settings, request: RetrainRequest, storage_client: storage.Client, *,
                   message_id: str | None, registry: Registry | None = None,
                   publisher: Publisher | None = None) -> TrainOutcome:
    """Train the series `request` names unless its key is done (the hourly tick: fanned out to the
    declared series, then the default series); raise `TransientError` when a dependency is down."""
    data_bucket = Bucket(storage_client, settings.data_bucket)
    if request.fans_out:
        fan_out(settings, request, data_bucket, publisher, message_id=message_id)
    try:
        settings = series_settings(data_bucket, settings, request.series)
    except UndeclaredSeries as exc:  # retrying cannot declare it: acknowledged
        log.warning("train.series_undeclared", series=request.series, error=str(exc), message_id=message_id)
        return TrainOutcome("undeclared_series", "")
    bucket_name, object_name = parse_gs_uri(request.dataset or settings.curated_uri)
    places = TrainingPlaces(Bucket(storage_client, bucket_name), object_name, data_bucket,
                            registry or Registry(settings))
    return train(settings, request, places, message_id=message_id)


def fan_out(settings: Settings, request: RetrainRequest, data_bucket: ObjectStore, publisher: Publisher | None, *,
            message_id: str | None) -> list[str]:
    """Publish the hourly tick once per declared series; the tick's own delivery then trains the
    default series, exactly as before series existed (no message and no client when none is declared).

    Why: each series then trains in its own delivery, under its own key and lease, in parallel on as
    many instances as there are messages, and a failing series is retried (or dead-lettered) alone.
    They are published before the default series trains; a failed publish raises `TransientError`, and
    the redelivered tick publishes again (the repeats are duplicates of trained keys).
    """
    declared = declared_ids(data_bucket)
    if not declared:
        return []
    publisher = publisher or make_publisher()
    published = [publish_retrain(publisher, settings.project, settings.retrain_topic,
                                 dataclasses.replace(request, series=name, dataset=None)) for name in declared]
    log.info("train.fanned_out", series=declared, message_ids=published, reason=request.reason,
             message_id=message_id)
    return published


@dataclass(frozen=True)
class TrainingPlaces:
    """Where a training reads and writes; the unit tests pass in-memory buckets and registries.

    `dataset_bucket` holds the curated object the request names; `data_bucket` (DATA_BUCKET) holds
    the training lease, the forecast ledger and the serving pointer; `forecaster` fits and forecasts.
    """

    dataset_bucket: ObjectStore
    curated_object: str
    data_bucket: ObjectStore
    registry: Registry
    forecaster: Forecaster = run_forecasting


def train(settings: Settings, request: RetrainRequest, places: TrainingPlaces, *,
          message_id: str | None) -> TrainOutcome:
    """`handle_retrain` on any buckets and registry."""
    if request.refused is not None:  # an operator's refused override, published for this log line only
        log.warning("train.override_refused", override=request.override, refused=request.refused,
                    source=request.source, reason=request.reason, message_id=message_id)
        return TrainOutcome("override_refused", "")
    lease = Lease(places.data_bucket, settings.lease_object, settings.train_lock_ttl_seconds)
    with lease.held(settings.train_lock_wait_seconds, max_hold_seconds=settings.train_timeout_seconds):
        return _train_latest(settings, request, places, lease, message_id)


def _train_latest(settings: Settings, request: RetrainRequest, places: TrainingPlaces, lease: Lease,
                  message_id: str | None) -> TrainOutcome:
    dataset_bucket, object_name = places.dataset_bucket, places.curated_object
    data_bucket, registry = places.data_bucket, places.registry
    curated = dataset_bucket.read(object_name)
    if curated is None:
        raise TransientError(f"{dataset_bucket.uri(object_name)} does not exist yet")
    key = training_key(curated.generation, settings)
    request_id = message_id if request.force else None  # a forced retrain is its own key, once per message
    ids = {"message_id": message_id, "generation": curated.generation, "training_key": key}
    if request.generation and str(curated.generation) != request.generation:
        log.info("train.coalesced", requested_generation=request.generation, **ids)

    if request.override:
        log.warning("train.override", override=request.override, reason=request.reason, source=request.source,
                    **ids)
    existing = registry.find_version(key, request_id)
    if request_id is not None and existing is None:
        request_id, existing = _limit_forced(settings, registry, key, request_id, request, ids)
    _finish_stranded_champion(registry, data_bucket, lease, existing, ids)
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
        outcome = _promote(registry, data_bucket, lease, existing, "resumed", None)
    else:
        refused = registry.find_refused_run(key, request_id)
        if refused is not None:
            log.info("train.duplicate", run_id=refused, refused=True, **ids)
            return TrainOutcome("duplicate", key, refused)
        log.info("train.started", reason=request.reason, force=request.force, source=request.source, **ids)
        from gasforecast.forecasting import InsufficientHistory

        observed = dataset.read_curated(curated.data)
        frame, prep = dataset.training_frame(observed, settings.target_column,
                                             declared_lags=parse_lags(settings.driver_publication_lags),
                                             max_years=settings.max_training_years)
        try:
            result = places.forecaster(settings, frame, registry.champion_config(), prep.market_holidays())
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


def _limit_forced(settings: Settings, registry: Registry, key: str, request_id: str, request: RetrainRequest,
                  ids: dict) -> tuple[str | None, KeyedVersion | None]:
    """Rate-limit forced retrains per training key: a publisher may not mint promoted versions at will.

    Within FORCE_MIN_INTERVAL_SECONDS of the key's last forced version the message is trained as an
    ordinary one (usually a duplicate of the key's version). Both outcomes are warnings, counted by the
    alert metric. Returns the request id and existing version to go on with.
    """
    last = registry.last_forced_at(key)
    if last is not None and settings.force_min_interval_seconds > 0 and \
            time.time() - last < settings.force_min_interval_seconds:
        log.warning("train.force_limited", last_forced_at=last, min_interval_s=settings.force_min_interval_seconds,
                    reason=request.reason, **ids)
        return None, registry.find_version(key, None)
    log.warning("train.forced", reason=request.reason, source=request.source, **ids)
    return request_id, None


def _record_and_register(training: TrainingRun, registry: Registry, data_bucket: ObjectStore, lease: Lease,
                         request_id: str | None, ids: dict[str, Any]) -> TrainOutcome:
    """Log the run's bundle, track record, model, params and metrics; register and promote unless
    sanity refuses."""
    result, run_id, settings = training.result, training.run_id, training.settings
    history_doc = history_document(training)
    unjudged = forecast_document(training)
    points = [point.to_json_dict() for point in unjudged.points]
    verdict = sanity.check(points, (p.value for p in history_doc.points))
    level = _level_guard(registry, points, request_id is not None, ids) if verdict.servable else None
    judged = {**verdict.to_dict(), **({"level_guard": level.to_dict()} if level is not None else {})}
    forecast_doc = unjudged.model_copy(update={"sanity": Sanity.model_validate(judged)})
    held = level is not None and not level.passed
    track = track_record.score_served_forecasts(data_bucket, training.observed, target=settings.target_column,
                                                unit=settings.target_unit, horizons=settings.backtest_horizons, ids=ids,
                                                area=settings.area("forecasts"))
    model = None
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        texts = {FORECAST_ARTIFACT: forecast_doc.model_dump_json(by_alias=True),
                 HISTORY_ARTIFACT: history_doc.model_dump_json(by_alias=True),
                 TRACK_RECORD_ARTIFACT: track.model_dump_json(by_alias=True),
                 EVIDENCE_ARTIFACT: json.dumps(result.report.to_dict(), default=str)}
        for name, text in texts.items():
            (folder / name).write_text(text, encoding="utf-8")
        (folder / CHART_ARTIFACT).write_bytes(result.chart_png)
        registry.log_artifacts(run_id, [folder / name for name in (*texts, CHART_ARTIFACT)])
        if verdict.servable and not held:  # the model goes before any metric (see Registry.log_model)
            model = registry.log_model(run_id, result.fitted.model, folder / FORECAST_ARTIFACT)
    registry.record(run_id, run_record(training))
    registry.log_track_record(track, training.key)
    if model is None:
        registry.finish_run(run_id, "refused")
        # Retrying cannot fix the bundle: acknowledge; the served champion stays as it is.
        reasons = list(verdict.reasons) + list(level.reasons if level is not None else ())
        log.error("train.promotion_refused", run_id=run_id, model=result.winner.label, reasons=reasons,
                  guard="level" if held else "sanity", sanity=judged, **ids)
        return TrainOutcome("refused", training.key, run_id, None, result.decision["decision"])
    lease.ensure_held()  # a lease broken under us means another trainer may be registering
    version = registry.register(run_id, model, training.key, request_id, result.winner.to_dict())
    # The bundle as just logged: promoting needs no download of what this process wrote.
    bundle = ForecastBundle.from_artifacts(texts, version=version.version)
    return _promote(registry, data_bucket, lease, version, "trained", result.decision["decision"], bundle)


def _level_guard(registry: Registry, points: list[dict[str, Any]], forced: bool,
                 ids: dict[str, Any]) -> sanity.LevelReport:
    """The level guard against the served champion (docs/model.md#promotion-sanity). Without a
    champion, or with one whose bundle cannot be read, it does not apply (logged); a forced retrain
    (an explicit operator action) is judged but not held, and says so in the log."""
    champion = registry.champion()
    champion_points = None
    if champion is not None:
        try:
            served = registry.load_bundle(champion).forecast.points
        except TransientError:
            raise  # MLflow down: retry rather than promote unguarded
        except Exception as exc:  # noqa: BLE001 - an unreadable bundle is not a reason to stop training
            log.warning("train.level_guard_skipped", champion_version=champion.version,
                        note=f"the champion's bundle cannot be read ({type(exc).__name__}: {exc}): "
                             "the level guard does not apply", **ids)
            return sanity.LevelReport(applies=False, passed=True, reasons=(), step=None, challenger_mean=None,
                                      champion_mean=None, log_shift=None, champion_half_width=None, shift_ratio=None,
                                      champion_version=champion.version,
                                      note="the champion's bundle cannot be read: the level guard does not apply")
        champion_points = [point.to_json_dict() for point in served]
    report = sanity.level_guard(points, champion_points, champion.version if champion is not None else None)
    if not report.applies:
        log.info("train.level_guard_skipped", champion_version=report.champion_version, note=report.note, **ids)
    elif not report.passed and forced:
        log.warning("train.level_guard_overridden", reasons=list(report.reasons), level_guard=report.to_dict(), **ids)
        report = dataclasses.replace(report, passed=True, reasons=(), overridden=True,
                                     note="held by the level guard, promoted by a forced retrain: "
                                          + "; ".join(report.reasons))
    return report


def _promote(registry: Registry, data_bucket: ObjectStore, lease: Lease, version: KeyedVersion,
             status: TrainStatus, decision: str | None, bundle: ForecastBundle | None = None) -> TrainOutcome:
    """Move the alias, record the served forecast in the ledger (created once: a retry finds it), finish
    the run, mark the version promoted: each step repeatable by a retry."""
    lease.ensure_held()
    registry.promote(version.version)
    bundle = _complete_promotion(registry, data_bucket, version, bundle)
    promotion = bundle.forecast.promotion
    decision = decision or (promotion.decision if promotion is not None else None)  # a resumed promotion's too
    log.info("train.promoted", run_id=version.run_id, model_version=version.version,
             model=bundle.forecast.model.label, decision=decision, training_key=version.key)
    return TrainOutcome(status, version.key, version.run_id, version.version, decision)


def _finish_stranded_champion(registry: Registry, data_bucket: ObjectStore, lease: Lease,
                              existing: KeyedVersion | None, ids: dict[str, Any]) -> None:
    """Finish a served champion whose promotion was cut short under another key (this key's own
    pending version is resumed by the caller): its forecast was public, so it belongs in the ledger."""
    stranded = registry.stranded_champion()
    if stranded is None or (existing is not None and stranded.version == existing.version):
        return
    lease.ensure_held()
    stranded_ids: dict[str, Any] = {"stranded_version": stranded.version, "stranded_run_id": stranded.run_id,
                                    "stranded_key": stranded.key, **ids}
    try:
        _complete_promotion(registry, data_bucket, stranded)
    except ValueError as exc:
        # An unreadable bundle cannot enter the ledger; it must not stop every training after it.
        log.error("train.promotion_completion_failed", error=str(exc), **stranded_ids)
    else:
        log.warning("train.promotion_completed", **stranded_ids)


def _complete_promotion(registry: Registry, data_bucket: ObjectStore, version: KeyedVersion,
                        bundle: ForecastBundle | None = None) -> ForecastBundle:
    """What follows the alias move: the served forecast into the ledger and published for the service
    (`gasforecast.publication.serving`), the run finished, the version marked promoted (last, so a version marked
    promoted always has its ledger entry and its serving pointer). `bundle` is the version's own when
    the caller just logged it; otherwise (a resumed or stranded promotion) it is read back from the
    version's run."""
    bundle = bundle or registry.load_bundle(version)
    layout = serving.layout_for(registry.settings)
    ledger.record_served_forecast(data_bucket, bundle, version.key, area=registry.settings.area("forecasts"))
    serving.publish(data_bucket, bundle, serving.ChampionPointer(version.version, version.run_id), layout=layout)
    registry.finish_run(version.run_id, "registered", version.version)
    registry.mark_promoted(version.version)
    return bundle


def roll_back(settings: Settings, data_bucket: ObjectStore, registry: Registry, version: str) -> KeyedVersion:
    """Serve an earlier registered `version` again: the alias and the serving pointer both move to it,
    under the training lease (so no promotion interleaves). It lasts until a training promotes anew."""
    lease = Lease(data_bucket, settings.lease_object, settings.train_lock_ttl_seconds)
    with lease.held(settings.train_lock_wait_seconds):
        target = registry.version(version)
        registry.promote(target.version)
        serving.publish(data_bucket, registry.load_bundle(target), serving.ChampionPointer(target.version, target.run_id),
                        rollback=True, layout=serving.layout_for(settings))
    log.warning("train.rolled_back", model_version=target.version, run_id=target.run_id, training_key=target.key)
    return target


def run_record(training: TrainingRun) -> RunRecord:
    """The run's params and metrics; every name built from a label (hence from column names) goes
    through `safe_name`, so no column can make MLflow refuse the run."""
    result, settings = training.result, training.settings
    winner, fitted, decision = result.winner, result.fitted, result.decision
    params = {
        "model_class": winner.model_class,
        "model_label": winner.label,
        "drivers": ",".join(winner.drivers) or "(none)",
        "transforms": fitted.transforms,
        "calendar": fitted.calendar,
        "train_start": fitted.train_start.date().isoformat(),
        "train_end": fitted.train_end.date().isoformat(),
        "dataset_uri": training.dataset_uri,
        "dataset_generation": str(training.curated.generation),
        "dataset_sha256": training.dataset_sha256,
        "candidates": len(result.report.candidates),
        **{f"order.{safe_name(str(k))}": v for k, v in fitted.orders.items()},
        **{f"config.{k}": v for k, v in training_config(settings).items()},
        **{f"prep.{k}": v for k, v in training.prep.to_dict().items() if isinstance(v, (int, float, str))},
    }
    metrics: dict[str, float] = {}
    for label, per_horizon in result.report.metrics().items():
        prefix = "naive" if label == "naive" else f"candidate.{safe_name(label)}"
        for horizon, values in per_horizon.items():
            for name, value in values.items():
                if is_finite_number(value):  # MLflow refuses NaN
                    metrics[f"{prefix}.h{horizon}.{safe_name(str(name))}"] = float(value)
    test = decision.get("test") or {}
    for name, figure in (("score.challenger", decision.get("challenger_score")),
                         ("score.champion", decision.get("champion_score")), ("gate.p_value", test.get("p_value"))):
        if is_finite_number(figure):
            metrics[name] = float(figure)
    evaluation = result.evaluation or {}
    for name in ("mae_ratio_to_naive", "coverage_80", "coverage_95", "interval_score_ratio", "crps_ratio"):
        for horizon, value in (evaluation.get(name) or {}).items():
            if value is not None:
                metrics[f"nested.h{horizon}.{name}"] = float(value)
    for name in ("mean_mae_ratio", "mean_coverage_80", "mean_coverage_95", "mean_interval_score_ratio",
                 "mean_crps_ratio"):
        if evaluation.get(name) is not None:
            metrics[f"nested.{name}"] = float(evaluation[name])
    return RunRecord(config=winner.to_dict(), model_label=winner.label, decision=decision["decision"],
                     params=params, metrics=metrics)


def _iso_date(value: Any) -> str:
    return value.date().isoformat() if hasattr(value, "date") else str(value)


def _forecast_points(records: list[dict[str, Any]]) -> list[ForecastPoint]:
    """The fitted forecast's points, validated. A forecast with a non-finite value cannot be a valid
    document; promotion sanity refuses it, so its points are kept as computed (unvalidated) for the refusal
    to judge and for the refused run to log (a non-finite value is written as null); it is never served."""
    try:
        return [ForecastPoint.model_validate(record, strict=False) for record in records]
    except ValidationError:
        return [ForecastPoint.model_construct(**{name: record[name] for name in POINT_FIELDS}) for record in records]


def forecast_document(training: TrainingRun) -> ForecastDocument:
    """forecast.json (docs/api.md#bundle), without `sanity`, which is judged on this very document."""
    settings, result, frame = training.settings, training.result, training.frame
    winner, fitted, report = result.winner, result.fitted, result.report
    return ForecastDocument(
        run_id=training.run_id,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        target=settings.target_column,
        unit=settings.target_unit,
        model=ModelInfo.model_validate({"class": winner.model_class, "label": winner.label,
                                        "config": winner.to_dict(), "orders": fitted.orders,
                                        "drivers": list(winner.drivers), "transforms": fitted.transforms}),
        data=DataInfo(uri=training.dataset_uri, generation=str(training.curated.generation),
                      sha256=training.dataset_sha256, first_date=_iso_date(frame.index[0]),
                      last_date=_iso_date(frame.index[-1]), rows=int(len(frame)),
                      calendar=cast(Calendar, fitted.calendar)),
        training_window=TrainingWindow(start=_iso_date(fitted.train_start), end=_iso_date(fitted.train_end)),
        horizon_max=settings.forecast_horizon_max,
        points=_forecast_points(fitted.points_records()),
        backtest=Backtest.model_validate({
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
        }, strict=False),
        promotion=Decision.model_validate(result.decision, strict=False),
        evaluation=Evaluation.model_validate(result.evaluation, strict=False) if result.evaluation is not None else None,
        distribution=result.distribution,
        series=SeriesDeclaration.declared(settings, settings.target_unit),
    )


def served_history(target: pd.Series) -> pd.Series:
    """The stretch of the target history.json carries (and promotion sanity judges the band by)."""
    return target.iloc[-HISTORY_YEARS_SERVED * 366:]


def history_document(training: TrainingRun) -> HistoryDocument:
    settings = training.settings
    recent = served_history(training.frame[settings.target_column])
    return HistoryDocument(target=settings.target_column, unit=settings.target_unit,
                           points=[HistoryPoint(date=_iso_date(d), value=round(float(v), 4)) for d, v in recent.items()])
