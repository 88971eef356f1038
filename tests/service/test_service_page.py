"""The public page: charts drawn on the server, track record, card, backtest, freshness, offline and accessible."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser

import pytest
from service_fakes import FakeSource, make_bundle

from gasforecast.config import Settings
from service.app import create_app
from service.chart import PLOT_HEIGHT, PLOT_WIDTH, Scale, decimals_for, format_number, line, nice_ticks
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


def _render(bundle, today: date = date(2024, 12, 31), **settings) -> str:
    return ChampionView(bundle, Settings(**settings)).page.render(today)


def _svg(page: str, chart_id: str = "fan-chart") -> ET.Element:
    markup = re.search(rf'<svg id="{chart_id}".*?</g></svg>', page, re.S).group(0)  # ends after the hover group
    return ET.fromstring(markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def _numbers(d: str) -> tuple[list[float], list[float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return numbers[0::2], numbers[1::2]


def _script_json(page: str, script_id: str):
    return json.loads(re.search(rf'<script type="application/json" id="{script_id}">(.*?)</script>', page, re.S).group(1))


def test_chart_draws_history_mean_and_both_bands_inside_the_plot(page):
    svg = _svg(page)
    paths = {p.get("id"): p.get("d") for p in svg.iter(f"{SVG}path")}
    assert set(paths) >= {"history-line", "forecast-mean", "band-80", "band-95"}
    for name in ("history-line", "forecast-mean", "band-80", "band-95"):
        xs, ys = _numbers(paths[name])
        assert len(xs) > 5, name
        assert all(0 <= x <= PLOT_WIDTH for x in xs) and all(0 <= y <= PLOT_HEIGHT for y in ys), name
    assert paths["history-line"].count("L") == 179  # 180 days of history
    assert paths["forecast-mean"].count("L") == 90  # from the last observation through 90 days


def test_chart_text_keeps_its_size_because_only_the_plot_stretches(page):
    svg = _svg(page)
    assert svg.get("viewBox") is None and svg.get("width") == "100%"  # outer units are CSS pixels
    plot = svg.find(f"{SVG}svg")
    assert plot.get("preserveAspectRatio") == "none" and plot.find(f"{SVG}text") is None


def test_chart_has_a_text_alternative_that_states_the_forecast(page):
    svg = _svg(page)
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == "UK gas price: history and forecast"
    description = svg.find(f"{SVG}desc").text
    assert "2025-03-30" in description and "80 % interval" in description and "90 days ahead" in description


def test_y_axis_names_the_unit_and_groups_digits_of_large_prices():
    page = _render(make_bundle(level=2_500_000.0))
    svg = _svg(page)
    texts = {t.get("class"): t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "axis-title"}
    assert texts == {"axis-title": "pence/therm"}
    labels = [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert len(labels) >= 3 and all(re.fullmatch(r"\d{1,3}(,\d{3})+", label) for label in labels), labels
    # labels sit inside the chart (left aligned at x=2), so no width of number can be cut off
    assert {t.get("x") for t in svg.iter(f"{SVG}text") if t.get("class") == "tick-label"} == {"2"}


def test_an_absurdly_wide_band_never_flattens_the_history():
    bundle = make_bundle()
    for point in bundle.points:
        point["upper_95"] = point["mean"] * 100
    svg = _svg(_render(bundle))
    _, ys = _numbers({p.get("id"): p.get("d") for p in svg.iter(f"{SVG}path")}["history-line"])
    assert max(ys) - min(ys) > 0.25 * PLOT_HEIGHT  # uncapped, the history would be a flat line at the bottom


def test_hover_data_covers_history_and_forecast(page):
    data = _script_json(page, "fan-chart-data")
    assert len(data) == 180 + 90
    assert "observed" in data[0]["text"] and "95 %" in data[-1]["text"] and "90 days ahead" in data[-1]["text"]
    assert [p["x"] for p in data] == sorted(p["x"] for p in data)


def test_page_shows_the_card_the_backtest_and_the_api_links(page):
    for text in ("VAR", "var[ttf_price,hdd]", "lags = 3", "ttf_price, hdd", "log-difference", "v1",
                 "2024-12-30T17:00:00Z", "first champion", "against the naive forecast"):
        assert text in page, text
    rows = re.findall(r'<th scope="row">(\d+) d</th>', page)
    assert rows == ["1", "7", "14", "30"]
    assert re.findall(r'class="verdict (?:yes|no)"', page)
    for link in ("/api/v1/forecast?horizon=30", "/api/v1/history?days=365", "/api/v1/model", "/api/v1/openapi.json",
                 "/api/v1/track-record", "/api/v1/forecast?format=csv", "/api/v1/track-record?format=csv",
                 "/api/v1/history?days=3660&amp;format=csv"):
        assert f'href="{link}"' in page, link


def test_every_csv_link_on_the_page_answers_a_csv(service_client, page):
    parser = _Resources()
    parser.feed(page)
    links = {url for url in parser.urls if "format=csv" in url}
    assert len(links) == 3
    for url in links:
        response = service_client.get(url)
        assert response.status_code == 200 and response.mimetype == "text/csv", url


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
    scrollers = [attrs for tag, attrs in parser.tags if tag == "div" and attrs.get("class") == "scroll"]
    assert scrollers and all(a.get("tabindex") == "0" and a.get("aria-label") for a in scrollers)
    assert page.count('class="scroll-hint"') >= 2


def test_freshness_and_the_today_marker_are_computed_for_the_day_of_the_request():
    view = ChampionView(make_bundle(last_date=date(2024, 12, 30)), Settings())
    fresh = view.page.render(date(2024, 12, 31))
    assert 'class="freshness fresh"' in fresh and "(1 day ago)" in fresh and "already past" not in fresh
    assert fresh.count('class="marker today"') == 1
    stale = view.page.render(date(2025, 1, 30))
    assert 'class="freshness stale"' in stale and "(31 days ago)" in stale and "Older than 7 days" in stale
    assert "30 of its 90 dates are already past" in stale
    far = view.page.render(date(2026, 1, 1))
    assert "all of its 90 dates are already past" in far and 'class="marker today"' not in far


def test_staleness_follows_the_setting():
    page = _render(make_bundle(last_date=date(2024, 12, 30)), today=date(2025, 1, 2), stale_after_days=2)
    assert 'class="freshness stale"' in page and "Older than 2 days" in page


def test_the_series_name_comes_from_the_configuration():
    page = _render(make_bundle(), target_label="NBP front-month")
    assert "<title>NBP front-month forecast</title>" in page and "<h1>NBP front-month forecast</h1>" in page
    assert _svg(page).find(f"{SVG}title").text == "NBP front-month: history and forecast"
    assert "UK gas price" not in page


def test_a_business_day_series_counts_trading_days_and_has_no_weekend_dates():
    bundle = make_bundle(calendar="business", last_date=date(2024, 12, 27))  # a Friday
    page = _render(bundle, today=date(2024, 12, 28))
    cards = re.findall(r'<span class="label">(In [^<]+)</span>\s*<time class="date" datetime="([^"]+)">([^<]+)</time>', page)
    assert [c[0] for c in cards] == ["In 5 trading days", "In 21 trading days", "In 63 trading days", "In 90 trading days"]
    assert cards[0][1:] == ("2025-01-03", "Fri 3 Jan 2025")
    table = page.split("<caption>Forecast by trading day", 1)[1].split("</table>", 1)[0]
    table_dates = re.findall(r'<tr><th scope="row">(\d{4}-\d{2}-\d{2})</th>', table)
    assert len(table_dates) == 90 and all(date.fromisoformat(d).weekday() < 5 for d in table_dates)
    assert "In 7 days" not in page


def test_the_track_record_section_states_the_live_scores_in_plain_words(page, fake_source):
    track = fake_source.bundles["1"].track_record
    thirty = next(r for r in track["summary"] if r["horizon"] == 30 and r["window"] == "all")
    share = f"{thirty['closer_than_naive'] * 100:.0f} %"
    assert f"30-day forecasts were closer than “no change” {share} of the time ({thirty['points']} scored)" in page
    for horizon in (7, 30):
        svg = _svg(page, f"track-chart-{horizon}")
        assert svg.find(f"{SVG}title").text == f"Prices against the forecasts made {horizon} days earlier"
        bars = [p for p in svg.iter(f"{SVG}path") if "bars" in (p.get("class") or "")]
        assert len(bars) == 2
        points = [p for p in track["points"] if p["horizon"] == horizon]
        assert bars[0].get("d").count("M") == len(points)
        hover = _script_json(page, f"track-chart-{horizon}-data")
        assert len(hover) == len(points) and all("forecast made" in h["text"] for h in hover)


def test_a_champion_without_a_track_record_says_so():
    page = _render(make_bundle(track_record=False))
    assert "No track record yet" in page and "track-chart-" not in page


def test_a_degraded_track_record_is_flagged_in_words():
    bundle = make_bundle()
    bundle.track_record.update(status="degraded", breaches=[
        {"horizon": 30, "window": "last_30", "measure": "mae_ratio", "value": 1.4, "threshold": 1.25, "points": 30},
        {"horizon": 7, "window": "last_30", "measure": "coverage_80", "value": 0.5, "threshold": 0.6, "points": 30}])
    page = _render(bundle)
    assert 'class="status warning"' in page
    assert "30-day forecasts: errors 1.40 × those of “no change” (limit 1.25)" in page
    assert "7-day forecasts: share inside the 80 % band 50 % (limit 60 %)" in page


def test_a_malformed_track_record_shows_as_none_instead_of_breaking_the_page():
    bundle = make_bundle()
    bundle.track_record["points"][0]["actual"] = "lots"
    page = _render(bundle)
    assert "No track record yet" in page


def test_the_nested_evaluation_is_the_headline_when_the_bundle_has_it(page):
    assert "Tested the way it is used" not in page
    bundle = make_bundle()
    bundle.forecast["evaluation"] = {
        "kind": "nested", "origins": 52, "first_origin": "2023-01-02", "last_origin": "2024-12-23",
        "horizons": [1, 30], "mae_ratio_to_naive": {"1": 0.99, "30": 0.95}, "mean_mae_ratio": 0.97,
        "coverage_80": {"1": 0.81, "30": 0.78}, "coverage_95": {"1": 0.95, "30": 0.93},
        "interval_score_ratio": {"1": 0.96, "30": 0.9}}
    with_evaluation = _render(bundle)
    assert "at 52 past dates from 2023-01-02 to 2024-12-23" in with_evaluation
    assert "3 % smaller than those of “no change”" in with_evaluation
    assert re.search(r'<th scope="row">30 days</th><td>0.95</td><td>78 %</td><td>93 %</td><td>0.90</td>', with_evaluation)


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


def test_the_page_module_does_not_import_the_view():
    """page ↔ view used to import each other; the page now takes a bundle and the track record."""
    code = "import sys, service.page; print('service.view' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("low, high", [(91.0, 112.0), (100.0, 100.0), (0.31, 0.7), (40.0, 380.0), (-5.0, 5.0),
                                       (1_200_000.0, 1_900_000.0)])
def test_nice_ticks_cover_the_range_with_even_steps(low, high):
    ticks = nice_ticks(low, high)
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert ticks[0] <= low and ticks[-1] >= high and len(ticks) >= 2 and len(steps) == 1


@pytest.mark.parametrize("step, places", [(500.0, 0), (2.5, 1), (0.25, 2), (0.05, 2), (100000.0, 0)])
def test_tick_labels_have_just_the_decimals_their_step_needs(step, places):
    assert decimals_for(step) == places


def test_a_line_without_points_draws_nothing_rather_than_an_invalid_path():
    scale = Scale.covering(date(2025, 1, 1), date(2025, 2, 1), [1.0, 2.0])
    assert line(scale, [], [], css="history") == ""
    assert line(scale, [date(2025, 1, 2)], [1.5], css="history").startswith('<path class="line history" d="M')


def test_numbers_are_grouped_by_thousands():
    assert format_number(1234567.891) == "1,234,567.89" and format_number(12.5, 1) == "12.5"
