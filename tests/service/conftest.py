"""Fixtures for the service's unit tests (helpers live in service_fakes.py)."""

from __future__ import annotations

import pytest
from service_fakes import FakeSource, ManualClock, make_bundle  # noqa: E402 (test helper module)

from gasforecast.config import Settings
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
