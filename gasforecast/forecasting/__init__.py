"""Forecasting core: candidates, rolling-origin backtest, calibrated intervals, selection (docs/model.md)."""

from gasforecast.forecasting.backtest import BacktestReport, InsufficientHistory
from gasforecast.forecasting.config import BacktestSettings, ModelConfig
from gasforecast.forecasting.forecast import FittedForecast, fit_forecast
from gasforecast.forecasting.plotting import plot_backtest
from gasforecast.forecasting.selection import Selection, compare_configs, select_model

__all__ = [
    "BacktestReport",
    "BacktestSettings",
    "FittedForecast",
    "InsufficientHistory",
    "ModelConfig",
    "Selection",
    "compare_configs",
    "fit_forecast",
    "plot_backtest",
    "select_model",
]
