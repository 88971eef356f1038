"""Promotion sanity: is a forecast bundle fit to be served at all?

Independent of how good the model is (that is the promotion gate's business): a bundle is
**servable** only when every point of its forecast is a finite, positive price and its 95 % band
`BAND_STEP` steps ahead is not wider than `MAX_BAND_RATIO` times the band a Gaussian random walk
would give with the *recent, robust* volatility of the bundle's own history: the standard deviation
of its last `RECENT_RETURNS` one-step log returns, winsorized at `TRIM` on each side, so that one
mistyped price (a ×10 spike and its return) does not vouch for the band it blew up. Training refuses
to register an unservable bundle, and the service refuses to serve one (a fresh instance falls back
to the newest servable version).

The multiple comes from real data (bench/sanity_bands.py, docs/model.md#promotion-sanity): on UK NBP
prices (weekly origins 2019-2025) the genuine forecasts' ratio never exceeded 5.6 (July 2019, when the
price had halved in a year), while one price mistyped by ×10 or ÷10 in the last 40 days gave 17 to 39
and by ×5 12 to 27.

The **level guard** (`level_guard`) is the second half of promotion sanity, judged against the
*served* champion rather than the bundle's own history: a challenger whose mean `LEVEL_STEP` steps
ahead departs from the champion's mean at the same step by more than `MAX_LEVEL_SHIFT` times the
champion's 95 % band half-width (both in logs) is held, so no sequence of individually plausible uploads
(e.g. the whole history rescaled ×1.4, then ×10) moves the public forecast silently; only an explicit
forced retrain promotes it. Without a champion (or with an unreadable one) the guard does not apply.

Pure Python on purpose: the service imports this module and carries neither pandas nor statsmodels.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

from gasforecast.publication.bundle import POINT_FIELDS, ForecastBundle

BAND_STEP = 30
MAX_BAND_RATIO = 8.0
RECENT_RETURNS = 120
TRIM = 0.05
Z_95 = 1.959964
MIN_HISTORY_RETURNS = 30  # fewer log returns cannot tell what a plausible band is
LEVEL_STEP = BAND_STEP  # the step whose means the level guard compares
MAX_LEVEL_SHIFT = 2.0  # at most this many champion 95 % half-widths (logs) between the two means
_PRICE_FIELDS = tuple(name for name in POINT_FIELDS if name != "date")


@dataclass(frozen=True)
class SanityReport:
    """The verdict and its figures (logged on refusal, stored as `sanity` in forecast.json)."""

    servable: bool
    reasons: tuple[str, ...]
    step: int | None  # the step whose band is compared (BAND_STEP, or the last one if fewer)
    band_log_width: float | None  # log(upper_95 / lower_95) at that step
    naive_log_width: float | None  # 2 · 1.96 · σ · √step
    band_ratio: float | None
    history_sigma: float | None  # σ: robust recent volatility of the history (see the module docstring)
    history_returns: int  # how many recent log returns σ is computed from
    max_band_ratio: float = MAX_BAND_RATIO

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return {k: _json_number(v) for k, v in data.items()}


def _json_number(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def _price(value: Any) -> float | None:
    """A finite positive number, or None (strings, booleans, NaN, inf, zero and below are not prices)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def robust_sigma(values: Iterable[Any]) -> tuple[float | None, int]:
    """σ of the last `RECENT_RETURNS` one-step log returns between consecutive usable prices,
    winsorized at `TRIM` on each side; and how many returns it used."""
    prices = [p for p in (_price(v) for v in values) if p is not None]
    returns = [math.log(b / a) for a, b in pairwise(prices)][-RECENT_RETURNS:]
    if len(returns) < 2:
        return None, len(returns)
    ordered = sorted(returns)
    cut = int(len(ordered) * TRIM)
    low, high = ordered[cut], ordered[-cut - 1]
    clipped = [min(max(r, low), high) for r in returns]
    mean = sum(clipped) / len(clipped)
    variance = sum((r - mean) ** 2 for r in clipped) / (len(clipped) - 1)
    return math.sqrt(variance), len(returns)


def check(points: Sequence[dict[str, Any]], history_values: Iterable[Any]) -> SanityReport:
    """Judge forecast `points` (the API point format) against the `history_values` they continue."""
    reasons: list[str] = []
    if not points:
        reasons.append("the forecast has no points")
    bad = [(i + 1, name) for i, point in enumerate(points) for name in _PRICE_FIELDS
           if _price(point.get(name) if isinstance(point, dict) else None) is None]
    if bad:
        first_step, name = bad[0]
        reasons.append(f"{len(bad)} forecast values are not finite positive prices (first: step {first_step}, {name})")
    elif any(point["lower_95"] > point["upper_95"] for point in points):
        reasons.append("a 95 % band has its lower bound above its upper bound")
    sigma, count = robust_sigma(history_values)
    step: int | None = min(BAND_STEP, len(points)) or None
    band = naive = ratio = None
    if step is not None and not bad:
        last = points[step - 1]
        band = math.log(float(last["upper_95"]) / float(last["lower_95"]))
    if sigma is None or count < MIN_HISTORY_RETURNS:
        reasons.append(f"the history has {count} usable log returns; at least {MIN_HISTORY_RETURNS} are needed")
    elif step is not None:
        naive = 2 * Z_95 * sigma * math.sqrt(step)
        if band is not None:
            ratio = band / naive if naive > 0 else math.inf
            if ratio > MAX_BAND_RATIO:
                reasons.append(f"the {step}-step 95 % band is {ratio:.2f} times the naive Gaussian band "
                               f"(at most {MAX_BAND_RATIO:g})")
    return SanityReport(servable=not reasons, reasons=tuple(reasons), step=step, band_log_width=band,
                        naive_log_width=naive, band_ratio=ratio, history_sigma=sigma, history_returns=count)


def check_bundle(bundle: ForecastBundle) -> SanityReport:
    """`check` on a bundle as stored: its points and its `history.json` values."""
    return check([point.to_json_dict() for point in bundle.points], (point.value for point in bundle.history.points))


@dataclass(frozen=True)
class LevelReport:
    """The level guard's verdict (stored as `sanity.level_guard` in forecast.json, logged when held)."""

    applies: bool  # False without a (readable) champion: nothing is served to depart from
    passed: bool
    reasons: tuple[str, ...]
    step: int | None  # the step whose means are compared (LEVEL_STEP, or the last common one)
    challenger_mean: float | None
    champion_mean: float | None
    log_shift: float | None  # |log(challenger mean) − log(champion mean)|
    champion_half_width: float | None  # log(upper_95 / lower_95) / 2 of the champion at that step
    shift_ratio: float | None  # log_shift / champion_half_width
    champion_version: str | None = None
    note: str | None = None  # why the guard does not apply, or what a forced retrain overrode
    overridden: bool = False  # held, but promoted by a forced retrain (an explicit operator action)
    max_level_shift: float = MAX_LEVEL_SHIFT

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reasons"] = list(self.reasons)
        return {k: _json_number(v) for k, v in data.items()}


def _not_applied(note: str, champion_version: str | None = None) -> LevelReport:
    return LevelReport(applies=False, passed=True, reasons=(), step=None, challenger_mean=None, champion_mean=None,
                       log_shift=None, champion_half_width=None, shift_ratio=None,
                       champion_version=champion_version, note=note)


def level_guard(points: Sequence[dict[str, Any]], champion_points: Sequence[dict[str, Any]] | None,
                champion_version: str | None = None) -> LevelReport:
    """Judge a challenger's forecast `points` against the served champion's `champion_points` (both in
    the API point format): the means at `LEVEL_STEP` (or the last step both have) may differ by at most
    `MAX_LEVEL_SHIFT` champion 95 % half-widths in logs. `None` champion points: the guard does not apply."""
    if champion_points is None:
        return _not_applied("no champion is served: the level guard does not apply", champion_version)
    step = min(LEVEL_STEP, len(points), len(champion_points))
    if step < 1:
        return _not_applied("the champion or the challenger has no forecast points: the level guard does not apply",
                            champion_version)
    mine, theirs = points[step - 1], champion_points[step - 1]
    served_mean, served_lower, served_upper = (_price(theirs.get(name) if isinstance(theirs, dict) else None)
                                               for name in ("mean", "lower_95", "upper_95"))
    if served_mean is None or served_lower is None or served_upper is None or served_lower > served_upper:
        return _not_applied(f"the champion's step-{step} forecast is not a usable price band: "
                            "the level guard does not apply", champion_version)
    mean = _price(mine.get("mean") if isinstance(mine, dict) else None)
    half = math.log(served_upper / served_lower) / 2
    if mean is None:  # `check` refuses such a bundle already; the guard holds it too
        return LevelReport(applies=True, passed=False, reasons=(f"the step-{step} mean is not a finite positive price",),
                           step=step, challenger_mean=None, champion_mean=served_mean, log_shift=None,
                           champion_half_width=half, shift_ratio=None, champion_version=champion_version)
    shift = abs(math.log(mean / served_mean))
    ratio = shift / half if half > 0 else (0.0 if shift == 0 else math.inf)
    reasons: tuple[str, ...] = ()
    if ratio > MAX_LEVEL_SHIFT:
        reasons = (f"the step-{step} mean {mean:.4g} is ×{mean / served_mean:.3g} the served champion's "
                   f"{served_mean:.4g}: {ratio:.2f} times the champion's 95 % half-width in logs "
                   f"(at most {MAX_LEVEL_SHIFT:g})",)
    return LevelReport(applies=True, passed=not reasons, reasons=reasons, step=step, challenger_mean=mean,
                       champion_mean=served_mean, log_shift=shift, champion_half_width=half, shift_ratio=ratio,
                       champion_version=champion_version)
