"""Several series from one service: discovery, per-series routes, the overview, bounds and hostile ids."""

from __future__ import annotations

import pytest
from openapi_check import validate_response
from service_fakes import FakeSource, make_bundle

from gasforecast.ingestion.series import SeriesDefinition
from gasforecast.platform.config import DEFAULT_SERIES, Settings
from gasforecast.publication.serving import ServingLayout, layout_for, published_series
from service.app import create_app
from tests.fakes import MemoryBucket


class FakeSeries:
    """The other series' sources, as the data bucket's serving areas would list them."""

    def __init__(self, **sources: FakeSource) -> None:
        self.sources = dict(sources)
        self.extra_ids: list[str] = []
        self.failure: Exception | None = None

    def list_series(self) -> list[str]:
        if self.failure:
            raise self.failure
        return [DEFAULT_SERIES, *self.sources, *self.extra_ids]

    def source(self, series: str) -> FakeSource:
        return self.sources[series]


@pytest.fixture
def spot_source() -> FakeSource:
    return FakeSource(make_bundle(version="7", run_id="run-spot", level=30.0, calendar="daily"))


@pytest.fixture
def series(spot_source) -> FakeSeries:
    return FakeSeries(**{"de-spot": spot_source})


@pytest.fixture
def app(unit_settings, fake_source, manual_clock, series):
    app = create_app(unit_settings, champion_source=fake_source, series_sources=series, startup_timeout=5,
                     clock=manual_clock)
    assert app.extensions["series_catalog"].wait_idle(10)
    return app


@pytest.fixture
def client(app):
    return app.test_client()


def test_the_series_list_names_each_series_its_champion_and_its_routes(client):
    response = client.get("/api/v1/series")
    assert response.status_code == 200
    listed = {s["id"]: s for s in response.get_json()["series"]}
    assert list(listed) == ["default", "de-spot"]
    assert listed["de-spot"]["model_version"] == "7" and listed["default"]["model_version"] == "1"
    assert listed["de-spot"]["api"] == "/api/v1/series/de-spot" and listed["de-spot"]["page"] == "/series/de-spot"
    assert listed["default"]["api"] == "/api/v1" and listed["default"]["page"] == "/"
    validate_response(client.get("/api/v1/openapi.json").get_json(), "/api/v1/series", 200, response.get_json())


@pytest.mark.parametrize("name", ["forecast", "history", "track-record", "model"])
def test_each_series_answers_from_its_own_champion(client, name):
    own = client.get(f"/api/v1/series/de-spot/{name}")
    default = client.get(f"/api/v1/{name}")
    assert own.status_code == default.status_code == 200
    assert own.headers["X-Model-Version"] == "7" and default.headers["X-Model-Version"] == "1"
    assert own.data != default.data
    canonical = client.get(f"/api/v1/series/default/{name}?format=json" if name != "model" else f"/api/v1/series/default/{name}")
    assert canonical.status_code == 308, "the default series' answers have one address"
    assert canonical.headers["Location"].split("?")[0].endswith(f"/api/v1/{name}")
    openapi = client.get("/api/v1/openapi.json").get_json()
    validate_response(openapi, f"/api/v1/series/{{series}}/{name}", 200, own.get_json())


def test_a_series_download_is_named_after_the_series(client):
    response = client.get("/api/v1/series/de-spot/forecast?horizon=5&format=csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="de-spot-forecast-5-v7.csv"'


@pytest.mark.parametrize("hostile", ["nope", "DE-SPOT", "../default", "x" * 300, "de_spot", "%3Cscript%3E"])
def test_an_unknown_or_unsafe_series_is_a_404_that_says_where_the_list_is(client, hostile):
    response = client.get(f"/api/v1/series/{hostile}/forecast")
    assert response.status_code == 404
    message = response.get_json()["error"]["message"]
    assert "/api/v1/series" in message or "no such resource" in message
    assert "<script>" not in response.get_data(as_text=True)
    assert client.get(f"/series/{hostile}").status_code == 404


def test_the_series_page_links_to_its_own_api(client):
    page = client.get("/series/de-spot").get_data(as_text=True)
    assert 'href="/api/v1/series/de-spot/forecast?format=csv"' in page
    assert 'href="/api/v1/forecast?format=csv"' not in page
    assert 'href="?window=1y#chart-heading"' in page, "the window switch stays on the series' own page"
    assert client.get("/series/de-spot?window=1y").data != client.get("/series/de-spot").data


def test_the_front_page_is_an_overview_once_there_are_several_series(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/series/de-spot"' in page and 'href="/series/default"' in page
    assert page.count('class="spark"') == 2


def test_with_the_default_series_alone_the_front_page_is_its_page(unit_settings, fake_source, manual_clock):
    app = create_app(unit_settings, champion_source=fake_source, series_sources=FakeSeries(), startup_timeout=5,
                     clock=manual_clock)
    assert app.extensions["series_catalog"].wait_idle(10)
    client = app.test_client()
    assert client.get("/").data == client.get("/series/default").data
    assert [s["id"] for s in client.get("/api/v1/series").get_json()["series"]] == ["default"]


def test_a_new_series_joins_loaded_and_a_vanished_one_leaves(app, client, series, manual_clock, unit_settings):
    catalog = app.extensions["series_catalog"]
    series.sources["ttf"] = FakeSource(make_bundle(version="3", run_id="run-ttf", level=40.0))
    assert client.get("/api/v1/series/ttf/model").status_code == 404, "not listed again before the interval"
    manual_clock.advance(unit_settings.champion_refresh_seconds)
    client.get("/api/v1/series")  # starts the listing in the background
    assert catalog.wait_idle(10)
    assert client.get("/api/v1/series/ttf/model").headers["X-Model-Version"] == "3"
    del series.sources["de-spot"]
    manual_clock.advance(unit_settings.champion_refresh_seconds)
    client.get("/api/v1/series")
    assert catalog.wait_idle(10)
    assert client.get("/api/v1/series/de-spot/forecast").status_code == 404
    assert [s["id"] for s in client.get("/api/v1/series").get_json()["series"]] == ["default", "ttf"]


def test_a_failed_listing_keeps_the_series_already_served(app, client, series, manual_clock, unit_settings):
    series.failure = OSError("storage unreachable")
    manual_clock.advance(unit_settings.champion_refresh_seconds)
    client.get("/api/v1/series")
    assert app.extensions["series_catalog"].wait_idle(10)
    assert client.get("/api/v1/series/de-spot/forecast").status_code == 200


def test_no_more_series_than_the_limit_are_served(unit_settings, fake_source, manual_clock):
    import dataclasses

    many = FakeSeries(**{f"s{n:02d}": FakeSource(make_bundle(version=str(n + 1))) for n in range(5)})
    app = create_app(dataclasses.replace(unit_settings, max_series=3), champion_source=fake_source,
                     series_sources=many, startup_timeout=5, clock=manual_clock)
    assert app.extensions["series_catalog"].wait_idle(10)
    listed = [s["id"] for s in app.test_client().get("/api/v1/series").get_json()["series"]]
    assert listed == ["default", "s00", "s01", "s02"]


def test_ids_that_are_not_series_ids_are_never_served(unit_settings, fake_source, manual_clock, series):
    series.extra_ids = ["../etc", "UPPER", "a"]
    app = create_app(unit_settings, champion_source=fake_source, series_sources=series, startup_timeout=5,
                     clock=manual_clock)
    assert app.extensions["series_catalog"].wait_idle(10)
    assert [s["id"] for s in app.test_client().get("/api/v1/series").get_json()["series"]] == ["default", "de-spot"]


def test_the_published_series_are_the_folders_of_the_serving_areas():
    bucket = MemoryBucket("data")
    for name in ("serving/champion.json", "serving/versions/1/run/forecast.json",
                 "serving/series/ttf/champion.json", "serving/series/ttf/versions/2/run/forecast.json",
                 "serving/series/de-spot/champion.json", "serving/series/Bad_Id/champion.json"):
        bucket.write(name, b"{}")
    assert published_series(bucket) == ["default", "de-spot", "ttf"]
    assert ServingLayout.of_series("ttf").pointer == "serving/series/ttf/champion.json"
    declared = SeriesDefinition(id="ttf", target_column="ttf", label="TTF", unit="EUR/MWh")
    assert ServingLayout.of_series("ttf") == layout_for(Settings().for_series(declared)), "one rule for the areas"
    assert ServingLayout.of_series(DEFAULT_SERIES).pointer == "serving/champion.json"
    with pytest.raises(ValueError):
        ServingLayout.of_series("../x")
