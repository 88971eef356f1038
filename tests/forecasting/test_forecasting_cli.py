"""The analyst CLI: `gasforecast backtest` and `gasforecast forecast` run the training procedure on a CSV."""

import argparse
import json
import re

import numpy as np
import pandas as pd
import pytest

from gasforecast.cli import build_parser, main
from gasforecast.commands.forecast import describe_model
from gasforecast.forecasting.plotting import ratio_limits
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.publication.bundle import QUANTILE_FIELDS


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


def test_unit_and_label_come_from_the_options_and_default_to_the_environment(business_csv, capsys, monkeypatch):
    monkeypatch.setenv("TARGET_UNIT", "EUR/MWh")
    monkeypatch.setenv("TARGET_LABEL", "TTF front-month")
    assert main(["forecast", "--csv", business_csv, "--horizon", "3", "--horizons", "1", "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert (default["unit"], default["label"]) == ("EUR/MWh", "TTF front-month")
    assert main(["forecast", "--csv", business_csv, "--horizon", "3", "--horizons", "1", "--json",
                 "--unit", "USD/MMBtu", "--label", "Henry Hub"]) == 0
    chosen = json.loads(capsys.readouterr().out)
    assert (chosen["unit"], chosen["label"]) == ("USD/MMBtu", "Henry Hub")
    assert main(["forecast", "--csv", business_csv, "--horizon", "3", "--horizons", "1", "--unit", "EUR/MWh",
                 "--label", "German spot"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("German spot (uk_gas_price, EUR/MWh), business calendar")


def test_forecast_json_keeps_every_key_it_had_and_progress_goes_to_stderr(business_csv, capsys):
    assert main(["forecast", "--csv", business_csv, "--horizon", "3", "--horizons", "1", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # nothing but the JSON on stdout
    assert {"target", "unit", "calendar", "model", "decision", "points", "distribution"} <= set(result)
    assert {"label", "model_class", "config", "orders", "transforms", "train_start", "train_end"} <= set(result["model"])
    assert f"gasforecast forecast: reading {business_csv}" in captured.err and "forecast: done" in captured.err


def test_printed_forecast_has_no_placeholders(business_csv, capsys):
    assert main(["forecast", "--csv", business_csv, "--horizon", "3", "--horizons", "1"]) == 0
    out = capsys.readouterr().out
    assert "{}" not in out and "no champion yet" not in out
    assert re.search(r"^model: \S.* \(.+\), trained \d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d$", out, re.MULTILINE)
    assert re.search(r"^decision: \w+: .*no champion to compare with$", out, re.MULTILINE)


def test_describe_model_names_orders_only_when_there_are_some():
    assert describe_model("naive", {}, "log") == "naive (log)"
    assert describe_model("ar", {"lags": 3}, "log-difference") == "ar lags 3 (log-difference)"


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) >= 1 and not any("Traceback" in line or "[Errno" in line for line in lines)
    return lines[-1]


@pytest.mark.parametrize("command", [["forecast", "--horizon", "3"], ["backtest"], ["evaluate"]])
def test_a_missing_file_is_one_line_naming_it(tmp_path, capsys, command):
    missing = tmp_path / "no-such.csv"
    assert main(command[:1] + ["--csv", str(missing)] + command[1:]) == 2
    assert one_line_error(capsys) == f"gasforecast {command[0]}: cannot read {missing}: No such file or directory"


def test_a_ragged_row_is_one_line_naming_its_line_and_quoting_its_own_values(tmp_path, capsys):
    lines = to_csv_bytes(synthetic_history(400, seed=2, business_days_only=True)).decode().splitlines()
    date_, *values = lines[7].split(",")
    whole, fraction = values[0].split(".")
    lines[7] = ",".join([date_] + [value.replace(".", ",") for value in values])  # decimal commas on line 8
    path = tmp_path / "ragged.csv"
    path.write_text("\n".join(lines) + "\n")
    assert main(["forecast", "--csv", str(path), "--horizon", "3"]) == 2
    assert one_line_error(capsys) == (
        f"gasforecast forecast: {path}: the file breaks the data contract on line 8: line has 9 fields but the "
        f"header has 5; the extra fields look like numbers written with a decimal comma ({whole},{fraction} for "
        f"{whole}.{fraction}) (`gasforecast validate` lists each with its fix)")


def test_several_contract_problems_are_still_one_line_counting_the_rest(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("date,uk_gas_price\n2024-01-02,80.5\n2024-01-03,-1\n2024-01-04,x\n2024-01-05,0\n")
    assert main(["backtest", "--csv", str(path)]) == 2
    line = one_line_error(capsys)
    assert re.fullmatch(rf"gasforecast backtest: {re.escape(str(path))}: the file breaks the data contract on line "
                        r"[345], column 'uk_gas_price': .+ \(and 2 more problems; `gasforecast validate` lists each "
                        r"with its fix\)", line)


def test_sample_to_an_unwritable_path_is_one_line(tmp_path, capsys):
    target = tmp_path / "missing-dir" / "sample.csv"
    assert main(["sample", "--out", str(target)]) == 2
    assert one_line_error(capsys) == f"gasforecast sample: cannot write {target}: No such file or directory"


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    missing = [f"{name} {'/'.join(action.option_strings) or action.dest}"
               for name, sub in commands.choices.items() for action in sub._actions if not action.help]
    assert not missing, f"options without help: {missing}"


def test_evaluate_reports_progress_per_quarter_of_the_origins(business_csv, capsys):
    assert main(["evaluate", "--csv", business_csv, "--horizons", "1", "--origins", "8", "--workers", "1",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["evaluation"]
    counts = re.findall(r"origins done: (\d+)/(\d+)", captured.err)
    assert counts and counts[-1][0] == counts[-1][1] and len(counts) <= 5


def test_backtest_plot_writes_a_png_and_its_ratio_scale_centres_on_one(business_csv, tmp_path, capsys):
    path = tmp_path / "chart.png"
    assert main(["backtest", "--csv", business_csv, "--horizons", "1,7", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    low, high = ratio_limits(np.array([[0.998, 1.001], [np.nan, 1.0004]]))
    assert 0.99 < low < 0.998 and 1.001 < high < 1.01  # a tenth of a percent stays visible: not an axis from 0
    low, high = ratio_limits(np.array([[1.0, 1.0]]))
    assert low < 1.0 < high
