"""Example files for the data contract: one bad file per error code, and the valid edge cases.

Shared by the validation tests and the test that keeps docs/data-contract.md in step with the code.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET = "uk_gas_price"
MAX_BYTES = 50 * 1024 * 1024
MAX_COLUMNS = 50


@dataclass(frozen=True)
class BadFile:
    name: str
    data: bytes
    code: str  # the error code it must produce
    words: str  # words the message must contain (names the problem)
    row: int | None = None
    column: str | None = None
    max_bytes: int = MAX_BYTES


def _wide_header(columns: int) -> bytes:
    names = ["date", TARGET] + [f"driver_{i}" for i in range(columns - 2)]
    values = ["2024-01-02", "80.5"] + ["1"] * (columns - 2)
    return (",".join(names) + "\n" + ",".join(values) + "\n").encode()


BAD_FILES: list[BadFile] = [
    BadFile("empty", b"", "empty", "empty"),
    BadFile("whitespace only", b"  \n\n", "empty", "empty"),
    BadFile("header only", b"date,uk_gas_price\n", "no_data_rows", "no data rows", row=1),
    BadFile("missing date column", b"day,uk_gas_price\n2024-01-02,80.5\n", "missing_date_column", "'date'", row=1),
    BadFile("capitalised date column", b"Date,uk_gas_price\n2024-01-02,80.5\n", "missing_date_column",
            "case-sensitive", row=1),
    BadFile("missing target column", b"date,ttf_price\n2024-01-02,30.1\n", "missing_target_column",
            "'uk_gas_price'", row=1),
    BadFile("unparseable date", b"date,uk_gas_price\n2024-01-02,80.5\nyesterday,81\n", "date_format",
            "not a YYYY-MM-DD", row=3, column="date"),
    BadFile("day-first date", b"date,uk_gas_price\n25/12/2023,80.5\n", "date_format", "day-first", row=2,
            column="date"),
    BadFile("month-first date", b"date,uk_gas_price\n12/25/2023,80.5\n", "date_format", "month-first", row=2,
            column="date"),
    BadFile("date with time", b"date,uk_gas_price\n2023-12-25 00:00:00,80.5\n", "date_format", "time part",
            row=2, column="date"),
    BadFile("year-day-month date", b"date,uk_gas_price\n2023-25-12,80.5\n", "invalid_date", "year-day-month",
            row=2, column="date"),
    BadFile("impossible date", b"date,uk_gas_price\n2023-02-30,80.5\n", "invalid_date", "not a calendar date",
            row=2, column="date"),
    BadFile("empty date", b"date,uk_gas_price\n2024-01-02,80.5\n,81\n", "missing_date", "date is empty", row=3,
            column="date"),
    BadFile("duplicate dates", b"date,uk_gas_price\n2024-01-02,80.5\n2024-01-03,81\n2024-01-02,82\n",
            "duplicate_date", "already appears on line 2", row=4, column="date"),
    BadFile("future date", b"date,uk_gas_price\n2024-01-02,80.5\n2999-01-02,81\n", "date_out_of_range",
            "in the future", row=3, column="date"),
    BadFile("year 1 date", b"date,uk_gas_price\n0001-01-02,80.5\n", "date_out_of_range", "before 2000-01-01", row=2,
            column="date"),
    BadFile("history back to 1900", b"date,uk_gas_price\n1900-01-01,80.5\n1900-01-02,80.7\n2024-01-02,81\n",
            "date_out_of_range", "before 2000-01-01, the earliest accepted date", row=2, column="date"),
    BadFile("duplicate column names", b"date,uk_gas_price,hdd,hdd\n2024-01-02,80.5,3,4\n", "duplicate_column",
            "appears twice", row=1, column="hdd"),
    BadFile("column name too long", b"date,uk_gas_price," + b"x" * 300 + b"\n2024-01-02,80.5,1\n",
            "column_name_too_long", "300 characters; the limit is 64", row=1),
    BadFile("formula as a column name", b"date,uk_gas_price,=cmd|' /C calc'!A0\n2024-01-02,80.5,1\n",
            "unsafe_column_name", "run as a formula", row=1),
    BadFile("control character in a column name", b"date,uk_gas_price,h\x07dd\n2024-01-02,80.5,1\n",
            "unsafe_column_name", "U+0007", row=1),
    BadFile("quote in a column name", b'date,uk_gas_price,"say ""hi"""\n2024-01-02,80.5,1\n',
            "unsafe_column_name", "'\"'", row=1),
    BadFile("empty column name", b"date,uk_gas_price,\n2024-01-02,80.5,\n", "empty_column_name", "no name", row=1),
    BadFile("non-numeric value", b"date,uk_gas_price,hdd\n2024-01-02,80.5,cold\n", "non_numeric",
            "'cold' is not a number", row=2, column="hdd"),
    BadFile("missing-value marker", b"date,uk_gas_price,hdd\n2024-01-02,80.5,N/A\n", "non_numeric",
            "missing-value marker", row=2, column="hdd"),
    BadFile("currency sign", b"date,uk_gas_price\n2024-01-02,\xc2\xa380.5\n", "non_numeric", "currency sign",
            row=2, column="uk_gas_price"),
    BadFile("infinite value", b"date,uk_gas_price,hdd\n2024-01-02,80.5,inf\n", "non_finite", "not a finite",
            row=2, column="hdd"),
    BadFile("overflowing value", b"date,uk_gas_price,hdd\n2024-01-02,80.5,1e999\n", "non_finite", "not a finite",
            row=2, column="hdd"),
    BadFile("absurd magnitude", b"date,uk_gas_price,hdd\n2024-01-02,80.5,1e300\n", "absurd_value", "beyond",
            row=2, column="hdd"),
    BadFile("zero target", b"date,uk_gas_price\n2024-01-02,80.5\n2024-01-03,0\n", "non_positive_target",
            "not strictly positive", row=3, column="uk_gas_price"),
    BadFile("negative target", b"date,uk_gas_price\n2024-01-02,-3.5\n", "non_positive_target",
            "not strictly positive", row=2, column="uk_gas_price"),
    BadFile("semicolon delimiter", b"date;uk_gas_price\n2024-01-02;80,5\n", "wrong_delimiter", "semicolons", row=1),
    BadFile("tab delimiter", b"date\tuk_gas_price\n2024-01-02\t80.5\n", "wrong_delimiter", "tabs", row=1),
    BadFile("quoted decimal comma", b'date,uk_gas_price\n2024-01-02,"80,5"\n', "decimal_comma", "comma",
            row=2, column="uk_gas_price"),
    BadFile("unquoted decimal comma", b"date,uk_gas_price\n2024-01-02,80,5\n", "ragged_row", "decimal comma",
            row=2),
    BadFile("short row", b"date,uk_gas_price,hdd\n2024-01-02,80.5,3\n2024-01-03,81\n", "ragged_row",
            "2 fields but the header has 3", row=3),
    BadFile("half-written quoted row", b'date,uk_gas_price\n2024-01-02,"80.5\n', "malformed_csv",
            "CSV structure is broken", row=2),
    BadFile("latin-1 bytes", b"date,uk_gas_price,note\n2024-01-02,80.5,1\n2024-01-03,81,\xa31\n", "not_utf8",
            "not valid UTF-8", row=3),
    BadFile("utf-16", "date,uk_gas_price\n2024-01-02,80.5\n".encode("utf-16"), "not_utf8", "UTF-16"),
    BadFile("binary content", bytes(range(256)) * 4, "binary", "binary data"),
    BadFile("excel workbook", b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "binary", "Excel"),
    BadFile("json content", b'[{"date": "2024-01-02", "uk_gas_price": 80.5}]', "json_content", "JSON", row=1),
    BadFile("html error page", b"<!DOCTYPE html>\n<html><body>502 Bad Gateway</body></html>", "html_content",
            "HTML page", row=1),
    BadFile("too many columns", _wide_header(MAX_COLUMNS + 1), "too_many_columns", "51 columns", row=1),
    BadFile("too large", b"date,uk_gas_price\n" + b"2024-01-02,80.5\n" * 10, "too_large", "limit is 100 bytes",
            max_bytes=100),
    BadFile("target entirely missing", b"date,uk_gas_price,hdd\n2024-01-02,,3\n2024-01-03,,4\n",
            "target_all_missing", "has no values", column="uk_gas_price"),
]


@dataclass(frozen=True)
class GoodFile:
    name: str
    data: bytes
    rows: int
    columns: tuple[str, ...]  # value columns of the frame, in file order
    warning: str | None = None


GOOD_FILES: list[GoodFile] = [
    GoodFile("byte order mark", b"\xef\xbb\xbfdate,uk_gas_price\n2024-01-02,80.5\n", 1, (TARGET,)),
    GoodFile("CRLF line endings", b"date,uk_gas_price,hdd\r\n2024-01-02,80.5,3\r\n2024-01-03,81,4\r\n", 2,
             (TARGET, "hdd")),
    GoodFile("unsorted rows", b"date,uk_gas_price\n2024-01-05,82\n2024-01-02,80.5\n2024-01-03,81\n", 3, (TARGET,)),
    GoodFile("business days only",
             b"date,uk_gas_price\n2024-01-05,82\n2024-01-08,83\n2024-01-09,84\n2024-01-10,85\n", 4, (TARGET,)),
    GoodFile("quoted numbers", b'"date","uk_gas_price","hdd"\n"2024-01-02","80.5","3"\n', 1, (TARGET, "hdd")),
    GoodFile("missing driver cells", b"date,uk_gas_price,hdd,ttf_price\n2024-01-02,80.5,,30\n2024-01-03,81,4,\n",
             2, (TARGET, "hdd", "ttf_price")),
    GoodFile("target only", b"date,uk_gas_price\n2024-01-02,80.5\n", 1, (TARGET,)),
    GoodFile("five-row increment",
             b"date,ttf_price,uk_gas_price\n2024-01-02,30,80.5\n2024-01-03,31,81\n2024-01-04,32,82\n"
             b"2024-01-05,33,83\n2024-01-08,34,84\n", 5, ("ttf_price", TARGET)),
    GoodFile("missing target cells", b"date,uk_gas_price,hdd\n2024-01-02,80.5,3\n2024-01-03,,4\n", 2,
             (TARGET, "hdd")),
    GoodFile("no final newline, spaces and exponents", b"date , uk_gas_price\n 2024-01-02 , 8.05e1 ", 1, (TARGET,)),
    GoodFile("blank lines", b"date,uk_gas_price\n2024-01-02,80.5\n\n2024-01-03,81\n\n", 2, (TARGET,),
             warning="blank_lines"),
    GoodFile("a date without values", b"date,uk_gas_price,hdd\n2024-01-02,80.5,3\n2024-01-03,,\n", 2, (TARGET, "hdd"),
             warning="row_without_values"),
    GoodFile("empty driver column", b"date,uk_gas_price,hdd\n2024-01-02,80.5,\n", 1, (TARGET, "hdd"),
             warning="column_all_missing"),
]
