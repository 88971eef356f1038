"""Backtest protocol: no look-ahead, intervals that widen, unusable configurations reported."""

import math

import numpy as np
import pandas as pd
import pytest

from gasforecast.forecasting import BacktestSettings, ModelConfig, compare_configs, select_model
from gasforecast.forecasting.fitting import fit_candidate
from gasforecast.forecasting.linear import forecast_paths, transform

FAST = BacktestSettings(origins=20, calibration_days=300, refit_days=91)


def test_altered_future_leaves_earlier_forecasts_unchanged(market):
    selection = select_model(market, "uk_gas_price", FAST)
    early = selection.report.origins[7]
    altered = market.copy()
    after = altered.index > early
    altered.loc[after, "uk_gas_price"] *= np.linspace(1.0, 3.0, after.sum())
    altered.loc[after, "ttf_price"] *= 0.5
    altered.loc[after, "hdd"] += 7.0
    again = select_model(altered, "uk_gas_price", FAST)

    assert again.candidates == selection.candidates  # drivers chosen before the first scored origin
    columns = ["mean", "lower_80", "upper_80", "lower_95", "upper_95"]
    for label in selection.report.labels:
        before, after_change = selection.report.forecasts(label), again.report.forecasts(label)
        kept = before["origin"] <= early
        pd.testing.assert_frame_equal(before.loc[kept, columns], after_change.loc[kept, columns])
        changed = before["origin"] > early
        assert not np.allclose(before.loc[changed, "mean"], after_change.loc[changed, "mean"])


def test_interval_widths_do_not_shrink_with_the_horizon(market):
    report = compare_configs(market, "uk_gas_price", [ModelConfig("var", ("ttf_price",))], FAST)
    for label in report.labels:
        forecasts = report.forecasts(label).sort_values(["origin", "horizon"])
        for level in (80, 95):
            width = np.log(forecasts[f"upper_{level}"]) - np.log(forecasts[f"lower_{level}"])
            steps = width.groupby(forecasts["origin"]).diff().dropna()
            assert (steps >= -1e-12).all(), label
        assert (forecasts["lower_95"] <= forecasts["lower_80"]).all()
        assert (forecasts["upper_80"] <= forecasts["upper_95"]).all()


def test_missing_or_ended_drivers_are_unusable_not_fatal(market):
    frame = market.assign(ended=market["brent_price"].where(market.index < market.index[-400]))
    configs = [ModelConfig("var", ("not_a_column",)), ModelConfig("var", ("ended",)), ModelConfig("ar")]
    report = compare_configs(frame, "uk_gas_price", configs, FAST)
    assert report.score("var[not_a_column]") == math.inf
    assert report.score("var[ended]") == math.inf
    assert math.isfinite(report.score("ar"))
    assert set(report.to_dict()["unusable"]) == {"var[not_a_column]", "var[ended]"}

    selection = select_model(frame, "uk_gas_price", FAST)
    assert "ended" not in selection.best.drivers


def test_non_positive_drivers_are_differenced_not_logged(market):
    frame = market.assign(temperature=15.5 - market["hdd"] - 5.0)  # goes negative
    assert (frame["temperature"] < 0).any()
    report = compare_configs(frame, "uk_gas_price", [ModelConfig("vecm", ("ttf_price", "temperature"))], FAST)
    assert math.isfinite(report.score("vecm[ttf_price,temperature]"))


def test_level_form_of_a_differences_var_matches_statsmodels(market):
    values = market[["uk_gas_price", "ttf_price"]].to_numpy()
    fit = fit_candidate(ModelConfig("var", ("ttf_price",), max_lags=5, ic="aic"), values, with_results=True)
    z = transform(values, fit.level_model.log_columns)
    ours = forecast_paths(fit.level_model, z, np.array([len(values) - 1]), 10)[0]
    lags = fit.results.k_ar
    moves = fit.results.forecast(np.diff(z, axis=0)[-lags:], 10)[:, 0]
    np.testing.assert_allclose(ours, z[-1, 0] + np.cumsum(moves))


def test_short_history_reduces_origins_and_too_short_raises(market):
    report = compare_configs(market.iloc[:500], "uk_gas_price", [ModelConfig("ar")], BacktestSettings())
    assert 1 <= len(report.origins) < 104
    for label in report.labels:  # even the first origin has enough past errors for its intervals
        assert np.isfinite(report.forecasts(label)[["lower_95", "upper_95"]].to_numpy()).all()
    with pytest.raises(ValueError, match="not enough history"):
        compare_configs(market.iloc[:200], "uk_gas_price", [], BacktestSettings())
