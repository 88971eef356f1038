"""The public HTML page, rendered once per champion version and history window (`?window=`: the fan chart's
history, the one part that differs), and a page for "no champion yet".

Only two pieces depend on the day a request is made — the freshness note and the "today" marker on
the chart — so the page is kept as static parts around those slots and joined for a date
(`ChampionPage.render`); the view renders it once a day and serves those bytes (`ChampionView.page_body`).

The page reads a bundle and the served track-record document; it knows nothing of the service's
view object (which builds it), so the two modules do not import each other.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeGuard

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from gasforecast.platform.config import Settings
from gasforecast.publication.bundle import ForecastBundle
from gasforecast.publication.documents import (
    Breach,
    Decision,
    Evaluation,
    ForecastDocument,
    ForecastPoint,
    HistoryPoint,
    ModelSpec,
    SeriesDeclaration,
    SummaryRow,
)
from service import chart
from service.chart import MONTHS, Scale, format_number, short_date
from service.schemas import ServedTrackRecordPoint, TrackRecord

# The history the fan chart shows (`?window=` on the page): calendar days back from the last observation;
# None is all the bundle holds. Anything else in the query string is the default, never an error.
HISTORY_WINDOWS: dict[str, tuple[str, int | None]] = {"3m": ("3 months", 92), "1y": ("1 year", 366),
                                                      "all": ("All", None)}
DEFAULT_WINDOW = "3m"  # the forecast stays the larger part of a phone-wide chart; a year is one click away
KEY_HORIZONS = {"daily": (7, 30, 90), "business": (5, 21, 63)}  # a week, a month, a quarter
TRACK_CHART_HORIZONS = (7, 30)
TRACK_CHART_POINTS = 120  # the most recent matured forecasts drawn per horizon
STATIC_URL = "/static"
API_BASE = "/api/v1"  # the default series' API; another series answers under /api/v1/series/<id>
_SLOTS = ("freshness", "today")

_templates = Environment(
    loader=PackageLoader("service", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters["price"] = format_number
_templates.filters["long_date"] = lambda text: short_date(date.fromisoformat(text))


def history_window(text: str | None) -> str:
    """The `?window=` value if it names a window, else the default (the page never echoes what it was given)."""
    return text if text in HISTORY_WINDOWS else DEFAULT_WINDOW


def _slot_mark(name: str) -> str:
    return f"<!--slot:{name}-->"


_SLOT_MARKS = re.compile(_slot_mark("(" + "|".join(_SLOTS) + ")"))  # group: the slot's name


def steps(n: int, calendar: str) -> str:
    """"7 days" or "5 trading days": horizons count steps of the series' calendar."""
    unit = "trading day" if calendar == "business" else "day"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def steps_adjective(n: int, calendar: str) -> str:
    """"30-day" or "30-trading-day", as in "30-day forecasts"."""
    return f"{n}-trading-day" if calendar == "business" else f"{n}-day"


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any, places: int = 2) -> str:
    return format_number(value, places) if _is_number(value) else "—"


def _percent(share: Any) -> str:
    return f"{share * 100:.0f} %" if _is_number(share) else "—"


def _timestamp(text: str) -> str:
    """"29 Nov 2026, 17:23 UTC" from an ISO time with a Z or an offset; the text itself if it is not one."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except (AttributeError, ValueError):
        return str(text)
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M} UTC"


def _percent_change(start: float, end: float) -> str:
    """"+1.2 %" or "−0.8 %" (a true minus sign, as wide as the plus)."""
    return f"{(end / start - 1) * 100:+.1f} %".replace("-", "−")


# --- outlook and fan chart ---------------------------------------------------------------------------------

def _key_figures(bundle: ForecastBundle, horizon_max: int, last_value: float | None) -> list[dict[str, Any]]:
    figures = []
    for horizon in sorted({h for h in KEY_HORIZONS[bundle.calendar] if h <= horizon_max} | {horizon_max}):
        point = bundle.points[horizon - 1]
        figures.append({
            "label": f"In {steps(horizon, bundle.calendar)}",
            "date": point.date,
            "mean": point.mean,
            "lower_80": point.lower_80,
            "upper_80": point.upper_80,
            "change": _percent_change(last_value, point.mean) if last_value else None,
        })
    return figures


@dataclass(frozen=True)
class FanChart:
    svg: str
    hover: str  # JSON for the hover script
    description: str  # the forecast in words (the chart's text alternative)
    scale: Scale
    cut_note: str | None  # where the axis cuts the 95 % band, in words (the chart has chevrons there)


def _cut_note(cuts: list[chart.Cut]) -> str | None:
    if not cuts:
        return None
    where = " and ".join(f"{'above the top' if cut.side == 'above' else 'below the bottom'} of the axis from "
                         f"{short_date(cut.day)} ({'▲' if cut.side == 'above' else '▼'})" for cut in cuts)
    return (f"The 95 % band goes on {where}: the axis is kept to the history's scale so the prices stay readable. "
            "The table below has every value.")


def _window_history(points: list[HistoryPoint], window: str) -> list[HistoryPoint]:
    days = HISTORY_WINDOWS[window][1]
    if days is None:
        return points
    since = (date.fromisoformat(points[-1].date) - timedelta(days=days - 1)).isoformat()
    return [p for p in points if p.date >= since]


def _fan_chart(bundle: ForecastBundle, shown: list[ForecastPoint], unit: str, title: str, window: str) -> FanChart:
    history = _window_history(bundle.history.points, window)
    last = history[-1]
    far = shown[-1]
    description = (
        f"Last observed price {format_number(last.value)} {unit} on {last.date}. "
        f"Forecast for {far.date} ({steps(len(shown), bundle.calendar)} ahead): {format_number(far.mean)} {unit}, "
        f"80 % interval {format_number(far.lower_80)} to {format_number(far.upper_80)}."
    )
    hist_days = [date.fromisoformat(p.date) for p in history]
    # The bands and the mean start at the last observation so the fan opens from the known price.
    fan_days = hist_days[-1:] + [date.fromisoformat(p.date) for p in shown]
    history_values = [p.value for p in history]

    def from_last(values: list[float]) -> list[float]:
        return [last.value, *values]

    lower_95, upper_95 = from_last([p.lower_95 for p in shown]), from_last([p.upper_95 for p in shown])
    scale = Scale.covering(hist_days[0], fan_days[-1], history_values + lower_95 + upper_95, core=history_values)
    cuts = chart.band_cuts(scale, fan_days, lower_95, upper_95)
    layers = [
        chart.band(scale, fan_days, lower_95, upper_95, css="band-95", element_id="band-95"),
        chart.band(scale, fan_days, from_last([p.lower_80 for p in shown]), from_last([p.upper_80 for p in shown]),
                   css="band-80", element_id="band-80"),
    ]
    grids = [p.quantiles for p in shown if p.quantiles is not None]
    if len(grids) == len(shown):  # the 50 % band, from the grid where the bundle has it
        layers.append(chart.band(scale, fan_days, from_last([q.q25 for q in grids]), from_last([q.q75 for q in grids]),
                                 css="band-50", element_id="band-50"))
    layers += [
        chart.line(scale, hist_days, history_values, css="history", element_id="history-line"),
        chart.line(scale, fan_days, from_last([p.mean for p in shown]), css="mean", element_id="forecast-mean"),
    ]
    svg = chart.chart_figure("fan-chart", scale, unit=unit, title=title, description=description, layers=layers,
                             overlays=[chart.marker(scale, hist_days[-1], "last data", "split"),
                                       *chart.cut_marks(scale, cuts)],
                             slot=_slot_mark("today"))
    entries = [(d, p.value, f"{p.date}: observed {format_number(p.value)} {unit}") for d, p in zip(hist_days, history, strict=True)]
    entries += [(date.fromisoformat(p.date), p.mean,
                 f"{p.date} ({steps(h, bundle.calendar)} ahead): forecast {format_number(p.mean)} {unit}; "
                 f"80 % {format_number(p.lower_80)}–{format_number(p.upper_80)}; "
                 f"95 % {format_number(p.lower_95)}–{format_number(p.upper_95)}")
                for h, p in enumerate(shown, start=1)]
    return FanChart(svg, _json_for_script(chart.hover_data(scale, entries)), description, scale, _cut_note(cuts))


def _json_for_script(payload: Any) -> str:
    """JSON safe inside a <script> element ("<" escaped, so it can never close the element)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")


# --- accuracy: the nested evaluation, and how the gate chose the model ---------------------------------

NAIVE_LABEL = "naive"
FEW_ORIGINS = 30  # fewer nested origins than this cannot tell a few percent from chance: the page says so
# What each model kind is, in words (gasforecast.forecasting.config.KINDS; docs/model.md#candidates).
KIND_WORDS = {
    "naive": "“no change”: the last price, carried forward",
    "ar": "an autoregression (AR) on log returns",
    "ses": "simple exponential smoothing (SES) of the log price",
    "var": "a vector autoregression (VAR) on log returns",
    "vecm": "a vector error-correction model (VECM) on log prices",
}


def _relative_error(ratio: Any) -> str | None:
    """MAE ratio in words: "7 % smaller than" / "12 % larger than" / "about the same as"."""
    if not _is_number(ratio):
        return None
    change = round((ratio - 1) * 100)
    if change == 0:
        return "about the same as"
    return f"{abs(change)} % {'smaller' if change < 0 else 'larger'} than"


def _p_value(p: Any, level: Any = None) -> str:
    """The test's p-value, with the level the gate held it to when the bundle records one."""
    if not _is_number(p):
        return "p unknown"
    text = "p < 0.001" if p < 0.001 else f"p = {p:.2g}"
    return f"{text}; the gate asks for p below {level:g}" if _is_number(level) else text


def _model_name(label: str) -> Markup:
    """A candidate as the page names it: “no change” for the naive forecast, else its label."""
    return Markup("“no change”") if label == NAIVE_LABEL else Markup("<code>{}</code>").format(label)


def describe_model(config: ModelSpec | None, label: str) -> str:
    """The served configuration in words, e.g. "a vector autoregression (VAR) on log returns, with ttf_price
    as driver, averaged half and half with “no change”"; the label for a bundle without a readable config."""
    if config is None or config.kind not in KIND_WORDS:
        return label
    words = [KIND_WORDS[config.kind]]
    drivers = config.drivers
    if drivers:
        words.append(f"with {' and '.join(drivers)} as driver{'s' if len(drivers) > 1 else ''}")
    if config.seasonal == "weekday":
        words.append("less a weekday profile")
    if config.window_years is not None:
        words.append(f"fitted on the last {config.window_years:g} years")
    weight = config.naive_weight
    if weight > 0:
        share = round(weight * 100)
        words.append("averaged half and half with “no change”" if share == 50 else f"with {share} % weight on “no change”")
    return ", ".join(words)


# The baselines of the nested evaluation (gasforecast.forecasting.evaluation.BASELINES), in an analyst's words.
BASELINE_WORDS = {
    "trailing_gaussian": "bell-curve bands from the last year's daily moves",
    "ewma_gaussian": "RiskMetrics bands (recent moves weighted most, λ = 0.94)",
    "historical_simulation": "the spread of the last year's actual moves over the same number of days",
    "garch_student": "a GARCH(1,1) model with fat tails, refitted at each date",
}


def _evaluation(evaluation: Evaluation | None, calendar: str) -> dict[str, Any] | None:
    """The nested evaluation as the headline figures, or None when the bundle has none."""
    if evaluation is None:
        return None
    crps = evaluation.crps_ratio or {}
    rows = [{"horizon": h, "ratio": _number(evaluation.mae_ratio_to_naive.get(str(h))),
             "coverage_80": _percent(evaluation.coverage_80.get(str(h))),
             "coverage_95": _percent(evaluation.coverage_95.get(str(h))),
             "crps": _number(crps.get(str(h))), "interval": _number(evaluation.interval_score_ratio.get(str(h)))}
            for h in evaluation.horizons]
    origins, served, step = evaluation.origins, evaluation.served, evaluation.step_rows
    served_words = None
    if served:
        counts = sorted(served.items(), key=lambda item: -item[1])
        served_words = Markup(", ").join(
            Markup("{} at {}").format(_model_name(label), f"{count} of them" if len(counts) > 1 else "every one")
            for label, count in counts)
    return {
        "origins": origins,
        "first_origin": evaluation.first_origin,
        "last_origin": evaluation.last_origin,
        "apart": steps(step, calendar) if step is not None else None,
        # per horizon only: an average over horizons let day 1 speak for the month
        "first": rows[0] if rows else None,
        "last": rows[-1] if len(rows) > 1 else None,
        "baseline": BASELINE_WORDS.get(evaluation.baseline) if evaluation.baseline is not None else None,
        "graded": evaluation.crps_ratio is not None and any(value is not None for value in crps.values()),
        "served": served_words,
        "granularity": round(100 / origins),
        "few": origins < FEW_ORIGINS,
        "rows": rows,
    }


def _ratios(metrics: dict[str, dict[str, dict[str, float | None]]], label: str, horizons: list[int],
            half: str) -> list[float | None]:
    per_horizon = metrics.get(label) or {}
    return [(per_horizon.get(str(h)) or {}).get(half) for h in horizons]


def _mean(values: list[Any]) -> float | None:
    numbers = [v for v in values if _is_number(v)]
    return sum(numbers) / len(numbers) if numbers and len(numbers) == len(values) else None


def _errors_words(ratio: str | None) -> Markup:
    return Markup(" (errors {} those of “no change”)").format(ratio) if ratio else Markup("")


def _decision_words(promotion: Decision, candidates: int) -> tuple[Markup, list[Markup]]:
    """(headline, details): what the gate decided and why, from its recorded fields (not its free text)."""
    decision, served, challenger = promotion.decision, promotion.served or "", promotion.challenger or ""
    incumbent, champion = promotion.incumbent, promotion.champion
    p = _p_value(promotion.test.p_value if promotion.test is not None else None, promotion.significance)
    ratio = _relative_error(promotion.challenger_score)
    details: list[Markup] = []
    if decision == "promoted":
        headline = Markup("A model earned its place: {} is served.").format(_model_name(served))
        against = Markup("“no change”") if incumbent == NAIVE_LABEL else Markup("the model served before, {}").format(
            _model_name(incumbent or ""))
        details.append(Markup("It was the best of the {} candidates on the first half of the evaluation stretch. On the "
                              "second half, which it was not chosen on, it did better{}, and the test against {} says "
                              "an edge this size would rarely come from luck ({}).").format(
            candidates, _errors_words(ratio), against, p))
    elif decision == "kept_champion_config":
        headline = Markup("The model in service stays: {}.").format(_model_name(served))
        if challenger == served:
            details.append(Markup("It was again the best of the {} candidates on the first half of the evaluation "
                                  "stretch, and it still beats “no change” clearly on the second half{}.").format(
                candidates, _errors_words(ratio)))
        else:
            details.append(Markup("{} did best on the first half of the evaluation stretch, but on the second half its "
                                  "edge over the model in service is not clear enough to rule out luck ({}), and a "
                                  "change of model needs strong evidence.").format(_model_name(challenger), p))
    else:
        headline = Markup("Kept the naive forecast (“no change”: the last price, carried forward), because no "
                          "candidate beat it significantly.")
        if challenger == NAIVE_LABEL:
            details.append(Markup("None of the other {} candidates did better than “no change” on the first half of "
                                  "the evaluation stretch.").format(candidates - 1))
        elif promotion.challenger_score is not None and promotion.challenger_score >= 1:
            details.append(Markup("The best candidate on the first half of the evaluation stretch, {}, did not beat "
                                  "“no change” on the second half{}.").format(_model_name(challenger),
                                                                             _errors_words(ratio)))
        else:
            details.append(Markup("The best candidate on the first half of the evaluation stretch, {}, was a little "
                                  "closer on the second half{}, but not clearly enough to rule out luck ({}).").format(
                _model_name(challenger), _errors_words(ratio), p))
    if champion and champion not in (NAIVE_LABEL, incumbent):
        lost = ("could not run on the new data" if promotion.champion_score is None
                else "no longer beats “no change” clearly on the second half")
        details.append(Markup("The model served before, {}, {}, so it lost its place.").format(_model_name(champion), lost))
    return headline, details


def _roles(promotion: Decision, label: str) -> str:
    """What a candidate was to the gate, e.g. "served, best on the first half"."""
    served, champion = promotion.served, promotion.champion
    roles = ["kept in service" if label == served == champion else "served" if label == served else
             "served before" if label == champion else "",
             "best on the first half" if label == promotion.challenger else "",
             "baseline" if label == NAIVE_LABEL else ""]
    return ", ".join(role for role in roles if role)


def _model_choice(forecast: ForecastDocument, calendar: str) -> dict[str, Any] | None:
    """How the gate chose the served model, or None for a bundle trained before the stretch and the gate."""
    backtest, promotion = forecast.backtest, forecast.promotion
    if backtest.kind != "stretch" or promotion is None or promotion.served is None or promotion.challenger is None:
        return None
    metrics, horizons, stretch = backtest.metrics, backtest.horizons, backtest.stretch
    headline, details = _decision_words(promotion, len(metrics))
    # The models the gate weighed, side by side (naive is 1 by definition, so it needs no column).
    weighed = [label for label in dict.fromkeys((promotion.served, promotion.challenger, promotion.champion))
               if label is not None and label in metrics and label != NAIVE_LABEL]
    columns = [{"roles": _roles(promotion, label), "label": label,
                "ratios": _ratios(metrics, label, horizons, "test_ratio")} for label in weighed]
    rows = [{"horizon": h, "cells": [_number(column["ratios"][i]) for column in columns]}
            for i, h in enumerate(horizons)]
    candidates: list[dict[str, Any]] = []
    for label in metrics:
        selection = _mean(_ratios(metrics, label, horizons, "selection_ratio"))
        test = _mean(_ratios(metrics, label, horizons, "test_ratio"))
        candidates.append({"label": label, "selection": _number(selection), "test": _number(test),
                           "roles": _roles(promotion, label),
                           "order": selection if selection is not None else float("inf")})
    candidates.sort(key=lambda row: row["order"])
    return {
        "headline": headline,
        "details": details,
        "origins": backtest.origins,
        "first_origin": stretch.first_origin if stretch is not None else backtest.first_origin,
        "test_from": stretch.test_from if stretch is not None else None,
        "last_origin": stretch.last_origin if stretch is not None else backtest.last_origin,
        "columns": columns,
        "rows": rows,
        "candidates": candidates,
        "reason": promotion.reason,
    }


# --- the live track record ---------------------------------------------------------------------------------

def _status_note(track: TrackRecord, calendar: str) -> tuple[str, str]:
    """(css class, plain words) for the record's status."""
    status = track.status
    if status == "no_track_record":
        return "pending", ("No track record yet. Every forecast that is served is kept; once the prices it "
                          "forecast arrive with later uploads, this section shows how it did.")
    if status == "no_scores":
        return "pending", (f"{track.forecasts} served forecast(s) kept so far; none has reached its date with "
                          "a price yet. Scores appear as prices arrive.")
    if status == "too_few_points":
        return "pending", (f"Early days: fewer than {track.thresholds.min_points} scored forecasts per horizon so "
                          "far, so read these figures as anecdotes rather than evidence.")
    if status == "degraded":
        details = "; ".join(_breach_words(breach, calendar) for breach in track.breaches)
        return "warning", f"Recent forecasts have done worse than they should over their last scored points: {details}."
    return "ok", "Recent forecasts are within the expected range (checked on the last 30 scored per horizon)."


def _breach_words(breach: Breach, calendar: str) -> str:
    who = f"{steps_adjective(breach.horizon, calendar)} forecasts"
    if breach.measure == "mae_ratio":
        return f"{who}: errors {breach.value:.2f} × those of “no change” (limit {breach.threshold:.2f})"
    band = "80 %" if breach.measure == "coverage_80" else "95 %"
    return (f"{who}: share inside the {band} band {breach.value * 100:.0f} % "
            f"(limit {breach.threshold * 100:.0f} %)")


def _score_sentence(row: SummaryRow, calendar: str) -> str:
    text = (f"{steps_adjective(row.horizon, calendar).capitalize()} forecasts were closer than “no change” "
            f"{_percent(row.closer_than_naive)} of the time ({row.points} scored)")
    relative = _relative_error(row.mae_ratio)
    if relative:
        text += f"; their average error was {relative} that of “no change”"
    return text + f", and the 80 % band held the price {_percent(row.coverage_80)} of the time."


def _score_rows(track: TrackRecord, calendar: str) -> list[dict[str, Any]]:
    """Table rows: all time per horizon, plus the last 30 when there are more than 30 points."""
    by_key: dict[tuple[int, str], SummaryRow] = {(row.horizon, row.window): row for row in track.summary}
    rows = []
    for horizon in track.horizons:
        everything = by_key.get((horizon, "all"))
        if not everything or not everything.points:
            continue
        windows = [("all", "all"), ("last_30", "last 30")] if everything.points > 30 else [("all", "all")]
        for key, label in windows:
            row = by_key[(horizon, key)]
            rows.append({"horizon": steps(horizon, calendar), "window": label, "points": row.points,
                         "closer": _percent(row.closer_than_naive), "ratio": _number(row.mae_ratio),
                         "coverage_80": _percent(row.coverage_80), "coverage_95": _percent(row.coverage_95)})
    return rows


def _track_chart(horizon: int, points: list[ServedTrackRecordPoint], history: list[HistoryPoint], unit: str,
                 calendar: str) -> dict[str, Any]:
    """Realised prices against the forecasts made `horizon` steps earlier, with their 80 % and 95 % bands."""
    shown = points[-TRACK_CHART_POINTS:]
    days = [date.fromisoformat(p.target_date) for p in shown]
    # From the first of these forecasts' origins, so the price they started from is in view, to the last
    # forecast's date: nothing is drawn after it (no empty tail), bar a margin of 2 % so its bar shows whole.
    first = min(date.fromisoformat(p.forecast_date) for p in shown)
    first -= timedelta(days=max(3, (days[-1] - first).days // 30))
    last = days[-1]
    realised = [p for p in history if first.isoformat() <= p.date <= last.isoformat()]
    real_days = [date.fromisoformat(p.date) for p in realised]
    values = [p.value for p in realised] + [p.lower_95 for p in shown] + [p.upper_95 for p in shown]
    scale = Scale.covering(first, last, values, margin_days=math.ceil((last - first).days / 50))
    chart_id = f"track-chart-{horizon}"
    layers = [
        chart.bars(scale, days, [p.lower_95 for p in shown], [p.upper_95 for p in shown], css="band-95"),
        chart.bars(scale, days, [p.lower_80 for p in shown], [p.upper_80 for p in shown], css="band-80"),
        chart.line(scale, real_days, [p.value for p in realised], css="history"),
        chart.marks(scale, days, [p.mean for p in shown], css="mean"),
    ]
    ahead = steps(horizon, calendar)
    inside = sum(p.inside_80 for p in shown)
    title = f"Prices against the forecasts made {ahead} earlier"
    description = (f"{len(shown)} forecasts made {ahead} before their date, from {shown[0].target_date} to "
                   f"{shown[-1].target_date}: the price fell inside the 80 % band {inside} times.")
    entries = [(d, p.actual,
                f"{p.target_date}: price {format_number(p.actual)} {unit}"
                + (f" (revised after scoring to {format_number(p.revised_actual)})" if p.revised_actual is not None
                   else "")
                + f"; forecast made {p.forecast_date} (v{p.model_version}) {format_number(p.mean)}, 80 % "
                f"{format_number(p.lower_80)}–{format_number(p.upper_80)} — "
                f"{'inside' if p.inside_80 else 'outside'} the band")
               for d, p in zip(days, shown, strict=True)]
    return {
        "id": chart_id,
        "heading": f"Forecasts made {ahead} earlier",
        "svg": chart.chart_figure(chart_id, scale, unit=unit, title=title, description=description, layers=layers),
        "hover": _json_for_script(chart.hover_data(scale, entries)),
        "points": list(reversed(shown)),
    }


def _track_section(track: TrackRecord, bundle: ForecastBundle) -> dict[str, Any]:
    calendar = track.calendar
    css, note = _status_note(track, calendar)
    all_rows = [row for row in track.summary if row.window == "all" and row.points]
    horizons = [h for h in TRACK_CHART_HORIZONS if h in track.horizons] or track.horizons[-1:]
    charts = []
    for horizon in horizons:
        points = [p for p in track.points if p.horizon == horizon]
        if points:
            charts.append(_track_chart(horizon, points, bundle.history.points, track.unit, calendar))
    return {
        "note_class": css,
        "note": note,
        "sentences": [_score_sentence(row, calendar) for row in all_rows],
        "rows": _score_rows(track, calendar),
        "charts": charts,
        "data_through": track.data_through,
        "revised": sum(point.revised_after_scoring for point in track.points),
    }


# --- the page -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ChampionPage:
    """The page as static parts around its per-request slots (freshness note, "today" marker)."""

    parts: tuple[str, ...]
    slots: tuple[str, ...]
    data_last_date: date
    forecast_dates: tuple[str, ...]
    fan_scale: Scale
    stale_after_days: int

    def render(self, today: date) -> str:
        fragments = {"freshness": self._freshness(today), "today": self._today_marker(today)}
        out = [self.parts[0]]
        for slot, part in zip(self.slots, self.parts[1:], strict=True):
            out += [fragments[slot], part]
        return "".join(out)

    def _freshness(self, today: date) -> str:
        age = (today - self.data_last_date).days
        stale = age > self.stale_after_days
        when = "today" if age == 0 else "1 day ago" if age == 1 else f"{age} days ago"
        last = self.data_last_date.isoformat()
        text = f'Data through <time datetime="{last}">{last}</time> ({when}).'
        if stale:
            past = sum(1 for day in self.forecast_dates if day < today.isoformat())
            text += (f" Older than {self.stale_after_days} days: new data may not have arrived. The forecast counts "
                     f"from {last}, so {'all' if past == len(self.forecast_dates) else past} of its "
                     f"{len(self.forecast_dates)} dates are already past.")
        return f'<p id="freshness" class="freshness {"stale" if stale else "fresh"}">{text}</p>'

    def _today_marker(self, today: date) -> str:
        return chart.marker(self.fan_scale, today, "today", "today", row=1) if self.fan_scale.contains(today) else ""


def champion_pages(bundle: ForecastBundle, settings: Settings, horizon_max: int, track: TrackRecord,
                   series: SeriesDeclaration, api_base: str = API_BASE) -> dict[str, ChampionPage]:
    """Render the page of one champion once per history window (called once per version, in the refresh
    thread): window name → page. Only the fan chart differs between them.

    `track` is the served track-record document (`/api/v1/track-record`); `series` what the series is, as
    training declared it (the page's title, and its synthetic notice); `api_base` is where this series'
    API answers (its links and downloads point there).
    """
    forecast = bundle.forecast
    unit = forecast.unit
    shown = forecast.points[:horizon_max]
    last = bundle.history.points[-1]
    title = f"{series.label}: history and forecast"
    common = dict(
        settings=settings,
        series=series,
        label=series.label,
        unit=unit,
        calendar=bundle.calendar,
        version=bundle.version,
        run_id=bundle.run_id,
        model=forecast.model,
        forecast=forecast,
        figures=_key_figures(bundle, horizon_max, last.value),
        points=shown,
        last=last,
        step_unit="trading day" if bundle.calendar == "business" else "day",
        model_words=describe_model(forecast.model.config, forecast.model.label),
        trained_at=_timestamp(forecast.trained_at),
        evaluation=_evaluation(forecast.evaluation, bundle.calendar),
        choice=_model_choice(forecast, bundle.calendar),
        promotion=forecast.promotion,
        fan_graded=all(p.quantiles is not None for p in shown),
        track=_track_section(track, bundle),
        static_url=STATIC_URL,
        api_base=api_base,
        slot=_slot_mark,
        windows=[(name, words) for name, (words, _) in HISTORY_WINDOWS.items()],
    )
    pages = {}
    for window in HISTORY_WINDOWS:
        fan = _fan_chart(bundle, shown, unit, title, window)
        html = _templates.get_template("index.html").render(**common, fan=fan, window=window)
        pieces = _SLOT_MARKS.split(html)  # static parts, each slot's name between two of them
        pages[window] = ChampionPage(tuple(pieces[0::2]), tuple(pieces[1::2]),
                                     date.fromisoformat(forecast.data.last_date), tuple(p.date for p in shown),
                                     fan.scale, settings.stale_after_days)
    return pages


def render_template(name: str, **context: object) -> str:
    """One of the service's templates, with the page's filters (price, long_date…)."""
    return _templates.get_template(name).render(**context)


def no_champion_page(settings: Settings, reason: str | None) -> str:
    """What an analyst sees before the first model is promoted: what is missing and what to do."""
    return _templates.get_template("no_champion.html").render(settings=settings, label=settings.target_label,
                                                              reason=reason, static_url=STATIC_URL,
                                                              api_base=API_BASE)
