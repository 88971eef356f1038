"""Backtest chart for the run artifacts: forecasts against outcomes, and the ratio to naive per horizon."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from gasforecast.forecasting.backtest import BacktestReport


def plot_backtest(report: BacktestReport, frame: pd.DataFrame, target: str, path: str) -> None:
    """Write a PNG: the best model's longest-horizon backtest forecasts with 95 % intervals over the
    actual prices (top) and every usable model's MAE ratio to naive per horizon (bottom)."""
    best = report.best_label()
    horizon = report.horizons[-1]
    forecasts = report.forecasts(best)
    forecasts = forecasts[forecasts["horizon"] == horizon]
    start = report.origins[0] - pd.Timedelta(days=horizon)

    figure = Figure(figsize=(11, 7.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, height_ratios=(3, 2))
    history = frame.loc[frame.index >= start, target]
    top.plot(history.index, history.to_numpy(), color="black", linewidth=0.9, label=target)
    top.fill_between(forecasts["date"], forecasts["lower_95"], forecasts["upper_95"], color="tab:blue",
                     alpha=0.2, step="mid", label="95 % interval")
    top.plot(forecasts["date"], forecasts["mean"], "o", color="tab:blue", markersize=3,
             label=f"{best}: {horizon}-day-ahead forecast")
    top.set_title(f"Backtest over {len(report.origins)} origins — selected: {best} (score {report.score(best):.3f})")
    top.legend(loc="upper left", fontsize=8)

    usable = [label for label in report.labels if report.runs[label].unusable is None]
    width = 0.8 / max(len(usable), 1)
    for i, label in enumerate(usable):
        ratios = report.mae_ratios(label)
        positions = [j + i * width for j in range(len(report.horizons))]
        bottom.bar(positions, [ratios[h] for h in report.horizons], width=width, label=label)
    bottom.axhline(1.0, color="black", linewidth=0.8)
    bottom.set_xticks([j + 0.4 - width / 2 for j in range(len(report.horizons))],
                      [f"h={h}" for h in report.horizons])
    bottom.set_ylabel("MAE ÷ naive MAE")
    bottom.legend(fontsize=7, ncols=3)
    figure.savefig(path, dpi=110)
