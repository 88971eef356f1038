"""The public page: charts drawn on the server, accuracy, track record, model choice, card, freshness, offline
and accessible."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from html.parser import HTMLParser
from itertools import pairwise

import pytest
from service_fakes import FakeSource, make_bundle, rewritten

from gasforecast.platform.config import Settings
from gasforecast.publication.documents import ModelSpec
from service.app import create_app
from service.chart import PLOT_HEIGHT, PLOT_WIDTH, Scale, decimals_for, format_number, line, nice_ticks
from service.page import DEFAULT_WINDOW, describe_model
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


def _render(bundle, today: date = date(2024, 12, 31), window: str = DEFAULT_WINDOW, **settings) -> str:
    return ChampionView(bundle, Settings(**settings)).pages[window].render(today)


def _svg(page: str, chart_id: str = "fan-chart") -> ET.Element:
    markup = re.search(rf'<svg id="{chart_id}".*?</g></svg>', page, re.S).group(0)  # ends after the hover group
    return ET.fromstring(markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def _gutter(page: str, chart_id: str = "fan-chart") -> ET.Element:
    """The y-axis labels' own SVG, left of the chart."""
    markup = re.search(rf'(<svg class="y-gutter".*?</svg>)<div class="chart-wrap"><svg id="{chart_id}"', page, re.S).group(1)
    return ET.fromstring(markup.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def _numbers(d: str) -> tuple[list[float], list[float]]:
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    return numbers[0::2], numbers[1::2]


def _script_json(page: str, script_id: str):
    return json.loads(re.search(rf'<script type="application/json" id="{script_id}">(.*?)</script>', page, re.S).group(1))


def test_chart_draws_history_mean_and_both_bands_inside_the_plot(page):
    svg = _svg(page)
    paths = {p.get("id"): p.get("d") for p in svg.iter(f"{SVG}path")}
    assert set(paths) >= {"history-line", "forecast-mean", "band-50", "band-80", "band-95"}
    cut = [mark.get("class") for mark in svg.iter(f"{SVG}svg") if "cut-mark" in (mark.get("class") or "")]
    for name in ("history-line", "forecast-mean", "band-50", "band-80", "band-95"):
        xs, ys = _numbers(paths[name])
        assert len(xs) > 5, name
        assert all(0 <= x <= PLOT_WIDTH for x in xs), name
        # a band may leave the plot only where the axis cuts it, and then a chevron marks the side it leaves
        assert (min(ys) >= 0 or "cut-mark cut-above" in cut) and (max(ys) <= PLOT_HEIGHT or "cut-mark cut-below" in cut), name
    assert cut == ["cut-mark cut-above"]  # three months of history: the 95 % band of 90 days goes past the top
    assert paths["history-line"].count("L") == 91  # three months of history: 92 days
    assert paths["forecast-mean"].count("L") == 90  # from the last observation through 90 days


def test_chart_text_keeps_its_size_because_only_the_plot_stretches(page):
    svg = _svg(page)
    assert svg.get("viewBox") is None and svg.get("width") == "100%"  # outer units are CSS pixels
    plot = svg.find(f"{SVG}svg")
    assert plot.get("preserveAspectRatio") == "none" and plot.find(f"{SVG}text") is None


def test_chart_has_a_text_alternative_that_states_the_forecast(page):
    svg = _svg(page)
    assert svg.get("role") == "img"
    assert svg.find(f"{SVG}title").text == f"{Settings().target_label}: history and forecast"
    description = svg.find(f"{SVG}desc").text
    assert "2025-03-30" in description and "80 % interval" in description and "90 days ahead" in description


def test_y_axis_names_the_unit_and_groups_digits_of_large_prices():
    page = _render(make_bundle(level=2_500_000.0))
    svg = _svg(page)
    texts = {t.get("class"): t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "axis-title"}
    assert texts == {"axis-title": "pence/therm"}
    assert not [t for t in svg.iter(f"{SVG}text") if t.get("class") == "tick-label"]  # none inside the chart
    gutter = _gutter(page)
    labels = [t.text for t in gutter.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert len(labels) >= 3 and all(re.fullmatch(r"\d{1,3}(,\d{3})+", label) for label in labels), labels
    # right-aligned in a gutter sized to the longest label, so no width of number can be cut off
    width = int(gutter.get("width"))
    assert width >= 7 * max(map(len, labels)) and {t.get("text-anchor") for t in gutter.iter(f"{SVG}text")} == {"end"}


def test_an_absurdly_wide_band_never_flattens_the_history():
    def widen(forecast):
        for point in forecast["points"]:
            point["upper_95"] = point["mean"] * 100

    bundle = rewritten(make_bundle(), widen)
    svg = _svg(_render(bundle))
    _, ys = _numbers({p.get("id"): p.get("d") for p in svg.iter(f"{SVG}path")}["history-line"])
    assert max(ys) - min(ys) > 0.25 * PLOT_HEIGHT  # uncapped, the history would be a flat line at the bottom


def test_hover_data_covers_history_and_forecast(page):
    data = _script_json(page, "fan-chart-data")
    assert len(data) == 92 + 90
    assert "observed" in data[0]["text"] and "95 %" in data[-1]["text"] and "90 days ahead" in data[-1]["text"]
    assert [p["x"] for p in data] == sorted(p["x"] for p in data)


def test_page_shows_the_card_and_the_api_links(page):
    for text in ("A vector autoregression (VAR) on log returns, with ttf_price and hdd as drivers",
                 "<code>var[ttf_price,hdd]</code>", "lags = 3", "ttf_price, hdd", "log-difference", "v1",
                 '<time datetime="2024-12-30T17:00:00Z">30 Dec 2024, 17:00 UTC</time>', "400 days of prices",
                 '<span class="band">80 % band</span> <span class="range">'):
        assert text in page, text
    for link in ("/api/v1/forecast?horizon=30", "/api/v1/history?days=365", "/api/v1/model", "/api/v1/openapi.json",
                 "/api/v1/track-record", "/api/v1/forecast?format=csv", "/api/v1/track-record?format=csv",
                 "/api/v1/history?days=3660&amp;format=csv"):
        assert f'href="{link}"' in page, link


def test_no_cell_of_the_page_is_left_empty(page):
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert cells and "—" not in cells and not [c for c in cells if "— / —" in c]


@pytest.mark.parametrize("config, words", [
    ({"kind": "naive", "drivers": []}, "“no change”: the last price, carried forward"),
    ({"kind": "var", "drivers": ["ttf_price"], "window_years": 3, "naive_weight": 0.5},
     "a vector autoregression (VAR) on log returns, with ttf_price as driver, fitted on the last 3 years, "
     "averaged half and half with “no change”"),
    ({"kind": "ar", "seasonal": "weekday", "naive_weight": 0.25},
     "an autoregression (AR) on log returns, less a weekday profile, with 25 % weight on “no change”"),
    (None, "var[x]"),
])
def test_the_served_configuration_is_described_in_words(config, words):
    spec = ModelSpec.model_validate(config) if config is not None else None  # forecast.json's model.config
    assert describe_model(spec, "var[x]") == words


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
    assert parser.urls and all(url.startswith(("/", "#", "?", "data:")) for url in parser.urls)
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
    assert page.count('class="scroll-hint"') >= 1


def test_freshness_and_the_today_marker_are_computed_for_the_day_of_the_request():
    view = ChampionView(make_bundle(last_date=date(2024, 12, 30)), Settings())
    fresh = view.pages[DEFAULT_WINDOW].render(date(2024, 12, 31))
    assert 'class="freshness fresh"' in fresh and "(1 day ago)" in fresh and "already past" not in fresh
    assert fresh.count('class="marker today"') == 1
    stale = view.pages[DEFAULT_WINDOW].render(date(2025, 1, 30))
    assert 'class="freshness stale"' in stale and "(31 days ago)" in stale and "Older than 7 days" in stale
    assert "30 of its 90 dates are already past" in stale
    far = view.pages[DEFAULT_WINDOW].render(date(2026, 1, 1))
    assert "all of its 90 dates are already past" in far and 'class="marker today"' not in far


def test_the_page_is_rendered_once_a_day_and_then_served_as_bytes(service_client, monkeypatch):
    from service.page import ChampionPage

    renders = []
    render = ChampionPage.render
    monkeypatch.setattr(ChampionPage, "render", lambda self, today: renders.append(today) or render(self, today))
    pages = [service_client.get("/") for _ in range(3)]
    assert len(renders) == 1 and len({page.headers["ETag"] for page in pages}) == 1
    view = ChampionView(make_bundle(last_date=date(2024, 12, 30)), Settings())
    today = view.page_body(date(2024, 12, 31))
    assert view.page_body(date(2024, 12, 31)) is today and b"(1 day ago)" in today.data
    tomorrow = view.page_body(date(2025, 1, 1))
    assert tomorrow.etag != today.etag and b"(2 days ago)" in tomorrow.data


def test_staleness_follows_the_setting():
    page = _render(make_bundle(last_date=date(2024, 12, 30)), today=date(2025, 1, 2), stale_after_days=2)
    assert 'class="freshness stale"' in page and "Older than 2 days" in page


def test_the_series_is_what_training_declared_not_the_services_setting():
    declared = {"target_label": "NBP front-month", "target_product": "day-ahead", "data_source": "ICE Endex settlement"}
    page = _render(make_bundle(declaration=declared), target_label="TTF")
    assert "<title>NBP front-month forecast</title>" in page and "<h1>NBP front-month forecast</h1>" in page
    assert _svg(page).find(f"{SVG}title").text == "NBP front-month: history and forecast"
    assert "TTF" not in page and "day-ahead" in page and "ICE Endex settlement" in page
    assert "synthetic" not in page.lower()


def test_an_older_bundle_without_a_declaration_shows_the_services_settings():
    def undeclared(forecast):
        del forecast["series"]

    bundle = rewritten(make_bundle(declaration={"target_label": "NBP front-month"}), undeclared)
    assert bundle.forecast.series is None
    page = _render(bundle, target_label="TTF front-month", data_synthetic=True)
    assert "<h1>TTF front-month forecast</h1>" in page and 'id="synthetic-notice"' in page


def test_a_synthetic_series_says_so_on_the_page_in_the_api_and_in_every_csv(unit_settings):
    import csv
    import io

    declared = {"target_label": "Synthetic demo series (not a market price)", "data_synthetic": True,
                "data_source": "generated by gasforecast.ingestion.sample"}
    client = create_app(unit_settings, champion_source=FakeSource(make_bundle(declaration=declared))).test_client()
    page = client.get("/").get_data(as_text=True)
    assert 'id="synthetic-notice"' in page and "Synthetic data." in page
    assert "<h1>Synthetic demo series (not a market price) forecast</h1>" in page
    for path in ("/api/v1/forecast?horizon=3", "/api/v1/history?days=5", "/api/v1/track-record", "/api/v1/model"):
        series = client.get(path).get_json()["series"]
        assert series["synthetic"] is True and series["source"] == "generated by gasforecast.ingestion.sample", path
        assert series["unit"] == "pence/therm" and series["label"] == declared["target_label"], path
    for path in ("/api/v1/forecast?horizon=3", "/api/v1/history?days=5", "/api/v1/track-record"):
        rows = list(csv.DictReader(io.StringIO(client.get(path + ("&" if "?" in path else "?") + "format=csv")
                                               .get_data(as_text=True))))
        assert rows and {(row["synthetic"], row["label"], row["unit"]) for row in rows} == {
            ("true", declared["target_label"], "pence/therm")}, path


def test_a_real_series_carries_no_synthetic_notice(page):
    assert 'id="synthetic-notice"' not in page and ">Product</dt>" in page


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
    track = fake_source.bundles["1"].track_record.to_json_dict()
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
    bundle = rewritten(make_bundle(), track_record=lambda record: record.update(status="degraded", breaches=[
        {"horizon": 30, "window": "last_30", "measure": "mae_ratio", "value": 1.4, "threshold": 1.25, "points": 30},
        {"horizon": 7, "window": "last_30", "measure": "coverage_80", "value": 0.5, "threshold": 0.6, "points": 30}]))
    page = _render(bundle)
    assert 'class="status warning"' in page
    assert "30-day forecasts: errors 1.40 × those of “no change” (limit 1.25)" in page
    assert "7-day forecasts: share inside the 80 % band 50 % (limit 60 %)" in page


def test_a_malformed_track_record_shows_as_none_instead_of_breaking_the_page():
    bundle = rewritten(make_bundle(), track_record=lambda record: record["points"][0].update(actual="lots"))
    assert bundle.track_record is None
    page = _render(bundle)
    assert "No track record yet" in page


def _section(page: str, section_id: str) -> str:
    return page.split(f'<section id="{section_id}"', 1)[1].split("</section>", 1)[0]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_the_nested_evaluation_is_the_headline(page, fake_source):
    evaluation = fake_source.bundles["1"].forecast.to_json_dict()["evaluation"]
    section = _section(page, "accuracy")
    text = _text(section)
    assert "Forecasts made the way this one was made, scored on data they had not seen" in text
    assert "on average" not in text  # per horizon only: an average let day 1 speak for the month
    assert f"Day 1: errors {evaluation['mae_ratio_to_naive']['1']:.2f} × those of “no change”" in text
    assert f"day 30: {evaluation['mae_ratio_to_naive']['30']:.2f} ×" in text
    assert (f"At 12 past dates from {evaluation['first_origin']} to {evaluation['last_origin']}, 8 days apart"
            in text)
    assert "The baseline is the strongest of four simple methods" in text
    assert "It served var[ttf_price,hdd] at every one. That is only 12 forecasts per horizon" in text
    assert "steps of 8 points" in text and '<th scope="col">Days ahead</th>' in section
    ratio, cover80, cover95, crps, score = (evaluation[name]["30"] for name in (
        "mae_ratio_to_naive", "coverage_80", "coverage_95", "crps_ratio", "interval_score_ratio"))
    assert (f'<th scope="row">30</th><td>{ratio:.2f}</td><td>{cover80 * 100:.0f} %</td>'
            f'<td>{cover95 * 100:.0f} %</td><td>{crps:.2f}</td><td>{score:.2f}</td>') in section
    assert page.index('id="accuracy"') < page.index('id="track-record"') < page.index('id="model-choice"')


def test_a_bundle_without_nested_figures_says_there_is_no_headline():
    text = _text(_section(_render(make_bundle(evaluation=False)), "accuracy"))
    assert "trained without the out-of-sample check" in text and "%" not in text


def test_a_bundle_without_the_gates_level_shows_the_p_value_alone():
    # a bundle trained before the level was recorded
    bundle = rewritten(make_bundle(decision="promoted"), lambda forecast: forecast["promotion"].pop("significance"))
    text = _text(_section(_render(bundle), "model-choice"))
    assert "would rarely come from luck (p = 0.0031)." in text and "asks for" not in text


@pytest.mark.parametrize("decision, headline, details, columns", [
    ("promoted", "A model earned its place: var[ttf_price,hdd] is served.",
     "it did better (errors 5 % smaller than those of “no change”), and the test against “no change” says an edge "
     "this size would rarely come from luck (p = 0.0031; the gate asks for p below 0.01)", ["Served, best on the first half"]),
    ("kept_champion_config", "The model in service stays: var[ttf_price,hdd].",
     "ar~naive50 did best on the first half of the evaluation stretch, but on the second half its edge over the model "
     "in service is not clear enough to rule out luck (p = 0.62; the gate asks for p below 0.01)",
     ["Kept in service", "Best on the first half"]),
    ("naive", "Kept the naive forecast (“no change”: the last price, carried forward), because no candidate beat it "
              "significantly.",
     "var[ttf_price,hdd], was a little closer on the second half (errors 1 % smaller than those of “no change”), but "
     "not clearly enough to rule out luck (p = 0.21; the gate asks for p below 0.01)", ["Best on the first half"]),
])
def test_the_page_says_what_the_gate_decided_and_why(decision, headline, details, columns):
    bundle = make_bundle(decision=decision)
    section = _section(_render(bundle), "model-choice")
    text = _text(section)
    assert headline in text and details in text
    heads = re.findall(r'<th scope="col">([^<]+)<br><code>', section)
    assert heads == columns
    test_from = bundle.forecast.backtest.stretch.test_from
    assert f"on the second half ({test_from} to" in text and "Diebold–Mariano" in text
    assert '<th scope="col">Days ahead</th>' in section
    rows = re.findall(r'<tr><th scope="row">(\d+)</th>((?:<td>[^<]+</td>)+)</tr>', section)
    assert [r[0] for r in rows] == ["1", "7", "14", "30"]
    assert all(re.fullmatch(r"(<td>\d\.\d\d</td>)+", cells) and cells.count("<td>") == len(columns)
               for _, cells in rows)
    assert f"Every candidate ({len(bundle.forecast.backtest.metrics)})" in text
    assert "In the gate’s own words (its “test half” is the second half): " + bundle.forecast.promotion.reason \
        in text.replace("&#39;", "'")


def test_a_champion_that_lost_its_place_is_named():
    bundle = rewritten(make_bundle(decision="naive"),
                       lambda forecast: forecast["promotion"].update(champion="var[ttf_price]", champion_score=1.02))
    text = _text(_section(_render(bundle), "model-choice"))
    assert "The model served before, var[ttf_price], no longer beats “no change” clearly" in text


def test_a_bundle_from_before_the_gate_still_shows_its_promotion():
    def before_the_gate(forecast):
        forecast["backtest"] = {"horizons": [1, 30], "origins": 104, "selected": "var[ttf_price,hdd]",
                                "baseline": "naive", "metrics": {"naive": {"1": {"mase": 1.0}}}}
        forecast["promotion"] = {"decision": "first_champion", "reason": "no champion yet"}

    bundle = rewritten(make_bundle(evaluation=False), before_the_gate)
    section = _section(_render(bundle), "model-choice")
    assert "trained before the current selection procedure" in section and "no champion yet" in section
    assert "<table" not in section


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
    steps = {round(b - a, 9) for a, b in pairwise(ticks)}
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
