"""docs/data-contract.md shows every error code with the exact message the code produces.

The examples section of the page is generated from `contract_cases`; when the messages change, run
`GASFORECAST_UPDATE_DOCS=1 .venv/bin/pytest tests/contract/test_contract_docs.py` and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

from contract_cases import BAD_FILES, GOOD_FILES, MAX_COLUMNS, TARGET

from gasforecast.ingestion.contract import ERROR_HINTS, WARNING_HINTS, validate_csv

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"
BEGIN = "<!-- BEGIN GENERATED: error examples (tests/contract/test_contract_docs.py) -->"
END = "<!-- END GENERATED -->"
MAX_LINE = 90


def _show(data: bytes) -> str:
    """The example file as a reader would see it in an editor, or its first bytes when it is not text."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or not text.strip() or any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        return f"```\n(bytes) {data[:48]!r}{' …' if len(data) > 48 else ''}\n```"
    lines = text.splitlines()[:6]
    shown = [line if len(line) <= MAX_LINE else line[:MAX_LINE] + " …" for line in lines]
    return "```csv\n" + "\n".join(shown) + ("\n…" if len(text.splitlines()) > 6 else "") + "\n```"


def _example(name: str, data: bytes, max_bytes: int, code: str, kind: str) -> str:
    result = validate_csv(data, target=TARGET, max_bytes=max_bytes, max_columns=MAX_COLUMNS)
    found = result.problems if kind == "error" else result.warnings
    problem = next(p for p in found if p.code == code)
    limit = f" (limit set to {max_bytes} bytes for the example)" if code == "too_large" else ""
    return f"Example: {name}{limit}\n\n{_show(data)}\n\n> {problem}\n"


def render() -> str:
    parts = [BEGIN, ""]
    for code, hint in ERROR_HINTS.items():
        cases = [case for case in BAD_FILES if case.code == code]
        parts.append(f"### `{code}` (error)\n\nHow to fix: {hint}\n")
        parts += [_example(case.name, case.data, case.max_bytes, code, "error") for case in cases]
    for code, hint in WARNING_HINTS.items():
        cases = [case for case in GOOD_FILES if case.warning == code]
        parts.append(f"### `{code}` (warning: the file is still accepted)\n\nHow to fix: {hint}\n")
        parts += [_example(case.name, case.data, 10**6, code, "warning") for case in cases]
    parts.append(END)
    return "\n".join(parts)


def test_every_code_has_an_example_file() -> None:
    assert {case.code for case in BAD_FILES} == set(ERROR_HINTS)
    assert {case.warning for case in GOOD_FILES if case.warning} == set(WARNING_HINTS)


def test_doc_shows_every_code_with_the_current_messages() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    current = rest[: rest.find(END) + len(END)] if END in rest else ""
    expected = render()
    if os.environ.get("GASFORECAST_UPDATE_DOCS") == "1":
        DOC.write_text(head + expected + tail, encoding="utf-8")
        return
    assert BEGIN + current == expected, "docs/data-contract.md is stale: regenerate it (see this module's docstring)"
    for code in [*ERROR_HINTS, *WARNING_HINTS]:
        assert f"### `{code}`" in text
