"""fit_forecast: calibrated, widening intervals, a picklable model, and the API point format."""

import pickle

import numpy as np
import pandas as pd
import pytest

from gasforecast.forecasting import BacktestSettings, ModelConfig, compare_configs, fit_forecast, plot_backtest

SETTINGS = BacktestSettings(origins=12, calibration_days=300)


@pytest.fixture(scope="module")
def calibration(market):
    return compare_configs(market, "uk_gas_price", [ModelConfig("var", ("ttf_price", "hdd")), ModelConfig("ar")], SETTINGS)


@pytest.mark.parametrize("config", [ModelConfig("naive"), ModelConfig("ar"), ModelConfig("var", ("ttf_price", "hdd"))])
def test_forecast_points_widen_and_follow_the_api_format(market, calibration, config):
    fitted = fit_forecast(market, "uk_gas_price", config, 90, calibration=calibration)
    points = fitted.points
    assert list(points.index) == list(range(1, 91))
    assert points["date"].iloc[0] == market.index[-1] + pd.Timedelta(days=1)
    for level in (80, 95):
        width = np.log(points[f"upper_{level}"]) - np.log(points[f"lower_{level}"])
        assert (np.diff(width) >= -1e-12).all()
        assert width.iloc[-1] > 2 * width.iloc[0]
    assert (points["lower_95"] < points["mean"]).all() and (points["mean"] < points["upper_95"]).all()
    record = fitted.points_records()[0]
    assert set(record) == {"date", "mean", "lower_80", "upper_80", "lower_95", "upper_95"}
    assert isinstance(record["date"], str) and isinstance(record["mean"], float)
    assert fitted.train_end == market.index[-1]
    pickle.loads(pickle.dumps(fitted.model))  # logged with mlflow.statsmodels


def test_orders_and_transforms_are_reported(market):
    fitted = fit_forecast(market, "uk_gas_price", ModelConfig("vecm", ("ttf_price", "hdd")), 10)
    assert set(fitted.orders) == {"lags", "coint_rank"} and fitted.orders["lags"] >= 1
    assert fitted.transforms == "log-level (VECM); hdd: level"
    assert fitted.model is not None


def test_window_limits_the_training_rows(market):
    fitted = fit_forecast(market, "uk_gas_price", ModelConfig("ar", window_years=1.0), 5)
    assert fitted.train_start == market.index[-365] or fitted.train_start == market.index[-366]


def test_backtest_intervals_cover_a_heavy_tailed_random_walk():
    rng = np.random.default_rng(5)
    days = 1600
    volatility = np.where(np.arange(days) > 900, 0.04, 0.012)  # a crisis-sized regime change
    prices = 40 * np.exp(np.cumsum(volatility * rng.standard_t(4, days) / np.sqrt(2)))
    frame = pd.DataFrame({"price": prices}, index=pd.date_range("2019-01-01", periods=days, name="date"))
    report = compare_configs(frame, "price", [], BacktestSettings(origins=104, step_days=3))
    metrics = report.metrics()["naive"]
    coverage_95 = np.mean([metrics[h]["coverage_95"] for h in report.horizons])
    coverage_80 = np.mean([metrics[h]["coverage_80"] for h in report.horizons])
    assert 0.88 <= coverage_95 <= 0.99
    assert 0.70 <= coverage_80 <= 0.90


def test_plot_writes_a_png(market, calibration, tmp_path):
    path = tmp_path / "backtest.png"
    plot_backtest(calibration, market, "uk_gas_price", str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
