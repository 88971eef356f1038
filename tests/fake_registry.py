"""An in-memory MLflow for the fast unit layer: the real `Registry` logic on a fake client.

`FakeMlflowClient` implements the few `MlflowClient` calls `gasforecast.training.registry.Registry` makes, with
MLflow's own validation of names and values and its search filters (the `and`-joined equalities the
registry uses), so the training-key, duplicate and exactly-once logic runs without a server.
`crash_after` makes a named call raise `InjectedCrash` *after* its effect is stored: the process
"died" between that step and the next one. tests/train/test_train_registry_real.py runs the same
scenario on the real server, so the fake cannot drift far from what MLflow does.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import requests
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS, RESOURCE_DOES_NOT_EXIST
from mlflow.utils.validation import _validate_batch_log_data, _validate_tag

from gasforecast.platform.config import Settings
from gasforecast.training.registry import ModelRef, Registry


class InjectedCrash(BaseException):
    """The trainer died here. A BaseException, so no `except Exception` in the code can swallow it."""


@dataclass
class FakeRunInfo:
    run_id: str
    experiment_id: str
    status: str = "RUNNING"


@dataclass
class FakeRunData:
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    history: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # metric -> [(step, value)]


@dataclass
class FakeRun:
    info: FakeRunInfo
    data: FakeRunData = field(default_factory=FakeRunData)
    artifacts: dict[str, bytes] = field(default_factory=dict)


@dataclass
class FakeVersion:
    name: str
    version: str
    run_id: str
    source: str
    tags: dict[str, str]
    aliases: list[str] = field(default_factory=list)


@dataclass
class FakeExperiment:
    experiment_id: str
    name: str


_CLAUSE = re.compile(r"^\s*(?P<lhs>name|attributes\.status|tags\.`(?P<tag>[^`]+)`)\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'\s*$")


def _matches(filter_string: str, name: str | None, status: str | None, tags: dict[str, str]) -> bool:
    for clause in filter_string.split(" and "):
        match = _CLAUSE.match(clause)
        if match is None:
            raise MlflowException(f"fake client cannot parse filter clause {clause!r}", INVALID_PARAMETER_VALUE)
        value = re.sub(r"\\(.)", r"\1", match["value"])
        actual = {"name": name, "attributes.status": status}.get(match["lhs"]) if not match["tag"] else tags.get(match["tag"])
        if actual != value:
            return False
    return True


class FakeMlflowClient:
    """The `MlflowClient` subset the registry uses, in memory, thread-safe, with injectable faults."""

    def __init__(self) -> None:
        self.experiments: dict[str, FakeExperiment] = {}
        self.runs: dict[str, FakeRun] = {}
        self.versions: dict[str, list[FakeVersion]] = {}
        self.aliases: dict[tuple[str, str], str] = {}
        self.crash_after: dict[str, int] = {}  # call name -> crash after the Nth call from now (1 = next)
        self.crash_after_write: int | None = None  # crash after the Nth call that changes anything
        self.writes: list[str] = []  # the calls that changed something, in order
        self.unreachable: int = 0  # how many next calls fail as if the server were down
        self.duplicate_creates = False  # create_model_version stores two versions (a retried POST)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # ---- fault injection -------------------------------------------------------------------
    def _enter(self, call: str) -> None:
        if self.unreachable:
            self.unreachable -= 1
            raise requests.ConnectionError(f"injected: MLflow unreachable during {call}")

    def _after(self, call: str) -> None:
        self.writes.append(call)
        if self.crash_after_write is not None and len(self.writes) == self.crash_after_write:
            raise InjectedCrash(f"crashed right after write {len(self.writes)} ({call})")
        left = self.crash_after.get(call)
        if left is not None:
            if left <= 1:
                del self.crash_after[call]
                raise InjectedCrash(f"crashed right after {call}")
            self.crash_after[call] = left - 1

    # ---- experiments and runs ----------------------------------------------------------------
    def get_experiment_by_name(self, name: str) -> FakeExperiment | None:
        self._enter("get_experiment_by_name")
        return next((e for e in self.experiments.values() if e.name == name), None)

    def create_experiment(self, name: str) -> str:
        self._enter("create_experiment")
        with self._lock:
            if any(e.name == name for e in self.experiments.values()):
                raise MlflowException(f"experiment {name} exists", RESOURCE_ALREADY_EXISTS)
            experiment = FakeExperiment(str(next(self._ids)), name)
            self.experiments[experiment.experiment_id] = experiment
        self._after("create_experiment")
        return experiment.experiment_id

    def create_run(self, experiment_id: str, tags: dict[str, str] | None = None, run_name: str | None = None) -> FakeRun:
        self._enter("create_run")
        tags = {**(tags or {}), **({"mlflow.runName": run_name} if run_name else {})}
        for key, value in tags.items():
            _validate_tag(key, value)
        run = FakeRun(FakeRunInfo(f"run{next(self._ids):04d}", experiment_id), FakeRunData(tags=tags))
        self.runs[run.info.run_id] = run
        self._after("create_run")
        return run

    def get_run(self, run_id: str) -> FakeRun:
        self._enter("get_run")
        if run_id not in self.runs:
            raise MlflowException(f"run {run_id} not found", RESOURCE_DOES_NOT_EXIST)
        return self.runs[run_id]

    def search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: int = 1000,
                    order_by: list[str] | None = None) -> list[FakeRun]:
        self._enter("search_runs")
        if order_by not in (None, ["attributes.start_time ASC"]):  # runs are kept in creation order
            raise MlflowException(f"fake client cannot order by {order_by}", INVALID_PARAMETER_VALUE)
        found = [r for r in self.runs.values() if r.info.experiment_id in experiment_ids
                 and _matches(filter_string, None, r.info.status, r.data.tags)]
        return found[:max_results]

    def set_tag(self, run_id: str, key: str, value: str) -> None:
        self._enter("set_tag")
        _validate_tag(key, value)
        self.get_run(run_id).data.tags[key] = value
        self._after("set_tag")

    def set_terminated(self, run_id: str, status: str = "FINISHED") -> None:
        self._enter("set_terminated")
        self.get_run(run_id).info.status = status
        self._after("set_terminated")

    def log_batch(self, run_id: str, metrics=(), params=(), tags=()) -> None:
        self._enter("log_batch")
        _validate_batch_log_data(list(metrics), list(params), list(tags))
        data = self.get_run(run_id).data
        data.metrics.update({m.key: m.value for m in metrics})
        for m in metrics:
            data.history.setdefault(m.key, []).append((m.step, m.value))
        data.params.update({p.key: p.value for p in params})
        data.tags.update({t.key: t.value for t in tags})
        self._after("log_batch")

    def log_artifact(self, run_id: str, local_path: str) -> None:
        self._enter("log_artifact")
        path = Path(local_path)
        self.get_run(run_id).artifacts[path.name] = path.read_bytes()
        self._after("log_artifact")

    def list_artifacts(self, run_id: str) -> list[SimpleNamespace]:
        self._enter("list_artifacts")
        return [SimpleNamespace(path=name, is_dir=False) for name in sorted(self.get_run(run_id).artifacts)]

    def download_artifacts(self, run_id: str, path: str, dst_path: str) -> str:
        self._enter("download_artifacts")
        data = self.get_run(run_id).artifacts.get(path)
        if data is None:
            raise MlflowException(f"run {run_id} has no artifact {path}", RESOURCE_DOES_NOT_EXIST)
        local = Path(dst_path) / path
        local.write_bytes(data)
        return str(local)

    # ---- registry ----------------------------------------------------------------------------
    def create_registered_model(self, name: str) -> None:
        self._enter("create_registered_model")
        with self._lock:
            if name in self.versions:
                raise MlflowException(f"model {name} exists", RESOURCE_ALREADY_EXISTS)
            self.versions[name] = []
        self._after("create_registered_model")

    def create_model_version(self, name: str, source: str, run_id: str, tags: dict[str, str] | None = None,
                             model_id: str | None = None) -> FakeVersion:
        self._enter("create_model_version")
        with self._lock:
            versions = self.versions[name]
            for _ in range(2 if self.duplicate_creates else 1):
                version = FakeVersion(name, str(len(versions) + 1), run_id, source, dict(tags or {}))
                versions.append(version)
        self._after("create_model_version")
        return version

    def search_model_versions(self, filter_string: str) -> list[FakeVersion]:
        self._enter("search_model_versions")
        with self._lock:
            everything = [v for versions in self.versions.values() for v in versions]
            found = [v for v in everything if _matches(filter_string, v.name, None, v.tags)]
            for version in found:
                version.aliases = [a for (model, a), v in self.aliases.items() if model == version.name and v == version.version]
            return found

    def delete_model_version(self, name: str, version: str) -> None:
        self._enter("delete_model_version")
        with self._lock:
            self.versions[name] = [v for v in self.versions[name] if v.version != version]
        self._after("delete_model_version")

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._enter("set_model_version_tag")
        self._version(name, version).tags[key] = value
        self._after("set_model_version_tag")

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self._enter("set_registered_model_alias")
        self._version(name, version)
        self.aliases[(name, alias)] = version
        self._after("set_registered_model_alias")

    def get_model_version_by_alias(self, name: str, alias: str) -> FakeVersion:
        self._enter("get_model_version_by_alias")
        if (name, alias) not in self.aliases:
            raise MlflowException(f"Registered model alias {alias} not found.", INVALID_PARAMETER_VALUE)
        return self._version(name, self.aliases[(name, alias)])

    def get_model_version(self, name: str, version: str) -> FakeVersion:
        self._enter("get_model_version")
        return self._version(name, version)

    def _version(self, name: str, version: str) -> FakeVersion:
        for candidate in self.versions.get(name, []):
            if candidate.version == version:
                return candidate
        raise MlflowException(f"version {version} of {name} not found", RESOURCE_DOES_NOT_EXIST)

    # ---- what a test asserts on ----------------------------------------------------------------
    def model_versions(self, name: str) -> list[FakeVersion]:
        return list(self.versions.get(name, []))

    def champion(self, name: str, alias: str = "champion") -> str | None:
        return self.aliases.get((name, alias))

    def training_runs(self) -> list[FakeRun]:
        """The runs trainings opened (tagged with their key), without the long-lived monitoring run."""
        return [r for r in self.runs.values() if Registry.KEY_TAG in r.data.tags]


class MemoryRegistry(Registry):
    """The real `Registry` on a `FakeMlflowClient`; only logging the model file is stubbed (it needs
    MLflow's artifact store), as a call that stores a model reference and can crash like the others."""

    def __init__(self, settings: Settings | None = None, client: FakeMlflowClient | None = None) -> None:
        super().__init__(settings or Settings())
        self.fake = client or FakeMlflowClient()
        self._client = self.fake  # type: ignore[assignment]

    def log_model(self, run_id: str, fitted_model: object | None, forecast_path: Path) -> ModelRef:
        model_id = f"m-{run_id}"
        self.fake.get_run(run_id).artifacts["model/forecast.json"] = forecast_path.read_bytes()
        self.fake._after("log_model")
        return ModelRef(uri=f"models:/{model_id}", model_id=model_id)
