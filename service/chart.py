"""Charts as server-side SVG whose text never shrinks: the fan chart and the track-record charts.

Drawn once per champion version (no charting library, no CDN, nothing for the browser to fetch).
Why this geometry: a chart scaled into a phone's width through a `viewBox` shrinks its text with it
(13 px became 6 px at 390 px wide). Here the outer SVG has no viewBox — its units are CSS pixels and
its text keeps its size — and only the plot area is a nested SVG stretched to the chart's width
(`preserveAspectRatio="none"`, strokes kept by `vector-effect: non-scaling-stroke`). Horizontal
positions of labels and markers are percentages of the width; vertical ones are pixels.

The y-axis labels live in a gutter of their own, a small SVG left of the chart sized to the longest
label (`chart_figure`): drawn inside the plot, the price line ran through them. A band the axis cuts
(the scale may not stretch to a very wide band, see `Scale.covering`) gets a chevron at the edge
where it leaves (`band_cuts`, `cut_marks`) and the page says so in words.

The hover script (`static/charts.js`) reads the coordinates and texts embedded by `hover_data`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape
from typing import Any, Literal

PLOT_WIDTH = 1000  # x units of the plot area; they stretch to the chart's width
HEIGHT = 340  # pixels
TOP, BOTTOM = 52, 38  # the unit and two rows of marker labels above the plot, two-line date labels below
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM
MAX_DATE_LABELS = 6  # fits a 280 px wide plot (a phone, less the gutter)
MIN_DATE_LABELS = 3  # fewer month starts than this in view: days or weeks are labelled instead
EDGE_PERCENT = 6  # no date label this close to either edge: centred there, the edge of a 330 px chart cut "Mar"
DIGIT_PX, GUTTER_PAD = 7, 10  # a 12 px label's digit width (grouping commas are narrower), room either side
CHEVRON = 7  # half-width and height, pixels, of the mark where a band leaves the axis
BAND_ROOM = 1.0  # bands may stretch the y range by at most this many history ranges each way
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 × 10^k apart) covering [low, high]."""
    raw_step = (high - low) / max(count, 1) or (abs(high) * 0.1 or 1.0)
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw_step)
    ticks = [math.floor(low / step) * step]
    while len(ticks) < 2 or ticks[-1] < high - step * 1e-9:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def decimals_for(step: float) -> int:
    """Fewest decimals that write every multiple of `step` exactly (2.5 → 1, 0.25 → 2, 500 → 0)."""
    for places in range(7):
        scaled = step * 10**places
        if abs(scaled - round(scaled)) < 1e-6 * max(1.0, scaled):
            return places
    return 6


def format_number(value: float, places: int = 2) -> str:
    """Digits grouped by thousands: 1,234,567.89."""
    return f"{value:,.{places}f}"


def short_date(day: date) -> str:
    """"Mon 6 Jan 2025": unambiguous in every locale, and short enough for a card."""
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


@dataclass(frozen=True)
class Scale:
    """Maps dates to plot x units (0..PLOT_WIDTH) and prices to plot y pixels (0..PLOT_HEIGHT)."""

    first: date
    last: date  # the last date drawn: no tick, point or line goes past it
    ticks: tuple[float, ...]  # round values on the y axis; the first and last bound the plot
    margin_days: int = 0  # room after `last`, so a bar or mark drawn on `last` shows whole (nothing else is drawn in it)

    @classmethod
    def covering(cls, first: date, last: date, values: Sequence[float], core: Sequence[float] = (),
                 margin_days: int = 0) -> Scale:
        """A scale over `values`; with `core` (the history), the rest may widen its range only so much,
        so that a very wide band never squeezes the history into a flat line."""
        low, high = min(values), max(values)
        if core:
            room = BAND_ROOM * max(max(core) - min(core), abs(max(core)) * 0.05)
            low, high = max(low, min(core) - room), min(high, max(core) + room)
        return cls(first, max(last, first + timedelta(days=1)), tuple(nice_ticks(low, high)), margin_days)

    @property
    def low(self) -> float:
        return self.ticks[0]

    @property
    def high(self) -> float:
        return self.ticks[-1]

    def x(self, day: date) -> float:
        return (day - self.first).days / ((self.last - self.first).days + self.margin_days) * PLOT_WIDTH

    def percent(self, day: date) -> float:
        """The date's position as a percentage of the chart's width (for labels and markers)."""
        return self.x(day) / PLOT_WIDTH * 100

    def y(self, value: float) -> float:
        return (self.high - value) / (self.high - self.low) * PLOT_HEIGHT

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


def _path(points: Sequence[tuple[float, float]]) -> str:
    return "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in points)


def line(scale: Scale, days: Sequence[date], values: Sequence[float], *, css: str, element_id: str = "") -> str:
    """A polyline through the points; nothing at all without points (an empty path is an SVG error)."""
    if not days:
        return ""
    ident = f' id="{element_id}"' if element_id else ""
    return f'<path{ident} class="line {css}" d="{_path([(scale.x(d), scale.y(v)) for d, v in zip(days, values, strict=True)])}"/>'


def band(scale: Scale, days: Sequence[date], lower: Sequence[float], upper: Sequence[float], *, css: str,
         element_id: str = "") -> str:
    top = [(scale.x(d), scale.y(v)) for d, v in zip(days, upper, strict=True)]
    bottom = [(scale.x(d), scale.y(v)) for d, v in zip(reversed(days), reversed(lower), strict=True)]
    ident = f' id="{element_id}"' if element_id else ""
    return f'<path{ident} class="band {css}" d="{_path(top + bottom)}Z"/>'


def bars(scale: Scale, days: Sequence[date], lower: Sequence[float], upper: Sequence[float], *, css: str) -> str:
    """Vertical intervals, one per date (for forecasts made at separate times)."""
    segments = "".join(f"M{scale.x(d):.1f},{scale.y(hi):.1f}V{scale.y(lo):.1f}" for d, lo, hi in zip(days, lower, upper, strict=True))
    return f'<path class="bars {css}" d="{segments}"/>'


def marks(scale: Scale, days: Sequence[date], values: Sequence[float], *, css: str) -> str:
    """Short horizontal strokes at each value (a dot would stretch into an ellipse in the plot area)."""
    half = min(max(0.35 * PLOT_WIDTH / max((scale.last - scale.first).days, 1), 5.0), 10.0)
    segments = "".join(f"M{scale.x(d) - half:.1f},{scale.y(v):.1f}h{2 * half:.1f}" for d, v in zip(days, values, strict=True))
    return f'<path class="marks {css}" d="{segments}"/>'


def marker(scale: Scale, day: date, label: str, css: str, row: int = 0) -> str:
    """A labelled vertical line at `day` across the plot (e.g. "today", "last data"), its label above the plot
    (where no line can run through it); `row` 1 puts the label on the second row, so two markers a few days
    apart keep readable labels."""
    pct = scale.percent(day)
    anchor, shift = ("end", -4) if pct > 80 else ("start", 4)
    label_y = TOP - 20 + 14 * row
    return (f'<g class="marker {css}" aria-hidden="true"><line x1="{pct:.2f}%" x2="{pct:.2f}%" y1="{label_y - 10}" '
            f'y2="{TOP + PLOT_HEIGHT}"/><text x="{pct:.2f}%" dx="{shift}" y="{label_y}" '
            f'text-anchor="{anchor}">{escape(label)}</text></g>')


Side = Literal["above", "below"]


@dataclass(frozen=True)
class Cut:
    """Where a band first leaves the axis on one side (the plot clips it there)."""

    side: Side
    day: date


def band_cuts(scale: Scale, days: Sequence[date], lower: Sequence[float], upper: Sequence[float]) -> list[Cut]:
    """The first date at which the band goes past the top of the axis, and the first past its bottom."""
    sides: tuple[tuple[Side, list[bool]], ...] = (("above", [hi > scale.high for hi in upper]),
                                                  ("below", [lo < scale.low for lo in lower]))
    return [Cut(side, days[beyond.index(True)]) for side, beyond in sides if any(beyond)]


def cut_marks(scale: Scale, cuts: Sequence[Cut]) -> list[str]:
    """A chevron at the plot's edge where each cut band leaves it, pointing the way the band goes on."""
    marks = []
    for cut in cuts:
        if cut.side == "above":
            y, shape = TOP + CHEVRON + 1, f"M{-CHEVRON},0L0,{-CHEVRON}L{CHEVRON},0Z"
        else:
            y, shape = TOP + PLOT_HEIGHT - CHEVRON - 1, f"M{-CHEVRON},0L0,{CHEVRON}L{CHEVRON},0Z"
        marks.append(f'<svg class="cut-mark cut-{cut.side}" x="{scale.percent(cut.day):.2f}%" y="{y}" '
                     f'overflow="visible" aria-hidden="true"><path d="{shape}"/></svg>')
    return marks


def _labelled(first: date, last: date, days: list[date]) -> list[date]:
    """The dates far enough from both edges to carry a centred label."""
    span = (last - first).days
    return [day for day in days if EDGE_PERCENT <= (day - first).days / span * 100 <= 100 - EDGE_PERCENT]


def _month_starts(first: date, last: date, every: int) -> list[date]:
    """Starts of months first..last whose month number is a multiple of `every` from January."""
    starts, year, month = [], first.year, first.month
    while date(year, month, 1) <= last:
        if (month - 1) % every == 0:
            starts.append(date(year, month, 1))
        month, year = (1, year + 1) if month == 12 else (month + 1, year)
    return starts


def date_ticks(first: date, last: date) -> list[date]:
    """Dates to label on the x axis: month starts (every 1, 2, 3, 6 or 12 months) when at least
    MIN_DATE_LABELS of them are in view, else days (every 1 or 2), Mondays, days every 3 to 5, or every other
    Monday, the first that gives MIN_DATE_LABELS — at most MAX_DATE_LABELS, and never at the very edges. A
    week-long chart gets days, not one lonely tick."""
    span = (last - first).days
    for every in (1, 2, 3, 6, 12, 24, 60):
        months = _labelled(first, last, _month_starts(first, last, every))
        if len(months) <= MAX_DATE_LABELS:
            if len(months) >= MIN_DATE_LABELS or every > 1:
                return months
            break
    monday = first + timedelta(days=-first.weekday() % 7)
    fitting = [days for days in (_labelled(first, last, [start + timedelta(days=k) for k in range(0, span + 1, step)])
                                 for step, start in ((1, first), (2, first), (7, monday), (3, first), (4, first),
                                                     (5, first), (14, monday)))
               if len(days) <= MAX_DATE_LABELS]
    return next((days for days in fitting if len(days) >= MIN_DATE_LABELS),
                fitting[0] if fitting else _labelled(first, last, _month_starts(first, last, 1)))


def tick_labels(scale: Scale) -> list[str]:
    """The y-axis labels, written with as many decimals as the step needs."""
    places = decimals_for(scale.ticks[1] - scale.ticks[0])
    return [format_number(tick, places) for tick in scale.ticks]


def _gutter(scale: Scale) -> str:
    """The y-axis labels in an SVG of their own left of the chart, right-aligned against the plot."""
    labels = tick_labels(scale)
    width = GUTTER_PAD + DIGIT_PX * max(len(label) for label in labels)
    texts = "".join(f'<text class="tick-label" x="{width - 4}" y="{TOP + scale.y(tick) + 4:.1f}" '
                    f'text-anchor="end">{label}</text>' for tick, label in zip(scale.ticks, labels, strict=True))
    return (f'<svg class="y-gutter" width="{width}" height="{HEIGHT}" aria-hidden="true">'
            f'<g class="axis y-axis">{texts}</g></svg>')


def _axes(scale: Scale, unit: str) -> list[str]:
    parts = [f'<text class="axis-title" x="0" y="14">{escape(unit)}</text>', '<g class="axis grid-lines" aria-hidden="true">']
    for tick in scale.ticks:
        y = TOP + scale.y(tick)
        parts.append(f'<line class="grid" x1="0" x2="100%" y1="{y:.1f}" y2="{y:.1f}"/>')
    parts.append('</g><g class="axis x-axis" aria-hidden="true">')
    labelled_year = None
    bottom = TOP + PLOT_HEIGHT
    for day in date_ticks(scale.first, scale.last):
        pct = scale.percent(day)
        if pct > 100 - EDGE_PERCENT:  # (the margin after `last` moved it towards the edge)
            continue
        text = MONTHS[day.month - 1] if day.day == 1 else f"{day.day} {MONTHS[day.month - 1]}"
        parts.append(f'<line class="tick" x1="{pct:.2f}%" x2="{pct:.2f}%" y1="{bottom}" y2="{bottom + 5}"/>')
        parts.append(f'<text x="{pct:.2f}%" y="{bottom + 18}" text-anchor="middle">{text}</text>')
        if day.year != labelled_year:
            parts.append(f'<text class="year" x="{pct:.2f}%" y="{bottom + 33}" text-anchor="middle">{day.year}</text>')
            labelled_year = day.year
    parts.append("</g>")
    return parts


def chart_figure(chart_id: str, scale: Scale, *, unit: str, title: str, description: str, layers: Sequence[str],
                 overlays: Sequence[str] = (), slot: str = "") -> str:
    """The y-axis gutter beside an accessible chart (role=img with title and description): axes, then
    `layers` drawn in plot units, then `overlays` (markers) and the hover elements, and the hover's tooltip;
    `slot` is a placeholder for a per-request overlay."""
    return "".join([
        '<div class="chart-frame">',
        _gutter(scale),
        '<div class="chart-wrap">',
        f'<svg id="{chart_id}" class="chart-svg" width="100%" height="{HEIGHT}" role="img" tabindex="0" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" data-hover="{chart_id}-data">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        *_axes(scale, unit),
        f'<svg class="plot" x="0" y="{TOP}" width="100%" height="{PLOT_HEIGHT}" '
        f'viewBox="0 0 {PLOT_WIDTH} {PLOT_HEIGHT}" preserveAspectRatio="none">',
        *layers,
        "</svg>",
        *overlays,
        slot,
        f'<g class="hover" visibility="hidden" aria-hidden="true"><line x1="0" x2="0" y1="{TOP}" '
        f'y2="{TOP + PLOT_HEIGHT}"/><circle r="4" cx="0" cy="0"/></g>',
        "</svg>",
        '<div class="tooltip" hidden></div></div></div>',
    ])


def hover_data(scale: Scale, entries: Sequence[tuple[date, float, str]]) -> list[dict[str, Any]]:
    """What the hover script needs per point: x in plot units, y in chart pixels, the read-out text."""
    return [{"x": round(scale.x(day), 1), "y": round(TOP + scale.y(value), 1), "text": text}
            for day, value, text in sorted(entries, key=lambda entry: entry[0])]
