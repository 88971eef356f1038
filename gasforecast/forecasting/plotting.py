"""Chart for the run artifacts: the served forecast over recent history, and every candidate's evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from gasforecast.forecasting.procedure import TrainingResult


LEGEND_LABEL_CHARS = 48  # a label is built from column names, which may be long


def _short(label: str) -> str:
    return label if len(label) <= LEGEND_LABEL_CHARS else label[: LEGEND_LABEL_CHARS - 1] + "…"


def plot_training(result: TrainingResult, frame: pd.DataFrame, target: str, path: str) -> None:
    """Write a PNG: the served forecast with its 80/95 % bands after the last year of the target (top) and
    each usable candidate's ratio to naive per horizon on the test half of the stretch (bottom)."""
    points, report = result.forecast.points, result.report
    figure = Figure(figsize=(11, 7.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 2))
    history = frame[target].iloc[-260:]
    top.plot(history.index, history.to_numpy(), color="black", linewidth=0.9, label=target)
    for level, alpha in ((95, 0.15), (80, 0.3)):
        top.fill_between(points["date"], points[f"lower_{level}"], points[f"upper_{level}"], color="tab:blue",
                         alpha=alpha, label=f"{level} % interval")
    top.plot(points["date"], points["mean"], color="tab:blue", label=f"served: {_short(result.config.label)}")
    top.set_title(f"{result.decision.decision}: {result.decision.reason}", fontsize=9)
    top.legend(loc="upper left", fontsize=8)

    usable = [label for label, ev in report.candidates.items() if not ev.unusable]
    width = 0.8 / max(len(usable), 1)
    for i, label in enumerate(usable):
        positions = np.arange(len(report.horizons)) + i * width
        bottom.bar(positions, report.candidates[label].test_ratios, width=width, label=_short(label))
    bottom.axhline(1.0, color="black", linewidth=0.8)
    bottom.set_xticks(np.arange(len(report.horizons)) + 0.4 - width / 2, [f"h={h}" for h in report.horizons])
    bottom.set_ylabel("|log error| ÷ naive, test half")
    bottom.legend(fontsize=7, ncols=3)
    figure.savefig(path, dpi=110)
