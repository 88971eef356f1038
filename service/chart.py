"""The fan chart as server-side SVG: recent history, forecast mean, 80 % and 95 % bands.

Drawn once per champion version (no charting library, no CDN, nothing for the browser to fetch).
The hover script (`static/fanchart.js`) only reads the coordinates embedded by `hover_points`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any, Sequence

WIDTH, HEIGHT = 720, 380
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 20, 40
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Scale:
    """Maps dates and prices to SVG coordinates inside the plot area."""

    first: date
    last: date
    ticks: tuple[float, ...]  # round values on the y axis; the first and last bound the plot

    @property
    def low(self) -> float:
        return self.ticks[0]

    @property
    def high(self) -> float:
        return self.ticks[-1]

    def x(self, day: date) -> float:
        span = max((self.last - self.first).days, 1)
        return LEFT + (day - self.first).days / span * (WIDTH - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return TOP + (self.high - value) / (self.high - self.low) * (HEIGHT - TOP - BOTTOM)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^k apart) covering [low, high]."""
    raw_step = (high - low) / max(count, 1) or 1.0
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    ticks = [math.floor(low / step) * step]
    while len(ticks) < 2 or ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _month_starts(first: date, last: date) -> list[date]:
    months = []
    year, month = first.year, first.month
    while True:
        month += 1
        if month == 13:
            year, month = year + 1, 1
        start = date(year, month, 1)
        if start > last:
            return months
        months.append(start)


def _path(points: Sequence[tuple[float, float]]) -> str:
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _band(scale: Scale, days: Sequence[date], lower: Sequence[float], upper: Sequence[float]) -> str:
    top = [(scale.x(d), scale.y(v)) for d, v in zip(days, upper)]
    bottom = [(scale.x(d), scale.y(v)) for d, v in zip(reversed(days), reversed(lower))]
    return _path(top + bottom) + "Z"


def _format_tick(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 else f"{value:g}"


def _axes(scale: Scale) -> list[str]:
    parts = ['<g class="axis y-axis" aria-hidden="true">']
    for tick in scale.ticks:
        y = scale.y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_format_tick(tick)}</text>')
    parts.append("</g>")
    months = _month_starts(scale.first, scale.last)
    every = max(1, math.ceil(len(months) / 7))
    parts.append('<g class="axis x-axis" aria-hidden="true">')
    for index, start in enumerate(months):
        if index % every:
            continue
        x = scale.x(start)
        label = f"{MONTHS[start.month - 1]} {start.year}" if start.month == 1 or index == 0 else MONTHS[start.month - 1]
        parts.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{HEIGHT - BOTTOM}" y2="{HEIGHT - BOTTOM + 5}"/>')
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle">{label}</text>')
    parts.append("</g>")
    return parts


def _scale_for(history: Sequence[dict[str, Any]], forecast: Sequence[dict[str, Any]]) -> Scale:
    values = [p["value"] for p in history] + [p["lower_95"] for p in forecast] + [p["upper_95"] for p in forecast]
    ticks = nice_ticks(min(values), max(values))
    first = history[0]["date"] if history else forecast[0]["date"]
    return Scale(date.fromisoformat(first), date.fromisoformat(forecast[-1]["date"]), tuple(ticks))


def fan_chart_svg(
    history: Sequence[dict[str, Any]],
    forecast: Sequence[dict[str, Any]],
    *,
    title: str,
    description: str,
) -> str:
    """An accessible SVG (role=img with title and description) with element ids the page script uses.

    `history` holds `{date, value}` points (ascending, at least one), `forecast` the bundle's points.
    """
    scale = _scale_for(history, forecast)
    hist_days = [date.fromisoformat(p["date"]) for p in history]
    # The bands and the mean start at the last observation so the fan opens from the known price.
    fan_days = hist_days[-1:] + [date.fromisoformat(p["date"]) for p in forecast]
    anchor = [history[-1]["value"]]

    def series(key: str) -> list[float]:
        return anchor + [p[key] for p in forecast]

    split_x = scale.x(hist_days[-1])
    history_d = _path([(scale.x(d), scale.y(p["value"])) for d, p in zip(hist_days, history)])
    mean_d = _path([(scale.x(d), scale.y(v)) for d, v in zip(fan_days, series("mean"))])
    parts = [
        f'<svg id="fan-chart" class="fan-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title chart-desc" tabindex="0" preserveAspectRatio="xMidYMid meet">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
        *_axes(scale),
        f'<path id="band-95" class="band band-95" d="{_band(scale, fan_days, series("lower_95"), series("upper_95"))}"/>',
        f'<path id="band-80" class="band band-80" d="{_band(scale, fan_days, series("lower_80"), series("upper_80"))}"/>',
        f'<line class="split" x1="{split_x:.1f}" x2="{split_x:.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>',
        f'<path id="history-line" class="line history" d="{history_d}"/>',
        f'<path id="forecast-mean" class="line mean" d="{mean_d}"/>',
        f'<g id="hover" class="hover" visibility="hidden" aria-hidden="true">'
        f'<line id="hover-line" x1="0" x2="0" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>'
        f'<circle id="hover-dot" r="4" cx="0" cy="0"/></g>',
        "</svg>",
    ]
    return "".join(parts)


def hover_points(history: Sequence[dict[str, Any]], forecast: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Coordinates and values for the hover script, in the same scale as `fan_chart_svg`."""
    scale = _scale_for(history, forecast)
    points: list[dict[str, Any]] = []
    for p in history:
        day = date.fromisoformat(p["date"])
        points.append({"x": round(scale.x(day), 1), "y": round(scale.y(p["value"]), 1), **p})
    for p in forecast:
        day = date.fromisoformat(p["date"])
        points.append({"x": round(scale.x(day), 1), "y": round(scale.y(p["mean"]), 1), **p})
    return points
