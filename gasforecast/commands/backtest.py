"""`gasforecast backtest`: run the training procedure on a CSV and print its evidence and decision.

For analysts: no cloud service involved. The shared options (CSV, target, unit, drivers, procedure
settings) are also used by `gasforecast forecast` and `gasforecast evaluate`, as is the one-line
error for a file that cannot be read or breaks the data contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from gasforecast.forecasting import ProcedureSettings, TrainingResult
    from gasforecast.ingestion.dataset import PrepReport

import argparse
import json
import sys

from gasforecast.commands.progress import Progress
from gasforecast.platform.config import load_settings

EXIT_BAD_INPUT = 2


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_procedure_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `backtest`, `forecast` and `evaluate`; defaults come from the environment settings."""
    settings = load_settings()
    parser.add_argument("--csv", required=True, help="data-contract CSV (calendar-daily or business-daily)")
    parser.add_argument("--target", default=settings.target_column,
                        help=f"the column to forecast (default {settings.target_column}; TARGET_COLUMN)")
    parser.add_argument("--unit", default=settings.target_unit,
                        help=f"the target's unit, as printed and in --json (default {settings.target_unit!r}; TARGET_UNIT)")
    parser.add_argument("--label", default=settings.target_label,
                        help=f"what the target is, e.g. 'NBP front-month' (default {settings.target_label!r}; "
                             "TARGET_LABEL)")
    parser.add_argument("--drivers", type=_name_list, default=None,
                        help="comma-separated drivers to choose from (default: every other column)")
    parser.add_argument("--horizons", type=_int_list, default=settings.backtest_horizons,
                        help="scored horizons, in steps of the series' calendar (default %(default)s)")
    parser.add_argument("--window-years", type=float, default=settings.training_window_years or None,
                        help="train on the last N years only (default: all history)")
    parser.add_argument("--max-drivers", type=int, default=settings.max_drivers,
                        help="at most this many drivers enter the VAR/VECM candidates, chosen by forward selection "
                             "(default %(default)s; MAX_DRIVERS)")
    parser.add_argument("--publication-lags", default=settings.driver_publication_lags,
                        help="column=days,… : days after its date a driver's value is published (default: 1 for "
                             "weather, demand and storage columns by name, 0 for the rest; DRIVER_PUBLICATION_LAGS)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def procedure_settings(args: argparse.Namespace) -> ProcedureSettings:
    from gasforecast.forecasting import ProcedureSettings

    return ProcedureSettings(horizons=args.horizons, max_drivers=args.max_drivers, window_years=args.window_years)


def input_error(args: argparse.Namespace, exc: OSError | ValueError) -> int:
    """One line on stderr naming the file (and, for a contract problem, the line of the first one)."""
    if isinstance(exc, OSError):
        path = exc.filename if exc.filename is not None else args.csv
        message = f"cannot read {path}: {exc.strerror or exc}"
    else:
        message = f"{args.csv}: " + " ".join(str(exc).split())
    print(f"gasforecast {args.command}: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def read_frame(args: argparse.Namespace, progress: Progress | None = None) -> tuple[pd.DataFrame, PrepReport]:
    """The CSV through the data contract and the training frame, as an upload; returns (frame, prep report)."""
    from gasforecast.ingestion.dataset import frame_from_csv
    from gasforecast.platform.config import parse_lags

    settings = load_settings()
    if progress is not None:
        progress.stage(f"reading {args.csv}")
    with open(args.csv, "rb") as handle:
        return frame_from_csv(handle.read(), args.target, max_bytes=settings.max_upload_bytes,
                              max_columns=settings.max_columns, declared_lags=parse_lags(args.publication_lags))


def run_from_args(args: argparse.Namespace, horizon: int, progress: Progress) -> tuple[pd.DataFrame, TrainingResult]:
    """Read the CSV and run the training procedure (without the nested figures); returns (frame, result)."""
    from gasforecast.forecasting import run_procedure

    frame, prep = read_frame(args, progress)
    progress.stage(f"scoring the candidates on {len(frame)} rows ({prep.calendar} calendar) and choosing one")
    return frame, run_procedure(frame, args.target, procedure_settings(args), horizon=horizon,
                                drivers=args.drivers, evaluate=False, holidays=prep.market_holidays())


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("backtest", help="run the training procedure on a CSV: evidence and decision")
    add_procedure_arguments(parser)
    parser.add_argument("--plot", default=None,
                        help="also write a PNG to this path: the served forecast, and each candidate's error ratio "
                             "to naive per horizon")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    progress = Progress("backtest")
    try:
        frame, result = run_from_args(args, max(args.horizons), progress)
        if args.plot:
            from gasforecast.forecasting.plotting import plot_training

            progress.stage(f"writing {args.plot}")
            plot_training(result, frame, args.target, args.plot, label=args.label, unit=args.unit)
    except (OSError, ValueError) as exc:
        return input_error(args, exc)
    progress.finish()
    if args.json:
        print(json.dumps({"target": args.target, "served": result.config.to_dict(),
                          "decision": result.decision.to_dict(), "report": result.report.to_dict()}, indent=2))
    else:
        print(result.report.table())
        print(f"\nserved: {result.config.label} ({result.decision.decision}: {result.decision.reason})")
    return 0
