"""`gasforecast validate`: the same contract offline, exit code 0/1, located problems and fixes."""

from __future__ import annotations

import json

from gasforecast.cli import main


def write(tmp_path, text: str, name: str = "prices.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return str(path)


def test_valid_file_exits_zero_and_summarises(tmp_path, capsys) -> None:
    path = write(tmp_path, "date,uk_gas_price,hdd\n2024-01-03,81,\n2024-01-02,80.5,3\n")
    assert main(["validate", path]) == 0
    out = capsys.readouterr().out
    assert "valid — 2 rows, 2024-01-02 to 2024-01-03" in out


def test_invalid_file_exits_one_naming_line_column_and_fix(tmp_path, capsys) -> None:
    path = write(tmp_path, "date,uk_gas_price\n2024-01-02,80.5\n25/12/2023,abc\n")
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    assert "INVALID — 2 error(s)" in out
    assert "[date_format] line 3, column 'date': date '25/12/2023' is not YYYY-MM-DD" in out
    assert "[non_numeric] line 3, column 'uk_gas_price'" in out
    assert "fix: Write dates as ISO 8601 calendar dates" in out


def test_json_report_matches_what_ingest_stores(tmp_path, capsys) -> None:
    path = write(tmp_path, "date;uk_gas_price\n2024-01-02;80,5\n")
    assert main(["validate", path, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["errors"][0]["code"] == "wrong_delimiter" and report["errors"][0]["row"] == 1
    assert report["errors"][0]["hint"]


def test_target_option_overrides_the_configured_target(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("TARGET_COLUMN", raising=False)
    path = write(tmp_path, "date,nbp\n2024-01-02,80.5\n")
    assert main(["validate", path]) == 1
    assert "no column named 'uk_gas_price'" in capsys.readouterr().out
    assert main(["validate", path, "--target", "nbp"]) == 0
    monkeypatch.setenv("TARGET_COLUMN", "nbp")
    assert main(["validate", path]) == 0


def test_unreadable_file_is_a_usage_error_not_a_verdict(tmp_path, capsys) -> None:
    assert main(["validate", str(tmp_path / "missing.csv")]) == 2
    assert "cannot read" in capsys.readouterr().err
