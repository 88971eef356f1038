"""`gasforecast validate FILE`: check a CSV against the data contract offline, before uploading it.

Runs exactly the checks ingest runs, so a file that passes here is accepted by the pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gasforecast.ingestion.contract import Problem, ValidationResult, validate_csv
from gasforecast.platform.config import load_settings

EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("validate", help="check a CSV file against the data contract (exit 1 if invalid)")
    parser.add_argument("file", help="the CSV file to check, - for standard input")
    parser.add_argument("--json", action="store_true", help="print the JSON report that ingest stores")
    parser.add_argument("--target", help="target column (default: TARGET_COLUMN, else uk_gas_price)")
    parser.set_defaults(func=run)


def _format_problem(kind: str, problem: Problem) -> list[str]:
    lines = [f"  {kind:<7} [{problem.code}] {problem}"]
    if problem.hint:
        lines.append(f"          fix: {problem.hint}")
    return lines


def format_report(label: str, result: ValidationResult) -> str:
    """The human-readable report: a verdict line, then each problem with where it is and how to fix it."""
    report = result.to_dict()
    if result.ok:
        verdict = (f"{label}: valid — {report['rows']} rows, {report['first_date']} to {report['last_date']}, "
                   f"columns: {', '.join(report['columns'])}")
    else:
        verdict = f"{label}: INVALID — {len(result.problems)} error(s); the pipeline would reject this file"
    lines = [verdict]
    for problem in result.problems:
        lines += _format_problem("error", problem)
    for warning in result.warnings:
        lines += _format_problem("warning", warning)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    except OSError as exc:
        print(f"gasforecast validate: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    result = validate_csv(data, target=args.target or settings.target_column,
                          max_bytes=settings.max_upload_bytes, max_columns=settings.max_columns,
                          earliest_date=settings.earliest)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_report(args.file, result))
    return EXIT_VALID if result.ok else EXIT_INVALID
