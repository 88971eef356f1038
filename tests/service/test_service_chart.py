"""The charts an analyst reads: y labels outside the plot, date ticks on short charts, no empty tail, a
marker where the axis cuts a band, and the page's history-window switch."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
from service_fakes import FakeSource, make_bundle, rewritten

from gasforecast.platform.config import Settings
from service.app import create_app
from service.chart import MAX_DATE_LABELS, PLOT_WIDTH, Scale, band_cuts, chart_figure, cut_marks, date_ticks, line
from service.page import DEFAULT_WINDOW, HISTORY_WINDOWS, history_window
from service.view import ChampionView


def _render(bundle, window: str = DEFAULT_WINDOW, today: date = date(2024, 12, 31)) -> str:
    return ChampionView(bundle, Settings()).pages[window].render(today)


@pytest.mark.parametrize("span_days", [6, 7, 9, 13, 20, 40, 75])
def test_a_short_chart_gets_several_readable_date_ticks(span_days):
    first = date(2025, 3, 4)
    last = first + timedelta(days=span_days)
    ticks = date_ticks(first, last)
    assert 3 <= len(ticks) <= MAX_DATE_LABELS, ticks
    assert all(first < day < last for day in ticks) and ticks == sorted(set(ticks))


def test_a_seven_point_track_chart_has_more_than_one_tick():
    """The "forecasts made 7 days earlier" chart of a young record: seven scored points."""
    def seven_points(record):
        sevens = [p for p in record["points"] if p["horizon"] == 7][-7:]
        record["points"] = [p for p in record["points"] if p["horizon"] != 7] + sevens

    page = _render(rewritten(make_bundle(), track_record=seven_points))
    axis = re.search(r'<svg id="track-chart-7".*?<g class="axis x-axis"[^>]*>(.*?)</g>', page, re.S).group(1)
    labels = re.findall(r'<text x="[\d.]+%" y="\d+" text-anchor="middle">([^<]+)</text>', axis)
    assert len(labels) >= 3, labels


def test_long_charts_label_month_starts():
    ticks = date_ticks(date(2024, 1, 10), date(2025, 3, 30))
    assert ticks and all(day.day == 1 for day in ticks) and len(ticks) <= MAX_DATE_LABELS


def test_no_chart_runs_past_its_last_forecast_date():
    bundle = make_bundle()
    page = _render(bundle)
    for horizon in (7, 30):
        last = max(p.target_date for p in bundle.track_record.points if p.horizon == horizon)
        figure = re.search(rf'<svg id="track-chart-{horizon}".*?</svg>', page, re.S).group(0)
        hover = json.loads(re.search(rf'id="track-chart-{horizon}-data">(.*?)</script>', page, re.S).group(1))
        assert hover[-1]["text"].startswith(f"{last}: price")
        end = hover[-1]["x"] / PLOT_WIDTH * 100  # the last forecast's date, in percent of the width
        assert 95 <= end < 100, f"{horizon}: the chart runs {100 - end:.1f} % past its last forecast"
        ticks = [float(x) for x in re.findall(r'<line class="tick" x1="([\d.]+)%"', figure)]
        assert ticks and max(ticks) <= end
        lines = re.findall(r'<path class="line history" d="([^"]+)"', figure)
        assert max(float(x) for x in re.findall(r"[ML](-?[\d.]+),", lines[0])) <= hover[-1]["x"]
    fan = json.loads(re.search(r'id="fan-chart-data">(.*?)</script>', page, re.S).group(1))
    assert fan[-1]["x"] == PLOT_WIDTH and "90 days ahead" in fan[-1]["text"]


def test_a_band_past_the_axis_gets_a_chevron_where_it_leaves_and_a_note():
    scale = Scale.covering(date(2025, 1, 1), date(2025, 1, 11), [100.0, 110.0])
    days = [date(2025, 1, 1) + timedelta(days=k) for k in range(11)]
    upper = [105.0 + 2 * k for k in range(11)]  # leaves the top of the axis after a few days
    lower = [95.0 + 0.0 * k for k in range(11)]
    cuts = band_cuts(scale, days, [max(v, scale.low) for v in lower], upper)
    assert [(cut.side, cut.day) for cut in cuts] == [("above", next(d for d, v in zip(days, upper, strict=True) if v > scale.high))]
    [mark] = cut_marks(scale, cuts)
    assert 'class="cut-mark cut-above"' in mark and f'x="{scale.percent(cuts[0].day):.2f}%"' in mark
    assert band_cuts(scale, days, [101.0] * 11, [109.0] * 11) == []

    def widen(forecast):
        for point in forecast["points"]:
            point["upper_95"] = point["mean"] * 100

    page = _render(rewritten(make_bundle(), widen))
    assert page.count('class="cut-mark cut-above"') == 1 and 'id="fan-chart-cut"' in page
    assert "goes on above the top of the axis" in page
    plain = _render(make_bundle(), window="1y")  # a year of history: the axis holds the whole band
    assert "cut-mark" not in plain and 'id="fan-chart-cut"' not in plain


def test_y_labels_live_in_a_gutter_left_of_the_plot():
    scale = Scale.covering(date(2025, 1, 1), date(2025, 2, 1), [1_000.0, 1_500_000.0])
    figure = chart_figure("c", scale, unit="EUR", title="t", description="d",
                          layers=[line(scale, [date(2025, 1, 2)], [2.0], css="history")])
    gutter, chart = figure.split('<div class="chart-wrap">')
    assert 'class="y-gutter"' in gutter and gutter.count('class="tick-label"') == len(scale.ticks)
    assert "tick-label" not in chart and "1,500,000" in gutter


@pytest.mark.parametrize("text, window", [("3m", "3m"), ("1y", "1y"), ("all", "all"), (None, DEFAULT_WINDOW),
                                          ("", DEFAULT_WINDOW), ("3M", DEFAULT_WINDOW), ("10y", DEFAULT_WINDOW),
                                          ("<script>", DEFAULT_WINDOW)])
def test_window_parsing_falls_back_to_the_default(text, window):
    assert history_window(text) == window


def test_the_window_switch_changes_the_history_shown_and_never_echoes_the_query():
    bundle = make_bundle(history_days=900)
    client = create_app(Settings(forecast_horizon_max=90), champion_source=FakeSource(bundle)).test_client()

    def history_points(page: str) -> int:
        return re.search(r'id="history-line" class="line history" d="([^"]+)"', page).group(1).count("L") + 1

    pages = {name: client.get(f"/?window={name}").get_data(as_text=True) for name in HISTORY_WINDOWS}
    assert history_points(pages["3m"]) == 92 and history_points(pages["1y"]) == 366
    assert history_points(pages["all"]) == len(bundle.history.points) == 900
    for name, page in pages.items():
        current = re.findall(r'<a href="\?window=(\w+)#chart-heading" aria-current="page">', page)
        assert current == [name]
    default = client.get("/").get_data(as_text=True)
    for query in ("window=5y", "window=%3Cscript%3Ealert(1)%3C/script%3E", "window=", "window=3m&window=all",
                  "other=1"):
        response = client.get(f"/?{query}")
        body = response.get_data(as_text=True)
        assert response.status_code == 200 and "alert(1)" not in body and "5y" not in body, query
        if query != "window=3m&window=all":
            assert body == default, query
