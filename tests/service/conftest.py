"""Fixtures for the service's unit tests (helpers live in service_fakes.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from service_fakes import FakeSource, ManualClock, make_bundle  # noqa: E402 (test helper module)

from gasforecast.platform.config import Settings
from service.app import create_app


# Names are prefixed: the session fixtures of tests/conftest.py (e.g. `settings`) must stay visible.
@pytest.fixture
def unit_settings() -> Settings:
    return Settings(champion_refresh_seconds=15.0, forecast_horizon_max=90)


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake_source() -> FakeSource:
    return FakeSource(make_bundle())


@pytest.fixture
def service_app(unit_settings: Settings, fake_source: FakeSource, manual_clock: ManualClock):
    return create_app(unit_settings, champion_source=fake_source, startup_timeout=5, clock=manual_clock)


@pytest.fixture
def service_client(service_app):
    return service_app.test_client()


class LiveService:
    """The service under gunicorn, as deployed, reading the champion from the real MLflow server."""

    def __init__(self, process, url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str, **kwargs):
        import requests

        return requests.get(self.url + path, timeout=10, **kwargs)


@pytest.fixture(scope="module")
def live_service(local_stack, champion, tmp_path_factory):
    """A gunicorn service of our own (its refresh interval is 1 s via the stack's settings).

    Not the stack's shared service: these tests stop MLflow and move the alias, and must see a
    process they started.
    """
    from devstack.processes import ManagedProcess, free_port, http_ok

    port = free_port()
    root = Path(__file__).resolve().parents[2]
    process = ManagedProcess(
        "service-under-test",
        [str(Path(sys.executable).parent / "gunicorn"), "--config", str(root / "service" / "gunicorn.conf.py"),
         "--bind", f"127.0.0.1:{port}", "service.app:create_app()"],
        env=local_stack.env,
        log_path=tmp_path_factory.mktemp("service") / "service.log",
        cwd=root,
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        process.await_ready(lambda: http_ok(f"{url}/readyz"), timeout=60)
        yield LiveService(process, url)
    finally:
        process.stop()
