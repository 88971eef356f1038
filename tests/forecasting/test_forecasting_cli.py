"""The analyst CLI: `gasforecast backtest` and `gasforecast forecast` on a data-contract CSV."""

import json

import pytest

from gasforecast.cli import main
from gasforecast.sample import synthetic_history, to_csv_bytes


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "history.csv"
    path.write_bytes(to_csv_bytes(synthetic_history(1000, seed=2, business_days_only=True)))
    return str(path)


def test_backtest_json_names_the_selection(csv_path, capsys):
    assert main(["backtest", "--csv", csv_path, "--origins", "8", "--horizons", "1,7", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    selected = result["selected"]
    assert selected["label"] in result["backtest"]["scores"]
    assert set(selected["mae_ratio_to_naive"]) == {"1", "7"}
    assert 0.0 <= selected["coverage_95"]["7"] <= 1.0
    assert result["backtest"]["origins"]["count"] == 8


def test_backtest_table_shows_the_ratio_to_naive(csv_path, capsys):
    assert main(["backtest", "--csv", csv_path, "--origins", "8", "--drivers", "ttf_price"]) == 0
    out = capsys.readouterr().out
    assert "×naive" in out and "selected:" in out and "brent_price" not in out


def test_forecast_json_uses_the_api_point_format(csv_path, capsys):
    assert main(["forecast", "--csv", csv_path, "--horizon", "14", "--origins", "8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["points"]) == 14
    assert set(result["points"][0]) == {"date", "mean", "lower_80", "upper_80", "lower_95", "upper_95"}
    assert result["target"] == "uk_gas_price"


def test_unknown_target_is_a_clear_error(csv_path, capsys):
    assert main(["forecast", "--csv", csv_path, "--horizon", "3", "--target", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
