"""Selection: a driver that leads the target is found and its model beats the naive forecast."""

import json

import pytest

from gasforecast.forecasting import BacktestSettings, ModelConfig, select_model

SETTINGS = BacktestSettings(origins=26, calibration_days=300)


def test_leading_driver_is_selected_and_beats_naive_clearly(leading):
    selection = select_model(leading, "price", SETTINGS)
    assert selection.best.kind in ("var", "vecm")
    assert selection.best.drivers == ("leader",)
    report = selection.report
    assert report.score(selection.best.label) < 0.9
    assert report.mae_ratios(selection.best.label)[1] < 0.5  # yesterday's leader move is today's price move
    assert {"naive", "seasonal_naive", "ar"} <= set(report.labels)
    assert report.best_label() == selection.best.label


def test_driver_list_restricts_the_choice(leading):
    selection = select_model(leading, "price", SETTINGS, drivers=["noise"])
    assert all("leader" not in config.drivers for config in selection.candidates)


def test_report_is_json_serialisable_and_complete(leading):
    report = select_model(leading, "price", SETTINGS).report
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["origins"]["count"] == 26
    assert data["horizons"] == [1, 7, 14, 30]
    for label in report.labels:
        assert set(data["metrics"][label]["7"]) == {
            "mae", "rmse", "mase", "smape", "coverage_80", "coverage_95", "winkler_95"}
    assert data["scores"]["naive"] == 1.0
    assert "×naive" in report.table()


@pytest.mark.parametrize(
    "config",
    [ModelConfig("naive"), ModelConfig("var", ("a", "b"), window_years=3.0), ModelConfig("ar", max_lags=7, ic="aic")],
)
def test_model_config_round_trips_through_json(config):
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.label == config.label and hash(again) == hash(config)


def test_labels_are_distinct_and_invalid_configs_rejected():
    labels = {ModelConfig("ar").label, ModelConfig("ar", window_years=2).label, ModelConfig("ar", ic="aic").label}
    assert len(labels) == 3
    assert ModelConfig("vecm", ("ttf",)).model_class == "VECM"
    with pytest.raises(ValueError):
        ModelConfig("var")
    with pytest.raises(ValueError):
        ModelConfig("naive", ("ttf",))
    with pytest.raises(ValueError):
        ModelConfig("prophet")
