"""MLflow as training uses it: one `Registry` per training, the only place that knows tag names.

It owns the settings, one `MlflowClient` and every tag the pipeline writes on runs and versions, and
it turns "MLflow is down" into `TransientError` (redelivery) instead of a hung or crashed function.
The service never imports this module, nor reaches MLflow: it reads what training publishes for it
(`gasforecast.publication.serving`).

Exactly one version per training key, crash or not: a version is created with its key, request and
configuration as tags *in the same request* (MLflow stores a version and its tags in one database
transaction), so whoever finds the version finds the key. The promotion state tag then says whether
the alias was moved; `gasforecast.training.retrain` resumes a pending version instead of registering again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from gasforecast.platform.config import Settings
from gasforecast.platform.errors import TransientError
from gasforecast.platform.logs import get_logger
from gasforecast.platform.messaging import RetrainRequest
from gasforecast.publication.bundle import OPTIONAL_ARTIFACTS, REQUIRED_ARTIFACTS, ForecastBundle
from gasforecast.publication.documents import TrackRecordDocument
from gasforecast.scoring.track_record import day_index, monitoring_metrics

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

log = get_logger(__name__)

VersionState = Literal["pending", "promoted"]
RunOutcome = Literal["registered", "refused"]

# MLflow's own limits (mlflow/utils/validation.py): longer names or values fail the whole request.
MAX_NAME_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
LABEL_LENGTH = 120  # a label inside a metric name leaves room for a prefix and a `.h30.coverage_95` suffix
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")

MODEL_CODE = Path(__file__).resolve().parent / "model_artifact.py"
MODEL_PIP_REQUIREMENTS = ["mlflow-skinny==3.17.2", "numpy==2.4.6", "pandas==3.1.1", "statsmodels==0.15.0",
                          "scipy==1.17.1"]

# The MLflow client's own HTTP retries (its default is 7 with exponential backoff: minutes). A short
# bounded retry rides out a blip; a longer outage (a restart) is Pub/Sub's job: the delivery fails
# fast and is redelivered with backoff (docs/operations.md#recovery has the arithmetic).
MLFLOW_HTTP_SETTINGS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
}


def quoted(value: str) -> str:
    """`value` as a string literal of MLflow's search filter language."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def safe_name(text: str, limit: int = LABEL_LENGTH) -> str:
    """`text` (a model label, hence column names) as a piece of an MLflow metric or param name:
    characters MLflow accepts everywhere, at most `limit` long; a cut name ends with a hash of the
    whole text, so two long labels never share a name."""
    cleaned = _UNSAFE.sub("_", text).strip("_") or "_"
    if len(cleaned) <= limit:
        return cleaned
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{cleaned[:limit - len(digest) - 1]}-{digest}"


def bounded(value: object, limit: int) -> str:
    """A param or tag value MLflow accepts: cut to `limit` characters, and says so."""
    text = str(value)
    if len(text) <= limit:
        return text
    marker = f"...(+{len(text) - limit} chars)"
    return text[:limit - len(marker)] + marker


@dataclass(frozen=True)
class KeyedVersion:
    """A registered version found (or created) for a training key."""

    version: str
    run_id: str
    state: VersionState
    key: str


@dataclass(frozen=True)
class ModelRef:
    """A model logged in a run, not registered yet."""

    uri: str
    model_id: str | None


@dataclass(frozen=True)
class RunRecord:
    """What a finished training writes on its run besides artifacts."""

    config: dict[str, Any]  # the winning configuration (ModelConfig.to_dict())
    model_label: str
    decision: str
    params: dict[str, object]
    metrics: dict[str, float]


T = TypeVar("T")


# MLflow's error codes (`MlflowException.error_code`) that mean "ask again later", not an answer.
UNAVAILABLE_CODES = frozenset({"TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})
# Codes of a request the server refused because what it names is not there (no model, no alias).
ABSENT_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
ALREADY_EXISTS_CODES = frozenset({"RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"})
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)


def _network_failure(exc: BaseException | None) -> bool:
    """Whether `exc` or an exception it was raised from is a failure to talk to the server at all."""
    import requests

    seen = 0
    while exc is not None and seen < 10:  # bounded: a cycle in the chain must not hang us
        if isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.RetryError, *_NETWORK_ERRORS)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def is_unreachable(exc: BaseException) -> bool:
    """True for errors that mean "MLflow is down or overloaded", as opposed to a real answer.

    Classified by `MlflowException.error_code` and by the exception chain, never by message text: the
    client wraps a refused connection or a timeout in an `MlflowException` raised from the requests
    error; a 502/503 without a JSON body arrives as TEMPORARILY_UNAVAILABLE or, from a server that
    answered with its own INTERNAL_ERROR, as a `RestException`.
    """
    from mlflow.exceptions import MlflowException, RestException

    if _network_failure(exc):
        return True
    if isinstance(exc, MlflowException):
        return exc.error_code in UNAVAILABLE_CODES or (isinstance(exc, RestException)
                                                       and exc.error_code == "INTERNAL_ERROR")
    return False


def error_code(exc: BaseException) -> str | None:
    """The MLflow error code of `exc` (None for anything that is not an `MlflowException`)."""
    from mlflow.exceptions import MlflowException

    return exc.error_code if isinstance(exc, MlflowException) else None


def _transient(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except TransientError:
            raise
        except Exception as exc:
            if is_unreachable(exc):
                raise TransientError(f"MLflow unreachable ({method.__name__}): {exc}") from exc
            raise
    return wrapper


class Registry:
    """The experiment, the registered model and the `champion` alias, for one training."""

    KEY_TAG = "gasforecast.training_key"  # run and version: (dataset generation, configuration)
    REQUEST_TAG = "gasforecast.forced_by"  # run and version: the message id of a forced retrain
    FORCED_AT_TAG = "gasforecast.forced_at"  # version: epoch seconds a forced retrain registered it
    CONFIG_TAG = "gasforecast.model_config"  # run and version: the winning configuration (JSON)
    STATE_TAG = "gasforecast.promotion_state"  # version: "pending" until the alias moved, then "promoted"
    VERSION_TAG = "gasforecast.registered_version"  # run: the version it registered
    OUTCOME_TAG = "gasforecast.outcome"  # run: "registered" or "refused" (failed promotion sanity)
    DECISION_TAG = "promotion.decision"  # run: the promotion gate's decision
    LABEL_TAG = "model.label"  # run
    TRIGGER_TAGS = ("trigger.reason", "trigger.message_id", "trigger.source")  # run
    MONITORING_TAG = "gasforecast.monitoring"  # the monitoring run of the live track record
    MONITORING_KEY_TAG = "track_record.training_key"  # monitoring run: the training that logged the latest record
    MONITORING_STATUS_TAG = "track_record.status"  # monitoring run: the latest record's status

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        for name, value in MLFLOW_HTTP_SETTINGS.items():
            os.environ.setdefault(name, value)  # read by MLflow per request; an operator's value wins
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow.tracking import MlflowClient

            uri = self.settings.mlflow_tracking_uri
            self._client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        return self._client

    # ---- lookups -----------------------------------------------------------------------------
    def _experiment(self) -> str | None:
        """The experiment's id, or None while it does not exist."""
        if self._experiment_id is None:
            experiment = self.client.get_experiment_by_name(self.settings.mlflow_experiment)
            if experiment is not None:
                self._experiment_id = experiment.experiment_id
        return self._experiment_id

    def _experiment_for_run(self) -> str:
        """The experiment's id, created on first use."""
        existing = self._experiment()
        if existing is not None:
            return existing
        self._experiment_id = self._create_experiment()
        return self._experiment_id

    def _create_experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.create_experiment(self.settings.mlflow_experiment)
        except MlflowException as exc:
            if error_code(exc) not in ALREADY_EXISTS_CODES:
                raise
            experiment = self.client.get_experiment_by_name(self.settings.mlflow_experiment)
            if experiment is None:  # created and deleted again meanwhile: a retry will sort it out
                raise
            return experiment.experiment_id

    @_transient
    def find_version(self, key: str, request_id: str | None) -> KeyedVersion | None:
        """The version registered for (`key`, `request_id`), or None.

        Should a retried HTTP request have created a second pending version for the same key, the
        extra one is deleted here: the oldest is kept, so every caller settles on the same version.
        """
        found = self.client.search_model_versions(
            f"name = {quoted(self.settings.model_name)} and tags.`{self.KEY_TAG}` = {quoted(key)}"
        )
        mine = sorted((v for v in found if v.tags.get(self.REQUEST_TAG) == request_id), key=lambda v: int(v.version))
        if not mine:
            return None
        for extra in mine[1:]:
            if extra.tags.get(self.STATE_TAG) == "pending" and not extra.aliases:
                self.client.delete_model_version(self.settings.model_name, extra.version)
                log.warning("registry.duplicate_version_deleted", model_version=extra.version,
                            kept_version=mine[0].version, training_key=key)
        kept = mine[0]
        state: VersionState = "pending" if kept.tags.get(self.STATE_TAG) == "pending" else "promoted"
        return KeyedVersion(version=str(kept.version), run_id=str(kept.run_id), state=state, key=key)

    @_transient
    def last_forced_at(self, key: str) -> float | None:
        """When a forced retrain last registered a version for `key` (epoch seconds), or None."""
        found = self.client.search_model_versions(
            f"name = {quoted(self.settings.model_name)} and tags.`{self.KEY_TAG}` = {quoted(key)}"
        )
        stamps = [float(v.tags[self.FORCED_AT_TAG]) for v in found
                  if v.tags.get(self.REQUEST_TAG) and v.tags.get(self.FORCED_AT_TAG, "").isdigit()]
        return max(stamps, default=None)

    def _runs(self, filter_string: str) -> list:
        experiment_id = self._experiment()
        if experiment_id is None:
            return []
        return self.client.search_runs([experiment_id], filter_string=filter_string, max_results=200)

    @_transient
    def find_refused_run(self, key: str, request_id: str | None) -> str | None:
        """The finished run that refused this key's bundle (sanity), or None."""
        runs = self._runs(f"tags.`{self.KEY_TAG}` = {quoted(key)} and tags.`{self.OUTCOME_TAG}` = 'refused' "
                          "and attributes.status = 'FINISHED'")
        refused = [r for r in runs if r.data.tags.get(self.REQUEST_TAG) == request_id]
        return refused[0].info.run_id if refused else None

    @_transient
    def close_abandoned_runs(self, keep_run_id: str | None = None) -> list[str]:
        """Mark training runs left RUNNING by a crashed trainer as FAILED (the caller holds the lease,
        so no other training is alive); `keep_run_id` is a pending version's run, finished later."""
        closed = []
        for run in self._runs("attributes.status = 'RUNNING'"):
            if self.KEY_TAG in run.data.tags and run.info.run_id != keep_run_id:
                self.client.set_terminated(run.info.run_id, status="FAILED")
                closed.append(run.info.run_id)
        return closed

    def _champion_version(self) -> Any:
        """The version the champion alias points at, or None without a champion."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version_by_alias(self.settings.model_name, self.settings.champion_alias)
        except MlflowException as exc:
            # No registered model yet (RESOURCE_DOES_NOT_EXIST), or no alias on it (INVALID_PARAMETER_VALUE).
            if error_code(exc) in ABSENT_CODES:
                return None
            raise

    @_transient
    def stranded_champion(self) -> KeyedVersion | None:
        """The champion if its promotion never finished: the alias moved, then its trainer died and
        no retry came back for its key (dead-lettered, or newer data changed the key). It is being
        served, so the next training finishes it (ledger entry, run, state)."""
        version = self._champion_version()
        if version is None or version.tags.get(self.STATE_TAG) != "pending":
            return None
        return KeyedVersion(version=str(version.version), run_id=str(version.run_id), state="pending",
                            key=version.tags.get(self.KEY_TAG, ""))

    def _keyed(self, version: Any) -> KeyedVersion:
        state: VersionState = "pending" if version.tags.get(self.STATE_TAG) == "pending" else "promoted"
        return KeyedVersion(version=str(version.version), run_id=str(version.run_id), state=state,
                            key=version.tags.get(self.KEY_TAG, ""))

    @_transient
    def champion(self) -> KeyedVersion | None:
        """The version the champion alias points at (what is served), or None without a champion."""
        version = self._champion_version()
        return None if version is None else self._keyed(version)

    @_transient
    def version(self, number: str) -> KeyedVersion:
        """Registered version `number` of the model (`MlflowException` when there is none)."""
        return self._keyed(self.client.get_model_version(self.settings.model_name, number))

    @_transient
    def champion_config(self) -> dict | None:
        """The configuration of the current champion, or None without a champion."""
        version = self._champion_version()
        if version is None:
            return None
        # Versions registered before the configuration was tagged on them carry it on their run only.
        text = version.tags.get(self.CONFIG_TAG) or self.client.get_run(str(version.run_id)).data.tags.get(self.CONFIG_TAG)
        return json.loads(text) if text else None

    # ---- a training run ------------------------------------------------------------------------
    @_transient
    def start_run(self, key: str, request_id: str | None, request: RetrainRequest, message_id: str | None) -> str:
        """Open the run, tagged with its key from the start (so a crashed one can be found and closed)."""
        tags = {
            self.KEY_TAG: key,
            self.TRIGGER_TAGS[0]: request.reason,
            self.TRIGGER_TAGS[1]: message_id or "",
            self.TRIGGER_TAGS[2]: request.source or "",
        }
        if request_id is not None:
            tags[self.REQUEST_TAG] = request_id
        run = self.client.create_run(self._experiment_for_run(),
                                     tags={k: bounded(v, MAX_TAG_VALUE_LENGTH) for k, v in tags.items()})
        return run.info.run_id

    @_transient
    def log_artifacts(self, run_id: str, paths: Sequence[Path]) -> None:
        for path in paths:
            self.client.log_artifact(run_id, str(path))

    @_transient
    def log_model(self, run_id: str, fitted_model: object | None, forecast_path: Path) -> ModelRef:
        """Log the model (code file + forecast + pickled statsmodels results) in the run, unregistered.

        Before any metric: MLflow 3 links every metric already on the run to a newly logged model,
        one request per metric, which would dominate the training time.
        """
        import mlflow
        from mlflow.models import Model

        mlflow.set_tracking_uri(self.settings.mlflow_tracking_uri)  # Model.log builds its own client
        with tempfile.TemporaryDirectory() as tmp:
            artifacts = {"forecast": str(forecast_path)}
            if fitted_model is not None:
                fitted_path = Path(tmp) / "fitted_model.pkl"
                fitted_path.write_bytes(pickle.dumps(fitted_model))
                artifacts["fitted_model"] = str(fitted_path)
            info = Model.log(
                artifact_path=None, name="model", flavor=mlflow.pyfunc, python_model=str(MODEL_CODE), artifacts=artifacts,
                pip_requirements=MODEL_PIP_REQUIREMENTS, run_id=run_id,
            )
        return ModelRef(uri=info.model_uri, model_id=getattr(info, "model_id", None))

    @_transient
    def record(self, run_id: str, record: RunRecord) -> None:
        """Tags, params and metrics of a trained run, in one batched call."""
        import time

        from mlflow.entities import Metric, Param, RunTag

        tags = {
            self.CONFIG_TAG: json.dumps(record.config, sort_keys=True),
            self.DECISION_TAG: record.decision,
            self.LABEL_TAG: record.model_label,
        }
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, float(v), now, 0) for k, v in record.metrics.items()],
            params=[Param(k, bounded(v, MAX_PARAM_VALUE_LENGTH)) for k, v in record.params.items()],
            tags=[RunTag(k, bounded(v, MAX_TAG_VALUE_LENGTH)) for k, v in tags.items()],
        )

    def _ensure_registered_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.create_registered_model(self.settings.model_name)
        except MlflowException as exc:
            if error_code(exc) not in ALREADY_EXISTS_CODES:
                raise

    @_transient
    def register(self, run_id: str, model: ModelRef, key: str, request_id: str | None,
                 config: dict[str, Any]) -> KeyedVersion:
        """Create the version with its key, request, configuration and "pending" state as tags of the
        creating request itself; return the key's version as `find_version` settles it."""
        self._ensure_registered_model()
        tags = {self.KEY_TAG: key, self.CONFIG_TAG: json.dumps(config, sort_keys=True), self.STATE_TAG: "pending"}
        if request_id is not None:
            tags[self.REQUEST_TAG] = request_id
            tags[self.FORCED_AT_TAG] = str(int(time.time()))  # whole seconds, never ahead of the clock
        self.client.create_model_version(self.settings.model_name, source=model.uri, run_id=run_id, tags=tags,
                                         model_id=model.model_id)
        settled = self.find_version(key, request_id)
        if settled is None:
            raise TransientError(f"version for training key {key} not visible after registration")
        return settled

    @_transient
    def load_bundle(self, version: KeyedVersion) -> ForecastBundle:
        """The bundle `version`'s run stored, as the service will serve it (the ledger records it, a
        resumed promotion or a rollback publishes it); optional documents when the run has them."""
        present = {artifact.path for artifact in self.client.list_artifacts(version.run_id)}
        names = (*REQUIRED_ARTIFACTS, *(name for name in OPTIONAL_ARTIFACTS if name in present))
        with tempfile.TemporaryDirectory() as tmp:
            texts = {name: Path(self.client.download_artifacts(version.run_id, name, tmp)).read_text(encoding="utf-8")
                     for name in names}
        return ForecastBundle.from_artifacts(texts, version=version.version)

    @_transient
    def log_track_record(self, document: TrackRecordDocument, training_key: str | None = None) -> str | None:
        """Append the live track record's aggregates to the monitoring run as time series (step = day
        index of the data); returns the run id, or None when nothing is scored yet.

        One long-lived run in its own experiment, found by tag, created on first use: the training holds
        the lease, so two trainings never race to create it. A training that already logged its record
        (the run's `MONITORING_KEY_TAG`) logs nothing more: a delivery retried after a crash scores the
        same ledger and data again. The tag is set after the metrics, so a crash in between can log one
        record twice, never lose one.
        """
        from mlflow.entities import Metric

        if document.data_through is None:
            return None
        name = self.settings.monitoring_experiment
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        runs = self.client.search_runs([experiment_id], filter_string=f"tags.`{self.MONITORING_TAG}` = 'track_record'",
                                       order_by=["attributes.start_time ASC"], max_results=1)
        if runs:
            run_id = runs[0].info.run_id
            if training_key is not None and runs[0].data.tags.get(self.MONITORING_KEY_TAG) == training_key:
                return run_id
        else:
            run_id = self.client.create_run(experiment_id, run_name="live-track-record",
                                            tags={self.MONITORING_TAG: "track_record"}).info.run_id
        step = day_index(document.data_through)
        stamp = int(time.time() * 1000)
        metrics = [Metric(key, value, stamp, step) for key, value in sorted(monitoring_metrics(document).items())]
        self.client.log_batch(run_id, metrics=metrics)
        self.client.set_tag(run_id, self.MONITORING_STATUS_TAG, document.status)
        if training_key is not None:
            self.client.set_tag(run_id, self.MONITORING_KEY_TAG, training_key)
        return run_id

    @_transient
    def promote(self, version: str) -> None:
        """Point the champion alias at `version` (the caller holds the training lease: one writer)."""
        self.client.set_registered_model_alias(self.settings.model_name, self.settings.champion_alias, version)

    @_transient
    def finish_run(self, run_id: str, outcome: RunOutcome, version: str | None = None) -> None:
        self.client.set_tag(run_id, self.OUTCOME_TAG, outcome)
        if version is not None:
            self.client.set_tag(run_id, self.VERSION_TAG, version)
        self.client.set_terminated(run_id, status="FINISHED")

    @_transient
    def mark_promoted(self, version: str) -> None:
        """The last step of a training: a retry that finds this tag has nothing left to do."""
        self.client.set_model_version_tag(self.settings.model_name, version, self.STATE_TAG, "promoted")
