"""The data contract for CSV files dropped in the uploads bucket (docs/data-contract.md).

Whoever uploads a file needs to know exactly what is wrong and where, so validation collects every
problem with its line (as an editor shows it: header = line 1) and column, and a hint on how to fix
it, instead of stopping at the first. Parsing is vectorised so a decade of daily rows is checked in
milliseconds; only the first few problems of each kind are listed. The header is read and checked
before any data row is parsed, so a hostile header (100,000 columns) costs milliseconds, not minutes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

DATE_COLUMN = "date"
MAX_PROBLEMS_PER_CODE = 20
MAX_COLUMN_NAME_LENGTH = 64
# A column name starts with a letter, digit or `_` (never `= + - @`, which spreadsheets run as a
# formula) and holds only letters, digits, spaces and `_ . - ( ) [ ] / % £ € $ °`: no control or
# invisible characters, no quotes, no markup.
SAFE_COLUMN_NAME = re.compile(r"[^\W][\w .()\[\]/%£€$°-]*")
MAX_ABS_VALUE = 1e12  # larger magnitudes are typing or unit accidents and overflow the models' arithmetic
# The earliest date a row may carry by default (Settings.earliest_date, EARLIEST_DATE): every row
# stays in the curated history for good and stretches the daily calendar training fills.
EARLIEST_DATE = date(2000, 1, 1)

# Every error code, with the hint telling the uploader how to fix it (docs list each one).
ERROR_HINTS: dict[str, str] = {
    "too_large": "Split the file or upload only the new rows: ingest merges increments into the history.",
    "empty": "Upload a CSV with a header line and at least one data row.",
    "binary": "Export the data as CSV (comma-separated, UTF-8) rather than uploading a binary file.",
    "not_utf8": "Save the file as UTF-8 (in Excel: 'CSV UTF-8 (Comma delimited)').",
    "html_content": "This is a web page or XML document, not a CSV: download the data itself again.",
    "json_content": "This is JSON, not CSV: convert it to a comma-separated table with a header line.",
    "malformed_csv": "Check the quotes on this line: a quoted field must be closed before the next comma.",
    "wrong_delimiter": "Separate fields with commas and use '.' as the decimal point.",
    "too_many_columns": "Keep the date, the target and the drivers you need; drop the other columns.",
    "column_name_too_long": f"Shorten the column name to at most {MAX_COLUMN_NAME_LENGTH} characters.",
    "unsafe_column_name": "Name columns with letters, digits, spaces and _ . - ( ) [ ] / % £ € $ °, "
                          "starting with a letter, digit or _ (never = + - @).",
    "empty_column_name": "Give every column a name in the header line (or remove trailing commas).",
    "duplicate_column": "Rename or remove one of the columns so that every header name is unique.",
    "missing_date_column": "Add a column named exactly 'date' holding YYYY-MM-DD dates.",
    "missing_target_column": "Add the target column (or validate with --target NAME if it is named differently).",
    "no_data_rows": "Add at least one data row below the header.",
    "ragged_row": "Every line must have as many fields as the header: add empty fields or remove extra ones.",
    "decimal_comma": "Use '.' as the decimal point and no thousands separators (45.3, not 45,3).",
    "missing_date": "Every row needs a date; remove the row or fill in its date.",
    "date_format": "Write dates as ISO 8601 calendar dates: YYYY-MM-DD (e.g. 2023-12-25).",
    "invalid_date": "Write dates as YYYY-MM-DD with a real month (01-12) and day.",
    "duplicate_date": "Keep one row per date: remove or merge the repeated rows.",
    "date_out_of_range": "Dates run from the earliest accepted date (EARLIEST_DATE, 2000-01-01 by default) to "
                         "tomorrow (UTC): fix the year, drop older rows, or upload future values once their day "
                         "has come.",
    "non_numeric": "Write plain numbers; leave the cell empty for a missing value.",
    "non_finite": "Replace infinite values by a number, or leave the cell empty for a missing value.",
    "absurd_value": "Check the value and its unit: magnitudes above 1e12 are refused; leave the cell empty if unknown.",
    "non_positive_target": "Target prices must be strictly positive; leave the cell empty if the price is unknown.",
    "target_all_missing": "Fill in the target column: a file must carry at least one target value.",
}

WARNING_HINTS: dict[str, str] = {
    "blank_lines": "Blank lines are ignored; remove them to silence this warning.",
    "column_all_missing": "The column has no values and is ignored; fill it in or remove it.",
    "row_without_values": "Rows with a date but no values are ignored.",
}

_MISSING_MARKERS = {"na", "n/a", "nan", "null", "none", "-", "--", "#n/a", "#value!", "#div/0!", "missing"}
_BINARY_MAGIC = {
    b"PK\x03\x04": "a ZIP archive or Excel workbook (.xlsx)",
    b"\xd0\xcf\x11\xe0": "an old-style Excel workbook (.xls)",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"PAR1": "a Parquet file",
}


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about a file; `row` is the 1-based line, header = 1."""

    code: str
    message: str
    row: int | None = None
    column: str | None = None
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def location(self) -> str:
        """"line 3, column 'hdd'", "line 3", or "" for a problem of the whole file."""
        where = [f"line {self.row}" if self.row is not None else "", f"column {self.column!r}" if self.column else ""]
        return ", ".join(part for part in where if part)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


@dataclass
class ValidationResult:
    ok: bool
    problems: list[Problem]
    warnings: list[Problem]
    frame: pd.DataFrame | None = None
    rows: int = 0
    columns: list[str] = field(default_factory=list)
    lines: pd.Series | None = None  # the file line of each row of `frame`, indexed like it

    def line_of(self, day: pd.Timestamp) -> int | None:
        """The line of the file that holds `day` (for reports that point at a cell)."""
        if self.lines is None or day not in self.lines.index:
            return None
        return int(self.lines.loc[day])

    def to_dict(self) -> dict[str, Any]:
        """The JSON report stored beside a rejected or archived file and printed by `validate --json`."""
        dates = self.frame.index if self.frame is not None and len(self.frame.index) > 0 else None
        return {
            "ok": self.ok,
            "errors": [p.to_dict() for p in self.problems],
            "warnings": [p.to_dict() for p in self.warnings],
            "rows": self.rows,
            "columns": list(self.columns),
            "first_date": dates[0].strftime("%Y-%m-%d") if dates is not None else None,
            "last_date": dates[-1].strftime("%Y-%m-%d") if dates is not None else None,
        }


class _Collector:
    """Keeps the first `MAX_PROBLEMS_PER_CODE` problems of each code and counts the rest."""

    def __init__(self, hints: dict[str, str]) -> None:
        self._hints = hints
        self._kept: list[Problem] = []
        self._counts: dict[str, int] = {}

    def add(self, code: str, message: str, row: int | None = None, column: str | None = None) -> None:
        self._counts[code] = self._counts.get(code, 0) + 1
        if self._counts[code] <= MAX_PROBLEMS_PER_CODE:
            self._kept.append(Problem(code, message, row, column, self._hints[code]))

    def count(self, code: str, extra: int) -> None:
        """Record `extra` further occurrences of a code that were not turned into problems."""
        if extra > 0:
            self._counts[code] = self._counts.get(code, 0) + extra

    def has(self, code: str) -> bool:
        return code in self._counts

    def __bool__(self) -> bool:
        return bool(self._counts)

    def problems(self) -> list[Problem]:
        result = list(self._kept)
        for code, total in self._counts.items():
            if total > MAX_PROBLEMS_PER_CODE:
                more = total - MAX_PROBLEMS_PER_CODE
                result.append(Problem(code, f"... and {more} more of the same kind ({code}) not listed",
                                      hint=self._hints[code]))
        return result


@dataclass
class _Table:
    header: list[str]
    header_line: int  # 1 unless blank lines precede the header
    rows: list[list[str]]
    lines: list[int]  # line number of each row in `rows`


def _describe(value: str, limit: int = 40) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _check_bytes(data: bytes, max_bytes: int, errors: _Collector) -> str | None:
    """Size, encoding and content sniffing; returns the decoded text when it is worth parsing."""
    if len(data) > max_bytes:
        errors.add("too_large", f"the file has {len(data):,} bytes; the limit is {max_bytes:,} bytes")
        return None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors.add("not_utf8", "the file is encoded as UTF-16, not UTF-8")
        return None
    for magic, kind in _BINARY_MAGIC.items():
        if data.startswith(magic):
            errors.add("binary", f"the file is {kind}, not a CSV text file")
            return None
    head = data[:8192]
    controls = sum(1 for byte in head if byte < 32 and byte not in (9, 10, 13))
    if b"\x00" in head or controls > len(head) // 20:
        errors.add("binary", "the file contains binary data (control bytes), not CSV text")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        errors.add("not_utf8", f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not valid UTF-8", row=line)
        return None
    stripped = text.lstrip()
    if not stripped:
        errors.add("empty", "the file is empty")
        return None
    lowered = stripped[:200].lower()
    if stripped.startswith("<"):
        kind = "an HTML page" if ("html" in lowered or "<body" in lowered) else "an XML/HTML document"
        errors.add("html_content", f"the file is {kind} (starts with {_describe(stripped[:20])})", row=1)
        return None
    if stripped[0] in "{[":
        errors.add("json_content", f"the file is JSON (starts with {_describe(stripped[:20])})", row=1)
        return None
    return text


class _BrokenCsv(Exception):
    def __init__(self, line: int, error: csv.Error) -> None:
        super().__init__(str(error))
        self.line = line


def _records(text: str, blank_lines: list[int]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV records with the line each starts on, read lazily (the header comes first and
    can be judged before the body is parsed); blank lines are collected in `blank_lines`."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    previous_end = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _BrokenCsv(previous_end + 1, exc) from exc
        start, previous_end = previous_end + 1, reader.line_num
        if not record or (len(record) == 1 and not record[0].strip()):
            blank_lines.append(start)
            continue
        yield start, record


def _header_too_long(text: str, max_columns: int, errors: _Collector) -> bool:
    """Refuse a header line longer than any valid one could be, before it is split into fields
    (a 50 MB header would otherwise become millions of strings); commas are counted in place."""
    position, line = 0, 1
    longest = max_columns * (2 * MAX_COLUMN_NAME_LENGTH + 3)  # quoted names, doubled quotes, commas
    while position < len(text):
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        if end - position > longest:
            columns = text.count(",", position, end) + 1
            errors.add("too_many_columns", f"the header has about {columns} columns in {end - position:,} characters; "
                                           f"the limit is {max_columns} columns", row=line)
            return True
        if text[position:end].strip():
            return False
        position, line = end + 1, line + 1
    return False


def _read_table(text: str, target: str, max_columns: int, errors: _Collector,
                warnings: _Collector) -> _Table | None:
    """The header, checked first, then the data rows; None when the rows cannot be read as the
    contract's table (the errors say why)."""
    if _header_too_long(text, max_columns, errors):
        return None
    blank_lines: list[int] = []
    records = _records(text, blank_lines)
    try:
        header_line, header = next(records, (0, None))
        if header is None:
            errors.add("empty", "the file holds only blank lines")
            return None
        table = _Table(header=[name.strip() for name in header], header_line=header_line, rows=[], lines=[])
        if not _check_header(table, target, max_columns, errors):
            return table
        for line, record in records:
            table.rows.append(record)
            table.lines.append(line)
    except _BrokenCsv as exc:
        errors.add("malformed_csv", f"the CSV structure is broken: {exc}", row=exc.line)
        return None
    data_blanks = [line for line in blank_lines if line > table.header_line]
    if data_blanks:
        warnings.add("blank_lines", f"{len(data_blanks)} blank line(s) ignored, first on line {data_blanks[0]}",
                     row=data_blanks[0])
    return table


def _check_column_name(name: str, position: int, line: int, errors: _Collector) -> bool:
    if not name:
        errors.add("empty_column_name", f"column {position} has no name", row=line)
    elif len(name) > MAX_COLUMN_NAME_LENGTH:
        errors.add("column_name_too_long", f"column {position} is named {_describe(name)} ({len(name)} characters; "
                                           f"the limit is {MAX_COLUMN_NAME_LENGTH})", row=line)
    elif not SAFE_COLUMN_NAME.fullmatch(name):
        errors.add("unsafe_column_name", f"column {position} is named {_describe(name)}: "
                                         f"{_unsafe_reason(name)}", row=line)
    else:
        return True
    return False


def _unsafe_reason(name: str) -> str:
    if name[0] in "=+-@":
        return f"a name starting with {name[0]!r} is run as a formula by spreadsheets"
    bad = next(c for i, c in enumerate(name) if not SAFE_COLUMN_NAME.fullmatch(name[: i + 1] if i else c))
    return f"character {bad!r} (U+{ord(bad):04X}) is not allowed in a column name"


def _check_header(table: _Table, target: str, max_columns: int, errors: _Collector) -> bool:
    """Header checks, before any data row is parsed; False when the body must not be read."""
    header, line = table.header, table.header_line
    if len(header) == 1:
        for delimiter, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
            if delimiter in header[0]:
                errors.add("wrong_delimiter", f"the header is separated by {name}, not commas: "
                                              f"{_describe(header[0], 60)}", row=line)
                return False
    if len(header) > max_columns:
        errors.add("too_many_columns", f"the header has {len(header)} columns; the limit is {max_columns}", row=line)
        return False
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if not _check_column_name(name, position, line, errors):
            continue
        if name in seen:
            errors.add("duplicate_column", f"column {name!r} appears twice (columns {seen[name]} and {position})",
                       row=line, column=name)
        else:
            seen[name] = position
    lowered = {name.lower(): name for name in header}
    for required, code in ((DATE_COLUMN, "missing_date_column"), (target, "missing_target_column")):
        if required not in seen:
            near = lowered.get(required.lower())
            suffix = f" (found {near!r}: names are case-sensitive)" if near else ""
            errors.add(code, f"there is no column named {required!r}{suffix}", row=line)
    return not errors


def _check_shape(table: _Table, errors: _Collector) -> np.ndarray:
    """Flag rows whose field count differs from the header's; returns a mask of the well-formed rows."""
    width = len(table.header)
    good = np.ones(len(table.rows), dtype=bool)
    integer_like = re.compile(r"-?\d*")
    for index, (record, line) in enumerate(zip(table.rows, table.lines, strict=True)):
        if len(record) == width:
            continue
        good[index] = False
        message = f"line has {len(record)} fields but the header has {width}"
        if len(record) > width and all(integer_like.fullmatch(cell.strip()) for cell in record[1:]):
            whole, fraction = record[1].strip(), record[2].strip()  # this row's first split number, quoted
            message += (f"; the extra fields look like numbers written with a decimal comma "
                        f"({whole},{fraction} for {whole}.{fraction})")
        errors.add("ragged_row", message, row=line)
    return good


def _day_month_order(values: pd.Series) -> str:
    """Guess the order of `a/b/yyyy` dates from the whole column (a field above 12 cannot be a month)."""
    parts = values.str.extract(r"^(\d{1,2})[/.-](\d{1,2})[/.-]\d{4}$").dropna().astype(int)
    if (parts[0] > 12).any():
        return "day/month/year (day-first)"
    if (parts[1] > 12).any():
        return "month/day/year (month-first)"
    return "day/month/year or month/day/year (cannot tell which)"


def _explain_date(value: str, order: str) -> str:
    if re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}", value):
        return f"date {_describe(value)} is not YYYY-MM-DD: it looks like {order}"
    if re.fullmatch(r"\d{4}[/.]\d{1,2}[/.]\d{1,2}", value):
        return f"date {_describe(value)} is not YYYY-MM-DD: use dashes, zero-padded"
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", value):
        return f"date {_describe(value)} is not YYYY-MM-DD: month and day need two digits"
    if re.match(r"\d{4}-\d{2}-\d{2}[ T]", value):
        return f"date {_describe(value)} has a time part; the contract wants calendar dates only"
    if re.fullmatch(r"\d{5}(\.0+)?", value):
        return f"date {_describe(value)} looks like an Excel serial day number; format the column as yyyy-mm-dd"
    return f"date {_describe(value)} is not a YYYY-MM-DD date"


def _explain_invalid_iso(value: str) -> str:
    month, day = int(value[5:7]), int(value[8:10])
    if month > 12 and day <= 12:
        return f"date {_describe(value)} has month {month}: it looks like year-day-month (YYYY-DD-MM)"
    return f"date {_describe(value)} is not a calendar date"


def _report_cells(code: str, indices: np.ndarray, explain: Callable[[str], str], values: pd.Series, lines: np.ndarray, name: str,
                  errors: _Collector) -> None:
    """Report the first bad cells of a kind one by one and only count the rest (keeps big files fast)."""
    for index in indices[:MAX_PROBLEMS_PER_CODE]:
        errors.add(code, explain(values.iloc[index]), row=int(lines[index]), column=name)
    errors.count(code, max(0, len(indices) - MAX_PROBLEMS_PER_CODE))


def _parse_dates(values: pd.Series, lines: np.ndarray, earliest: date, latest: date, errors: _Collector) -> pd.Series:
    """ISO calendar dates → Timestamps (NaT where invalid, each invalid one reported).

    Dates after `latest` (tomorrow, UTC) or before `earliest` are refused: a future row would stay in
    the history for good, and rows back to 1900 would stretch the daily calendar (and training) over
    a century."""
    values = values.str.strip()
    empty = values == ""
    iso_shape = values.str.fullmatch(r"\d{4}-\d{2}-\d{2}")
    parsed = pd.to_datetime(values.where(iso_shape), format="%Y-%m-%d", errors="coerce")
    _report_cells("missing_date", np.flatnonzero(empty.to_numpy()), lambda v: "the date is empty",
                  values, lines, DATE_COLUMN, errors)
    bad_shape = np.flatnonzero((~empty & ~iso_shape).to_numpy())
    if len(bad_shape):
        order = _day_month_order(values.iloc[bad_shape])
        _report_cells("date_format", bad_shape, lambda v: _explain_date(v, order), values, lines, DATE_COLUMN, errors)
    _report_cells("invalid_date", np.flatnonzero((iso_shape & parsed.isna()).to_numpy()), _explain_invalid_iso,
                  values, lines, DATE_COLUMN, errors)
    early, late = pd.Timestamp(earliest), pd.Timestamp(latest)
    _report_cells("date_out_of_range", np.flatnonzero(((parsed < early) | (parsed > late)).to_numpy()),
                  lambda v: f"date {_describe(v)} is " + (f"before {earliest.isoformat()}, the earliest accepted date"
                                                            if v < earliest.isoformat()
                                                            else "in the future (after tomorrow, UTC)"),
                  values, lines, DATE_COLUMN, errors)
    duplicated = np.flatnonzero((parsed.duplicated(keep="first") & parsed.notna()).to_numpy())
    if len(duplicated):
        first_line = dict(zip(parsed.iloc[::-1], lines[::-1], strict=True))
        _report_cells("duplicate_date", duplicated,
                      lambda v: f"date {v} already appears on line {first_line[pd.Timestamp(v)]}",
                      values, lines, DATE_COLUMN, errors)
    return parsed


def _explain_value(value: str) -> str:
    """Why a cell that is neither empty nor a decimal-comma number is not a number."""
    if value.lower() in _MISSING_MARKERS:
        return f"value {_describe(value)} is a missing-value marker; leave the cell empty instead"
    if re.search(r"[£$€%]", value):
        return f"value {_describe(value)} carries a unit or currency sign; write the bare number"
    return f"value {_describe(value)} is not a number"


def _parse_numbers(name: str, values: pd.Series, lines: np.ndarray, errors: _Collector) -> pd.Series:
    """Cells → floats (NaN for empty cells), each non-number or infinity reported."""
    values = values.str.strip()
    empty = values == ""
    numbers = pd.to_numeric(values.where(~empty), errors="coerce").astype("float64")
    not_number = ~empty & numbers.isna()
    comma = not_number & values.str.fullmatch(r"-?\d+,\d+")
    _report_cells("decimal_comma", np.flatnonzero(comma.to_numpy()),
                  lambda v: f"value {_describe(v)} uses a comma as decimal point or thousands separator",
                  values, lines, name, errors)
    _report_cells("non_numeric", np.flatnonzero((not_number & ~comma).to_numpy()), _explain_value,
                  values, lines, name, errors)
    _report_cells("non_finite", np.flatnonzero(np.isinf(numbers.to_numpy())),
                  lambda v: f"value {_describe(v)} is not a finite number", values, lines, name, errors)
    absurd = np.isfinite(numbers.to_numpy()) & (numbers.abs().to_numpy() > MAX_ABS_VALUE)
    _report_cells("absurd_value", np.flatnonzero(absurd),
                  lambda v: f"value {_describe(v)} is beyond ±{MAX_ABS_VALUE:.0e}", values, lines, name, errors)
    return numbers


def _check_target(cells: pd.Series, numbers: pd.Series, target: str, lines: np.ndarray, complete: bool,
                  errors: _Collector) -> None:
    _report_cells("non_positive_target", np.flatnonzero((numbers <= 0).to_numpy()),
                  lambda v: f"target value {_describe(v)} is not strictly positive", cells, lines, target, errors)
    if complete and cells.str.strip().eq("").all():
        errors.add("target_all_missing", f"the target column {target!r} has no values", column=target)


def _build_frame(table: _Table, good: np.ndarray, target: str, dates_within: tuple[date, date], errors: _Collector,
                 warnings: _Collector) -> tuple[pd.DataFrame, pd.Series]:
    """Convert the well-formed rows column by column; problems go to `errors`.

    Whole-column checks (an empty target or driver) only run when no row was dropped as malformed,
    so that a broken file is not also reported as an empty one.
    """
    complete = bool(good.all())
    rows = [record for record, keep in zip(table.rows, good, strict=True) if keep]
    lines = np.asarray(table.lines)[good]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in table.header]
    cells = {name: pd.Series(list(column), dtype="str") for name, column in zip(table.header, columns, strict=True)}
    dates = _parse_dates(cells[DATE_COLUMN], lines, *dates_within, errors)
    values: dict[str, pd.Series] = {}
    for name, column in cells.items():
        if name == DATE_COLUMN:
            continue
        values[name] = _parse_numbers(name, column, lines, errors)
        if name == target:
            _check_target(column, values[name], target, lines, complete, errors)
        elif complete and column.str.strip().eq("").all():
            warnings.add("column_all_missing", f"column {name!r} has no values", row=table.header_line, column=name)
    frame = pd.DataFrame(values)
    frame.index = pd.DatetimeIndex(dates, name=DATE_COLUMN)
    without_values = np.flatnonzero(frame.isna().all(axis=1).to_numpy())
    if len(without_values) and not errors:
        warnings.add("row_without_values", f"{len(without_values)} row(s) have a date but no values, "
                                           f"first on line {lines[without_values[0]]}", row=int(lines[without_values[0]]))
    return frame.sort_index(), pd.Series(lines, index=frame.index).sort_index()


def tomorrow_utc() -> date:
    return (datetime.now(UTC) + timedelta(days=1)).date()


def validate_csv(data: bytes, *, target: str, max_bytes: int, max_columns: int,
                 latest_date: date | None = None, earliest_date: date = EARLIEST_DATE) -> ValidationResult:
    """Check an uploaded file against the contract; when valid, also return it as a float frame.

    `latest_date` is the last date a row may carry (default: tomorrow, UTC), `earliest_date` the first
    (Settings.earliest_date in ingest and `gasforecast validate`).
    """
    errors = _Collector(ERROR_HINTS)
    warnings = _Collector(WARNING_HINTS)
    text = _check_bytes(data, max_bytes, errors)
    table = _read_table(text, target, max_columns, errors, warnings) if text is not None else None
    if table is None or errors:
        header = table.header[:max_columns] if table else []
        return ValidationResult(False, errors.problems(), warnings.problems(), columns=header)
    if not table.rows:
        errors.add("no_data_rows", "the file has a header but no data rows", row=table.header_line)
        return ValidationResult(False, errors.problems(), warnings.problems(), columns=list(table.header))
    good = _check_shape(table, errors)
    frame, lines = _build_frame(table, good, target, (earliest_date, latest_date or tomorrow_utc()), errors,
                                warnings)
    ok = not errors
    return ValidationResult(
        ok=ok,
        problems=errors.problems(),
        warnings=warnings.problems(),
        frame=frame if ok else None,
        rows=len(table.rows),
        columns=list(table.header),
        lines=lines if ok else None,
    )
