"""The served forecast: dates in the series' calendar, smooth widening intervals, a picklable model."""

import pickle

import numpy as np
import pandas as pd
import pytest

from gasforecast.forecasting import ModelConfig, assess
from gasforecast.forecasting.fitting import fit_candidate, ses_weights
from gasforecast.forecasting.procedure import serve
from tests.forecasting.conftest import FAST


def served_forecast(frame, target, assessment, label, horizon):
    return serve(frame, target, assessment, label, horizon, FAST)[0]


@pytest.fixture(scope="module")
def business_assessment(random_walk):
    return assess(random_walk, "price", FAST, horizon_out=90, extra=[ModelConfig("ar"), ModelConfig("ses")])


def test_a_business_day_series_is_forecast_on_business_days(random_walk, business_assessment):
    fitted = served_forecast(random_walk, "price", business_assessment, "naive", 90)
    dates = fitted.points["date"]
    assert fitted.calendar == "business" and not (dates.dt.day_of_week >= 5).any()
    assert list(dates) == list(pd.bdate_range(random_walk.index[-1] + pd.offsets.BDay(1), periods=90))
    assert fitted.points_records()[0]["date"] == dates.iloc[0].strftime("%Y-%m-%d")


def test_a_calendar_daily_series_is_forecast_on_every_day(market):
    assessment = assess(market, "uk_gas_price", FAST, horizon_out=10)
    fitted = served_forecast(market, "uk_gas_price", assessment, "naive", 10)
    assert list(fitted.points["date"]) == list(pd.date_range(market.index[-1] + pd.Timedelta(days=1), periods=10))


@pytest.mark.parametrize("label", ["naive", "ar", "ses"])
def test_interval_widths_grow_smoothly_and_strictly_with_the_step(random_walk, business_assessment, label):
    points = served_forecast(random_walk, "price", business_assessment, label, 90).points
    for level in (80, 95):
        width = np.log(points[f"upper_{level}"].to_numpy()) - np.log(points[f"lower_{level}"].to_numpy())
        steps = np.diff(width)
        assert (steps > 0).all(), f"{label} {level}: not strictly widening"
        # smooth: no stair steps — consecutive increments never jump by more than a factor of 3
        assert (steps[1:] / steps[:-1]).max() < 3 and (steps[1:] / steps[:-1]).min() > 1 / 3
        assert width[-1] > 2 * width[0]
    assert (points["lower_95"] < points["lower_80"]).all() and (points["upper_80"] < points["upper_95"]).all()
    assert (points["lower_80"] < points["mean"]).all() and (points["mean"] < points["upper_80"]).all()


def test_the_served_model_pickles_and_its_transforms_are_named(random_walk, business_assessment, market):
    for label in ("naive", "ar", "ses"):
        fitted = served_forecast(random_walk, "price", business_assessment, label, 5)
        pickle.loads(pickle.dumps(fitted.model))  # logged with the registered version
        assert fitted.train_end == random_walk.index[-1]
    vecm = fit_candidate(ModelConfig("vecm", ("ttf_price", "hdd")), market[["uk_gas_price", "ttf_price", "hdd"]]
                         .to_numpy(), market.index)
    assert set(vecm.orders) == {"lags", "coint_rank"}


def test_weekday_profile_moves_a_daily_forecast_by_weekday():
    index = pd.date_range("2021-01-01", periods=700, freq="D", name="date")
    rng = np.random.default_rng(1)
    weekend = np.where(index.day_of_week >= 5, -0.05, 0.02)
    prices = 30 * np.exp(np.cumsum(rng.normal(0, 0.002, len(index))) + weekend)
    fit = fit_candidate(ModelConfig("naive", seasonal="weekday"), prices[:, None], index)
    profile = fit.term.effects
    assert profile[5] < -0.03 and profile[6] < -0.03 and profile[:5].min() > 0.0


def test_ses_weights_sum_to_one_and_decay():
    weights = ses_weights(0.3)
    assert weights.sum() == pytest.approx(1.0) and (np.diff(weights) < 0).all()
    assert ses_weights(1.0).tolist() == [1.0]
