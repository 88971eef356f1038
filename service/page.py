"""The public HTML page, rendered once per champion version (and a page for "no champion yet").

Only the freshness line depends on the day a request is made, so the page is kept as two halves
around it and joined per request (`ChampionPage.render`), which costs a string join.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape

from gasforecast.config import Settings
from service.chart import fan_chart_svg, hover_points

if TYPE_CHECKING:
    from service.view import ChampionView

CHART_HISTORY_DAYS = 180  # enough context to see the trend, short enough that the fan stays readable
KEY_HORIZONS = (7, 30, 90)
STALE_AFTER_DAYS = 7  # data older than a week is flagged on the page
_FRESHNESS_MARK = "<!--freshness-->"
STATIC_URL = "/static"

_templates = Environment(
    loader=PackageLoader("service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _percent_change(start: float, end: float) -> str:
    return f"{(end / start - 1) * 100:+.1f} %"


def _key_figures(view: "ChampionView") -> list[dict[str, Any]]:
    last_value = view.history_points[-1]["value"] if view.history_points else None
    figures = []
    for horizon in sorted({h for h in KEY_HORIZONS if h <= view.horizon_max} | {view.horizon_max}):
        point = view.bundle.points[horizon - 1]
        figures.append(
            {
                "horizon": horizon,
                "date": point["date"],
                "mean": point["mean"],
                "lower_80": point["lower_80"],
                "upper_80": point["upper_80"],
                "change": _percent_change(last_value, point["mean"]) if last_value else None,
            }
        )
    return figures


def _number(value: Any, pattern: str) -> str:
    return pattern % value if isinstance(value, (int, float)) else "—"


def _backtest_rows(backtest: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per horizon: the champion's errors beside the naive forecast's on the same windows."""
    selected = backtest["metrics"].get(backtest["selected"], {})
    naive = backtest["metrics"].get(backtest["baseline"], {})
    rows = []
    for horizon in backtest["horizons"]:
        ours, theirs = selected.get(str(horizon), {}), naive.get(str(horizon), {})
        mase, naive_mase = ours.get("mase"), theirs.get("mase")
        verdict = "—" if mase is None or naive_mase is None else "Yes" if mase < naive_mase else "No"
        rows.append(
            {
                "horizon": horizon,
                "mase": f'{_number(mase, "%.3f")} / {_number(naive_mase, "%.3f")}',
                "smape": f'{_number(ours.get("smape"), "%.2f")} / {_number(theirs.get("smape"), "%.2f")}',
                "rmse": f'{_number(ours.get("rmse"), "%.2f")} / {_number(theirs.get("rmse"), "%.2f")}',
                "coverage_80": _number(_percent(ours.get("coverage_80")), "%.0f %%"),
                "coverage_95": _number(_percent(ours.get("coverage_95")), "%.0f %%"),
                "verdict": verdict,
            }
        )
    return rows


def _percent(share: Any) -> float | None:
    return share * 100 if isinstance(share, (int, float)) else None


def _chart_summary(view: "ChampionView", figures: list[dict[str, Any]]) -> str:
    last = view.history_points[-1]
    far = figures[-1]
    return (
        f"Last observed price {last['value']:.2f} {view.unit} on {last['date']}. "
        f"Forecast for {far['date']} ({far['horizon']} days ahead): {far['mean']:.2f} {view.unit}, "
        f"80 % interval {far['lower_80']:.2f} to {far['upper_80']:.2f}."
    )


@dataclass(frozen=True)
class ChampionPage:
    """The page split around its only per-request part (the data freshness line)."""

    head: str
    tail: str
    data_last_date: date

    def render(self, today: date) -> str:
        age = (today - self.data_last_date).days
        stale = age > STALE_AFTER_DAYS
        when = "today" if age == 0 else "1 day ago" if age == 1 else f"{age} days ago"
        line = (
            f'<p id="freshness" class="freshness {"stale" if stale else "fresh"}">'
            f"Data through <time datetime=\"{self.data_last_date.isoformat()}\">{self.data_last_date.isoformat()}</time> "
            f"({when}){' — older than a week: new data may not have arrived' if stale else ''}.</p>"
        )
        return self.head + line + self.tail


def champion_page(view: "ChampionView", settings: Settings) -> ChampionPage:
    """Render the page of one champion (called once per version, in the refresh thread)."""
    forecast = view.bundle.forecast
    recent = view.history_points[-CHART_HISTORY_DAYS:]
    shown = forecast["points"][: view.horizon_max]
    figures = _key_figures(view)
    summary = _chart_summary(view, figures)
    html = _templates.get_template("index.html").render(
        settings=settings,
        view=view,
        model=forecast["model"],
        forecast=forecast,
        figures=figures,
        points=shown,
        last=view.history_points[-1],
        backtest=forecast["backtest"],
        backtest_rows=_backtest_rows(forecast["backtest"]),
        promotion=forecast.get("promotion"),
        chart_svg=fan_chart_svg(recent, shown, title="UK gas price: history and forecast", description=summary),
        # "<" escaped so the JSON can never close its <script> element.
        chart_data=json.dumps(hover_points(recent, shown), separators=(",", ":")).replace("<", "\\u003c"),
        static_url=STATIC_URL,
        summary=summary,
        freshness_mark=_FRESHNESS_MARK,
    )
    head, _, tail = html.partition(_FRESHNESS_MARK)
    return ChampionPage(head, tail, view.data_last_date)


def no_champion_page(settings: Settings, reason: str | None) -> str:
    """What an analyst sees before the first model is promoted: what is missing and what to do."""
    return _templates.get_template("no_champion.html").render(settings=settings, reason=reason, static_url=STATIC_URL)
