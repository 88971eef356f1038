"""Chart for the run artifacts and `gasforecast backtest --plot`: the served forecast over recent history,
and every candidate's evidence against naive."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from gasforecast.forecasting.procedure import TrainingResult

LEGEND_LABEL_CHARS = 48  # a label is built from column names, which may be long
HISTORY_ROWS = 260  # about a year of trading days
MIN_RATIO_SPAN = 0.004  # the colour scale spans at least ±0.2 % around 1.0, so near-ties stay pale


def _short(label: str) -> str:
    return label if len(label) <= LEGEND_LABEL_CHARS else label[: LEGEND_LABEL_CHARS - 1] + "…"


def ratio_limits(ratios: np.ndarray) -> tuple[float, float]:
    """Colour limits that hold every finite ratio and 1.0 with a margin, at least ±MIN_RATIO_SPAN / 2."""
    finite = ratios[np.isfinite(ratios)]
    low, high = min(finite.min(initial=1.0), 1.0), max(finite.max(initial=1.0), 1.0)
    margin = max((high - low) * 0.15, MIN_RATIO_SPAN / 2)
    return low - margin, high + margin


def plot_training(result: TrainingResult, frame: pd.DataFrame, target: str, path: str,
                  label: str | None = None, unit: str | None = None) -> None:
    """Write a PNG: the served forecast with its 80/95 % bands after the last year of the target (top) and
    each usable candidate's error ratio to naive per horizon on the test half of the stretch (bottom).
    The legend sits beside the axes, never over the data."""
    points, report = result.forecast.points, result.report
    rows = sum(not ev.unusable for ev in report.candidates.values())
    figure = Figure(figsize=(12, 5.5 + 0.22 * rows), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(5.5, 0.22 * rows + 0.6))
    name = f"{label} ({target})" if label else target
    history = frame[target].iloc[-HISTORY_ROWS:]
    top.plot(history.index, history.to_numpy(), color="black", linewidth=0.9, label=name)
    for level, alpha in ((95, 0.15), (80, 0.3)):
        top.fill_between(points["date"], points[f"lower_{level}"], points[f"upper_{level}"], color="tab:blue",
                         alpha=alpha, label=f"{level} % interval")
    top.plot(points["date"], points["mean"], color="tab:blue", label=f"served: {_short(result.config.label)}")
    top.set_title(f"{name}: the last year and the served forecast", fontsize=11, loc="left")
    top.text(0.0, -0.12, textwrap.fill(f"{result.decision.decision}: {result.decision.reason}", 140),
             transform=top.transAxes, fontsize=8, va="top")
    if unit:
        top.set_ylabel(unit)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)

    usable = sorted((name for name, ev in report.candidates.items() if not ev.unusable),
                    key=lambda name: report.candidates[name].selection_score)
    ratios = np.array([report.candidates[name].test_ratios for name in usable], dtype=float).reshape(len(usable), -1)
    # A table of colours centred on 1.0 (as good as naive) with each ratio written in: a difference of
    # a fraction of a percent reads as a number, and one outlier cannot flatten the others.
    low, high = ratio_limits(ratios)
    bottom.imshow(ratios, aspect="auto", cmap="RdBu_r", norm=TwoSlopeNorm(1.0, low, high))
    for (row, column), value in np.ndenumerate(ratios):
        bottom.text(column, row, "—" if not np.isfinite(value) else f"{value:.3f}", ha="center", va="center",
                    fontsize=7, color="white" if np.isfinite(value) and abs(value - 1.0) > 0.6 * (high - low) / 2
                    else "black")
    bottom.set_xticks(np.arange(len(report.horizons)), [f"h = {h}" for h in report.horizons])
    bottom.set_yticks(np.arange(len(usable)), [_short(name) for name in usable], fontsize=7)
    for tick, name in zip(bottom.get_yticklabels(), usable, strict=True):
        if name == result.config.label:
            tick.set_fontweight("bold")
    bottom.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
    bottom.set_title("each candidate on the test half (by selection score; served in bold): "
                     "mean |log error| ÷ naive's, below 1 beats naive", fontsize=10, loc="left")
    figure.savefig(path, dpi=110)
