"""Every class of bad file is rejected with a message naming the problem and where; edge cases pass."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from contract_cases import BAD_FILES, GOOD_FILES, MAX_BYTES, MAX_COLUMNS, TARGET, BadFile, GoodFile

from gasforecast.ingestion.contract import ERROR_HINTS, MAX_PROBLEMS_PER_CODE, SAFE_COLUMN_NAME, validate_csv
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes


def validate(data: bytes, max_bytes: int = MAX_BYTES, target: str = TARGET):
    return validate_csv(data, target=target, max_bytes=max_bytes, max_columns=MAX_COLUMNS)


@pytest.mark.parametrize("case", BAD_FILES, ids=lambda case: case.name)
def test_bad_file_is_rejected_with_located_message(case: BadFile) -> None:
    result = validate(case.data, max_bytes=case.max_bytes)
    assert not result.ok
    assert result.frame is None
    matching = [p for p in result.problems if p.code == case.code]
    assert matching, f"expected {case.code}, got {[str(p) for p in result.problems]}"
    problem = matching[0]
    assert case.words in problem.message
    assert (problem.row, problem.column) == (case.row, case.column)
    assert problem.hint == ERROR_HINTS[case.code]


@pytest.mark.parametrize("case", GOOD_FILES, ids=lambda case: case.name)
def test_valid_edge_case_is_accepted(case: GoodFile) -> None:
    result = validate(case.data)
    assert result.ok, [str(p) for p in result.problems]
    assert result.problems == []
    frame = result.frame
    assert frame.index.name == "date"
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.is_monotonic_increasing and frame.index.is_unique
    assert tuple(frame.columns) == case.columns
    assert all(dtype == np.float64 for dtype in frame.dtypes)
    assert len(frame) == case.rows
    assert [w.code for w in result.warnings] == ([case.warning] if case.warning else [])


def test_values_are_parsed_exactly() -> None:
    result = validate(b'date,uk_gas_price,hdd\n2024-01-03,"81.25",\n2024-01-02,80.5,3e0\n')
    assert result.frame[TARGET].tolist() == [80.5, 81.25]
    assert result.frame["hdd"].iloc[0] == 3.0 and np.isnan(result.frame["hdd"].iloc[1])
    assert list(result.frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]


def test_every_problem_is_reported_not_only_the_first() -> None:
    data = b"date,uk_gas_price,hdd\n2024-01-02,80.5,x\n25/12/2023,-1,3\n2024-01-02,81,4\n"
    codes = sorted(p.code for p in validate(data).problems)
    assert codes == ["date_format", "duplicate_date", "non_numeric", "non_positive_target"]


def test_repeated_problems_are_capped_with_a_count_of_the_rest() -> None:
    rows = "".join(f"2024-01-{day:02d},80,bad\n" for day in range(1, 31))
    result = validate(f"date,uk_gas_price,hdd\n{rows}".encode())
    non_numeric = [p for p in result.problems if p.code == "non_numeric"]
    assert len(non_numeric) == MAX_PROBLEMS_PER_CODE + 1
    assert "10 more" in non_numeric[-1].message
    assert non_numeric[0].row == 2 and non_numeric[MAX_PROBLEMS_PER_CODE - 1].row == MAX_PROBLEMS_PER_CODE + 1


def test_line_numbers_count_blank_lines_and_quoted_line_breaks() -> None:
    data = b'date,uk_gas_price,note\n\n2024-01-02,80.5,"two\nlines"\n2024-01-03,oops,1\n'
    problem = validate(data).problems[0]
    assert (problem.code, problem.row, problem.column) == ("non_numeric", 5, TARGET)


def test_target_name_is_configurable() -> None:
    data = b"date,nbp\n2024-01-02,80.5\n"
    assert validate(data, target="nbp").ok
    assert [p.code for p in validate(data).problems] == ["missing_target_column"]


def test_report_is_json_with_span_and_columns() -> None:
    result = validate(b"date,uk_gas_price\n2024-01-05,82\n2024-01-02,80.5\n")
    report = json.loads(json.dumps(result.to_dict()))
    assert report == {"ok": True, "errors": [], "warnings": [], "rows": 2, "columns": ["date", TARGET],
                      "first_date": "2024-01-02", "last_date": "2024-01-05"}
    bad = validate(b"date,uk_gas_price\n2024-01-02,x\n").to_dict()
    assert bad["ok"] is False and bad["first_date"] is None
    assert bad["errors"][0] == {"code": "non_numeric", "message": "value 'x' is not a number", "row": 2,
                                "column": TARGET, "hint": ERROR_HINTS["non_numeric"]}


def test_problem_text_names_line_and_column() -> None:
    problem = validate(b"date,uk_gas_price\n2024-01-02,x\n").problems[0]
    assert str(problem) == "line 2, column 'uk_gas_price': value 'x' is not a number"


def test_ten_years_of_daily_rows_validate() -> None:
    """Their speed is measured by bench/wide_header.py (a timed assertion fails on a loaded machine)."""
    result = validate(to_csv_bytes(synthetic_history(3653, start="2014-01-01")))
    assert result.ok and len(result.frame) == 3653


def test_header_problems_point_at_the_header_line_after_leading_blank_lines() -> None:
    problems = validate(b"\n\ndate,uk_gas_price,hdd,hdd\n2024-01-02,80.5,1,2\n").problems
    assert [(p.code, p.row, p.column) for p in problems] == [("duplicate_column", 3, "hdd")]


def test_a_100000_column_header_is_rejected_from_the_header_alone() -> None:
    """The body is never parsed (bench/wide_header.py measures time and memory: milliseconds, a few MB)."""
    names = ",".join(f"c{i}" for i in range(100_000))
    body = ",".join(["1"] * 100_002)
    result = validate(f"date,{TARGET},{names}\n2024-01-02,80.5,{body}\n".encode())
    assert [(p.code, p.row) for p in result.problems] == [("too_many_columns", 1)]
    assert "100002 columns" in result.problems[0].message
    assert result.rows == 0, "no data row was read"
    assert len(result.to_dict()["columns"]) <= MAX_COLUMNS, "the report stays small"


def test_header_problems_stop_before_the_rows_are_read() -> None:
    data = b"date,uk_gas_price,=SUM(A1)\n2024-01-02,not a number,1\n2999-01-01,80,2\n"
    assert [p.code for p in validate(data).problems] == ["unsafe_column_name"]


@pytest.mark.parametrize("name", ["uk_gas_price", "nbp_front_month_p_per_therm", "Brent $/bbl", "temp (°C)",
                                  "price [p/therm]", "storage 95%", "prix élevé", "价格", "_private", "2nd_driver",
                                  "x" * 64])
def test_ordinary_column_names_are_safe(name) -> None:
    assert SAFE_COLUMN_NAME.fullmatch(name)
    data = f"date,{TARGET},{name}\n2024-01-02,80.5,1\n".encode() if name != TARGET else None
    assert data is None or validate(data).ok


@pytest.mark.parametrize("name", ["=1+1", "+cmd", "-2", "@SUM(A1)", " leading", "tab\tinside", "<script>", "a;b",
                                  "a|b", "quote'", "back`tick", "zero\u200bwidth", "x" * 65])
def test_hostile_column_names_are_refused(name) -> None:
    quoted = '"' + name.replace('"', '""') + '"'
    result = validate(f"date,{TARGET},{quoted}\n2024-01-02,80.5,1\n".encode())
    if name.strip() != name:
        assert result.ok, "surrounding spaces are ignored"
        return
    assert [p.code for p in result.problems] in (["unsafe_column_name"], ["column_name_too_long"])


def test_the_earliest_accepted_date_is_a_setting_with_the_contract_s_default() -> None:
    from datetime import date

    from gasforecast.ingestion.contract import EARLIEST_DATE
    from gasforecast.platform.config import Settings, load_settings

    assert Settings().earliest == EARLIEST_DATE
    data = b"date,uk_gas_price\n1990-01-02,80.5\n"
    assert [p.code for p in validate(data).problems] == ["date_out_of_range"]
    earlier = load_settings({"EARLIEST_DATE": "1980-01-01"}).earliest
    assert earlier == date(1980, 1, 1)
    assert validate_csv(data, target="uk_gas_price", max_bytes=10**6, max_columns=50, earliest_date=earlier).ok
    with pytest.raises(ValueError, match="EARLIEST_DATE"):
        load_settings({"EARLIEST_DATE": "1st of January"})
