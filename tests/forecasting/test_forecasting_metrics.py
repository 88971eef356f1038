"""Metrics on cases small enough to check by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from gasforecast.forecasting.backtest import BacktestReport, ConfigBacktest
from gasforecast.forecasting.config import ModelConfig
from gasforecast.forecasting.metrics import horizon_metrics, naive_scales, winkler_score


def test_point_and_interval_metrics_by_hand():
    actual = np.array([10.0, 20.0])
    mean = np.array([12.0, 17.0])  # errors -2, +3
    lower_80, upper_80 = np.array([11.0, 15.0]), np.array([13.0, 19.0])  # both outside
    lower_95, upper_95 = np.array([9.0, 15.0]), np.array([15.0, 19.0])  # first in, second 1 above
    m = horizon_metrics(actual, mean, np.array([2.0, 4.0]), lower_80, upper_80, lower_95, upper_95)
    assert m["mae"] == pytest.approx(2.5)
    assert m["rmse"] == pytest.approx(math.sqrt((4 + 9) / 2))
    assert m["mase"] == pytest.approx((2 / 2 + 3 / 4) / 2)
    assert m["smape"] == pytest.approx((200 * 2 / 22 + 200 * 3 / 37) / 2)
    assert m["coverage_80"] == 0.0
    assert m["coverage_95"] == 0.5
    # widths 6 and 4; second misses by 1: penalty 2/0.05 * 1 = 40
    assert m["winkler_95"] == pytest.approx((6 + (4 + 40)) / 2)


def test_winkler_penalises_both_sides():
    scores = winkler_score(np.array([0.0, 5.0, 12.0]), np.array([1.0, 1.0, 1.0]), np.array([10.0] * 3), 0.05)
    assert scores.tolist() == pytest.approx([9 + 40, 9, 9 + 80])


def test_naive_scale_uses_history_up_to_the_origin_only():
    target = np.array([1.0, 3.0, 2.0, 10.0])
    assert naive_scales(target, np.array([1, 2])).tolist() == pytest.approx([2.0, 1.5])


def _run(label_kind: str, mae_by_h: dict[int, float]) -> ConfigBacktest:
    metrics = {h: {"mae": v} for h, v in mae_by_h.items()}
    return ConfigBacktest(ModelConfig(label_kind), metrics=metrics)


def test_score_is_mean_mae_ratio_to_naive_and_unusable_is_infinite():
    runs = {
        "naive": _run("naive", {1: 2.0, 7: 4.0}),
        "ar": _run("ar", {1: 1.0, 7: 5.0}),
        "var[x]": ConfigBacktest(ModelConfig("var", ("x",)), unusable="driver(s) not in the data: x"),
    }
    report = BacktestReport((1, 7), [pd.Timestamp("2024-01-01")], 7, runs)
    assert report.score("ar") == pytest.approx((0.5 + 1.25) / 2)
    assert report.score("naive") == 1.0
    assert report.score("var[x]") == math.inf
    assert report.best_label() == "ar"
    assert report.to_dict()["scores"]["var[x]"] is None
