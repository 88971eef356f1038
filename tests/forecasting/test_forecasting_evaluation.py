"""Nested evaluation: the whole procedure at past origins on the rows before each, scored honestly."""

import json

import numpy as np
import pytest

from gasforecast.cli import main
from gasforecast.forecasting import evaluate_nested
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from tests.forecasting.conftest import FAST


@pytest.fixture(scope="module")
def nested(random_walk):
    return evaluate_nested(random_walk, "price", FAST, origins=6, step=15, workers=1)


def test_altering_data_after_an_origin_leaves_its_forecast_unchanged(random_walk, nested):
    origin = nested.origins[2]
    altered = random_walk.copy()
    after = altered.index > origin
    altered.loc[after, "price"] *= np.linspace(1.0, 3.0, after.sum())
    altered.loc[after, "unrelated"] *= 0.5
    again = evaluate_nested(altered, "price", FAST, origins=6, step=15, workers=2)  # the parallel path too
    kept = nested.origins <= origin
    assert list(again.origins) == list(nested.origins)
    np.testing.assert_array_equal(again.mean[kept], nested.mean[kept])
    np.testing.assert_allclose(again.quantiles[kept], nested.quantiles[kept], rtol=1e-12)
    for name, grid in nested.baselines.items():
        np.testing.assert_allclose(again.baselines[name][kept], grid[kept], rtol=1e-12)
    assert again.served[: kept.sum()] == nested.served[: kept.sum()]
    assert not np.allclose(again.actual[~kept], nested.actual[~kept])


def test_nested_figures_follow_the_forecast_json_contract(nested):
    block = json.loads(json.dumps(nested.to_dict(), allow_nan=False))
    assert block["kind"] == "nested" and block["origins"] == 6 and block["horizons"] == [1, 7]
    assert set(block["mae_ratio_to_naive"]) == {"1", "7"} == set(block["coverage_95"]) == set(block["interval_score_ratio"])
    assert block["first_origin"] < block["last_origin"]
    assert 0.0 <= block["coverage_80"]["1"] <= block["coverage_95"]["1"] <= 1.0
    assert block["mean_mae_ratio"] == pytest.approx(np.mean(list(block["mae_ratio_to_naive"].values())), abs=1e-3)
    assert set(block["baselines"]) == {"trailing_gaussian", "ewma_gaussian", "historical_simulation", "garch_student"}
    best = block["baseline"]
    assert block["crps_ratio"] == block["baselines"][best]["crps_ratio"]
    strongest = np.mean(nested.crps(nested.baselines[best]))  # the lowest CRPS over the horizons
    assert all(np.mean(nested.crps(grid)) >= strongest for grid in nested.baselines.values())
    assert block["calibration"]["quantile_crossings"] == 0 and set(block["calibration"]["pit_deciles"]) == {"1", "7"}
    assert sum(block["calibration"]["pit_deciles"]["1"]) == pytest.approx(1.0, abs=1e-3)


def test_origins_fall_on_every_weekday(random_walk):
    evaluation = evaluate_nested(random_walk, "price", FAST, origins=10, step=10, workers=1)
    assert evaluation.step == 11  # 10 shares a factor with 5: the next step that shares none with 5 or 7
    assert len(set(evaluation.origins.day_of_week)) == 5



def test_evaluate_cli_prints_the_nested_figures(business_csv, capsys):
    assert main(["evaluate", "--csv", business_csv, "--origins", "4", "--horizons", "1,7", "--span-years", "0.2",
                 "--workers", "1", "--json"]) == 0
    block = json.loads(capsys.readouterr().out)["evaluation"]
    assert block["origins"] == 4 and block["calendar"] == "business" and block["horizons"] == [1, 7]
    assert main(["evaluate", "--csv", business_csv, "--origins", "3", "--horizons", "1", "--span-years", "0.1",
                 "--workers", "1", "--end", "2023-04-28"]) == 0
    out = capsys.readouterr().out
    assert "MAE ÷ naive" in out and "coverage 95 %" in out and ".. 2023-04-27" in out  # last origin: 1 step before


def test_evaluate_cli_refuses_too_short_a_file(tmp_path, capsys):
    path = tmp_path / "short.csv"
    path.write_bytes(to_csv_bytes(synthetic_history(120, seed=2)))
    assert main(["evaluate", "--csv", str(path), "--origins", "3"]) == 2
    assert "not enough history" in capsys.readouterr().err
