"""The overview page: every served series on one page (GET / when more than the default series is served).

Each champion's view carries a `SeriesCard` built once per version (`card`); a request only joins
the cards of the current champions, and the HTML is kept until a champion or the day changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from gasforecast.publication.bundle import ForecastBundle
from gasforecast.publication.documents import SeriesDeclaration
from service.page import STATIC_URL, render_template
from service.schemas import TrackRecord

SPARK_WIDTH, SPARK_HEIGHT = 240, 56
SPARK_HISTORY = 90  # observations before the forecast in the small chart
OUTLOOK_STEPS = (7, 30)


@dataclass(frozen=True)
class Outlook:
    steps: int
    date: str
    mean: float
    lower_80: float
    upper_80: float


@dataclass(frozen=True)
class SeriesCard:
    """What the overview shows of one series' champion."""

    series: str
    label: str
    synthetic: bool
    unit: str
    version: str | None
    last_date: str
    last_value: float
    outlook: tuple[Outlook, ...]
    track_status: str
    spark_svg: str


def card(series: str, declaration: SeriesDeclaration, bundle: ForecastBundle, horizon_max: int,
         track: TrackRecord | None) -> SeriesCard:
    forecast = bundle.forecast
    last = bundle.history.points[-1]
    points = forecast.points[:horizon_max]
    outlook = tuple(Outlook(h, p.date, p.mean, p.lower_80, p.upper_80)
                    for h in OUTLOOK_STEPS if h <= len(points) for p in (points[h - 1],))
    history = [p.value for p in bundle.history.points[-SPARK_HISTORY:]]
    return SeriesCard(series, declaration.label, declaration.synthetic, forecast.unit, bundle.version, last.date, last.value, outlook,
                      track.status if track is not None else "no_track_record",
                      sparkline(history, [p.mean for p in points], [p.lower_80 for p in points],
                                [p.upper_80 for p in points]))


def sparkline(history: list[float], mean: list[float], lower: list[float], upper: list[float]) -> str:
    """A small chart: the recent history, then the forecast mean inside its 80 % band (no axes: the
    figures beside it carry the numbers)."""
    values = [*history, *lower, *upper]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    count = len(history) + len(mean)
    step = SPARK_WIDTH / max(count - 1, 1)

    def xy(index: int, value: float) -> str:
        return f"{index * step:.1f},{SPARK_HEIGHT - 2 - (value - low) / span * (SPARK_HEIGHT - 4):.1f}"

    start = len(history) - 1
    band = [xy(start + 1 + i, v) for i, v in enumerate(upper)] + \
        [xy(start + 1 + i, v) for i, v in reversed(list(enumerate(lower)))]
    past = " ".join(xy(i, v) for i, v in enumerate(history))
    ahead = " ".join([xy(start, history[-1])] + [xy(start + 1 + i, v) for i, v in enumerate(mean)])
    return (f'<svg class="spark" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" width="{SPARK_WIDTH}" '
            f'height="{SPARK_HEIGHT}" role="img" aria-label="recent prices and the forecast with its 80 % band">'
            f'<polygon class="band80" points="{" ".join(band)}"/>'
            f'<polyline class="line history" points="{past}"/>'
            f'<polyline class="line forecast" points="{ahead}"/></svg>')


def overview_html(cards: list[SeriesCard], today: date, stale_after_days: int, title: str) -> str:
    """The overview page for `cards` (the default series first)."""
    ages = {c.series: (today - date.fromisoformat(c.last_date)).days for c in cards}
    return render_template("overview.html", cards=cards, ages=ages, stale_after_days=stale_after_days,
                           title=title, static_url=STATIC_URL)
