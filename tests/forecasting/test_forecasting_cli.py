"""The analyst CLI: `gasforecast backtest` and `gasforecast forecast` run the training procedure on a CSV."""

import json

import pandas as pd

from gasforecast.bundle import QUANTILE_FIELDS
from gasforecast.cli import main



def test_backtest_json_reports_the_evidence_and_the_decision(business_csv, capsys):
    assert main(["backtest", "--csv", business_csv, "--horizons", "1,7", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["served"]["kind"] in ("naive", "ar", "ses", "var", "vecm")
    assert result["decision"]["decision"] in ("naive", "promoted")
    assert result["report"]["calendar"] == "business"
    assert set(result["report"]["candidates"]["naive"]["test_ratio"]) == {"1", "7"}


def test_backtest_table_shows_both_halves(business_csv, capsys):
    assert main(["backtest", "--csv", business_csv, "--horizons", "1,7", "--drivers", "ttf_price"]) == 0
    out = capsys.readouterr().out
    assert "selection" in out and "test" in out and "served:" in out and "brent_price" not in out


def test_forecast_json_has_business_dates_and_the_api_point_format(business_csv, capsys):
    assert main(["forecast", "--csv", business_csv, "--horizon", "14", "--horizons", "1,7", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["points"]) == 14 and result["calendar"] == "business"
    assert set(result["points"][0]) == {"date", "mean", "lower_80", "upper_80", "lower_95", "upper_95", "quantiles"}
    for point in result["points"]:  # the grid: every level named, never crossing, the bands its 10–90 / 2.5–97.5 %
        grid = point["quantiles"]
        assert list(grid) == list(QUANTILE_FIELDS) and list(grid.values()) == sorted(grid.values())
        assert (grid["q10"], grid["q90"], grid["q2.5"], grid["q97.5"]) == (
            point["lower_80"], point["upper_80"], point["lower_95"], point["upper_95"])
    assert set(result["distribution"]["weights"]["1"]) == set(result["distribution"]["experts"])
    assert not any(pd.Timestamp(p["date"]).day_of_week >= 5 for p in result["points"])
    assert result["target"] == "uk_gas_price" and result["decision"]["served"] == result["model"]["label"]


def test_unknown_target_is_a_clear_error(business_csv, capsys):
    assert main(["forecast", "--csv", business_csv, "--horizon", "3", "--target", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
