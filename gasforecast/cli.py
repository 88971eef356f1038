"""`gasforecast` command line: each subcommand lives in `gasforecast.commands.<name>`.

A module exposes `register(subparsers)`, which adds its parser and sets `func(args) -> exit code`.
Modules are imported lazily per run so `gasforecast validate` does not pay for statsmodels.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMAND_MODULES: tuple[str, ...] = ("sample", "retrain", "replay", "accept", "retire", "rollback", "backtest", "forecast",
                                   "evaluate", "validate", "series")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gasforecast", description="UK gas price forecasting: analyst and operations commands.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"gasforecast.commands.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from gasforecast.platform.logs import configure_for_cli

    args = build_parser().parse_args(argv)
    configure_for_cli()
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
