"""The public page: fan chart drawn on the server, card, backtest, freshness, offline and accessible."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser

import pytest
from service_fakes import FakeSource, make_bundle

from gasforecast.config import Settings
from service.app import create_app
from service.chart import HEIGHT, WIDTH, nice_ticks
from service.view import ChampionView

SVG = "{http://www.w3.org/2000/svg}"


class _Resources(HTMLParser):
    """Collects every URL the page would fetch or link to, and the image-like elements."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        for name in ("src", "href", "action"):
            if attributes.get(name):
                self.urls.append(attributes[name])


@pytest.fixture
def page(service_client) -> str:
    response = service_client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    return response.get_data(as_text=True)


def _svg(page: str) -> ET.Element:
    markup = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    return ET.fromstring(markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_chart_draws_history_mean_and_both_bands_inside_the_plot(page):
    svg = _svg(page)
    paths = {p.get("id"): p.get("d") for p in svg.iter(f"{SVG}path")}
    assert set(paths) >= {"history-line", "forecast-mean", "band-80", "band-95"}
    for name, d in paths.items():
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
        xs, ys = numbers[0::2], numbers[1::2]
        assert len(xs) > 5, name
        assert all(0 <= x <= WIDTH for x in xs) and all(0 <= y <= HEIGHT for y in ys), name
    assert paths["history-line"].count("L") == 179  # 180 days of history
    assert paths["forecast-mean"].count("L") == 90  # from the last observation through 90 days


def test_chart_has_a_text_alternative_that_states_the_forecast(page):
    svg = _svg(page)
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text
    description = svg.find(f"{SVG}desc").text
    assert "2025-03-30" in description and "80 % interval" in description


def test_hover_data_covers_history_and_forecast(page):
    data = json.loads(re.search(r'<script type="application/json" id="chart-data"[^>]*>(.*?)</script>', page, re.S).group(1))
    assert len(data) == 180 + 90
    assert "value" in data[0] and "upper_95" in data[-1]
    assert [p["x"] for p in data] == sorted(p["x"] for p in data)


def test_page_shows_the_card_the_backtest_and_the_api_links(page):
    for text in ("VAR", "var[ttf_price,hdd]", "lags = 3", "ttf_price, hdd", "log-difference", "v1",
                 "2024-12-30T17:00:00Z", "first champion", "against the naive forecast"):
        assert text in page, text
    rows = re.findall(r'<th scope="row">(\d+) d</th>', page)
    assert rows == ["1", "7", "14", "30"]
    assert re.findall(r'class="verdict (?:yes|no)"', page)
    for link in ("/api/v1/forecast?horizon=30", "/api/v1/history?days=365", "/api/v1/model", "/api/v1/openapi.json"):
        assert f'href="{link}"' in page


def test_page_needs_nothing_from_another_host(service_client, page):
    parser = _Resources()
    parser.feed(page)
    assert parser.urls and all(url.startswith(("/", "#", "data:")) for url in parser.urls)
    assert "Content-Security-Policy" in service_client.get("/").headers
    for url in parser.urls:
        if url.startswith("/static/"):
            assert service_client.get(url).status_code == 200, url


def test_page_is_readable_on_a_phone_and_labelled(page):
    parser = _Resources()
    parser.feed(page)
    metas = [attrs for tag, attrs in parser.tags if tag == "meta"]
    assert any(m.get("name") == "viewport" and "width=device-width" in m.get("content", "") for m in metas)
    assert any(tag == "html" and attrs.get("lang") for tag, attrs in parser.tags)
    assert all("scope" in attrs for tag, attrs in parser.tags if tag == "th")


def test_freshness_is_computed_for_the_day_of_the_request():
    view = ChampionView(make_bundle(last_date=date(2024, 12, 30)), Settings())
    fresh = view.page.render(date(2024, 12, 31))
    assert 'class="freshness fresh"' in fresh and "(1 day ago)" in fresh
    stale = view.page.render(date(2025, 1, 30))
    assert 'class="freshness stale"' in stale and "(31 days ago)" in stale and "older than a week" in stale


def test_page_revalidates_with_its_etag(service_client):
    first = service_client.get("/")
    assert first.headers["Cache-Control"] == "no-cache"
    assert service_client.get("/", headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_without_a_champion_the_page_says_so_and_what_to_do():
    source = FakeSource(make_bundle())
    source.alias = None
    response = create_app(Settings(uploads_bucket="my-uploads"), champion_source=source).test_client().get("/")
    text = response.get_data(as_text=True)
    assert response.status_code == 503 and response.mimetype == "text/html"
    assert "No forecast yet" in text and "gs://my-uploads/" in text and "retrain-requests" in text
    assert "<svg" not in text


@pytest.mark.parametrize("low, high", [(91.0, 112.0), (100.0, 100.0), (0.31, 0.7), (40.0, 380.0), (-5.0, 5.0)])
def test_nice_ticks_cover_the_range_with_even_steps(low, high):
    ticks = nice_ticks(low, high)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert ticks[0] <= low and ticks[-1] >= high and len(ticks) >= 2 and len(steps) == 1
