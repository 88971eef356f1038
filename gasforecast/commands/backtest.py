"""`gasforecast backtest`: run the training procedure on a CSV and print its evidence and decision.

For analysts: no cloud service involved. The shared options (CSV, target, drivers, procedure
settings) are also used by `gasforecast forecast` and `gasforecast evaluate`.
"""

from __future__ import annotations

import argparse
import json
import sys

from gasforecast.config import load_settings

EXIT_BAD_INPUT = 2


def _int_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_procedure_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `backtest`, `forecast` and `evaluate`; defaults come from the environment settings."""
    settings = load_settings()
    parser.add_argument("--csv", required=True, help="data-contract CSV (calendar-daily or business-daily)")
    parser.add_argument("--target", default=settings.target_column, help=f"target column (default {settings.target_column})")
    parser.add_argument("--drivers", type=_name_list, default=None,
                        help="comma-separated drivers to choose from (default: every other column)")
    parser.add_argument("--horizons", type=_int_list, default=settings.backtest_horizons,
                        help="scored horizons, in steps of the series' calendar (default %(default)s)")
    parser.add_argument("--window-years", type=float, default=settings.training_window_years or None,
                        help="train on the last N years only (default: all history)")
    parser.add_argument("--max-drivers", type=int, default=settings.max_drivers)
    parser.add_argument("--publication-lags", default=settings.driver_publication_lags,
                        help="column=days,… : days after its date a driver's value is published (default: 1 for "
                             "weather, demand and storage columns by name, 0 for the rest; DRIVER_PUBLICATION_LAGS)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def procedure_settings(args: argparse.Namespace):
    from gasforecast.forecasting import ProcedureSettings

    return ProcedureSettings(horizons=args.horizons, max_drivers=args.max_drivers, window_years=args.window_years)


def read_frame(args: argparse.Namespace):
    """The CSV through the data contract and the training frame, as an upload; returns (frame, prep report)."""
    from gasforecast.config import parse_lags
    from gasforecast.dataset import frame_from_csv

    settings = load_settings()
    with open(args.csv, "rb") as handle:
        return frame_from_csv(handle.read(), args.target, max_bytes=settings.max_upload_bytes,
                              max_columns=settings.max_columns, declared_lags=parse_lags(args.publication_lags))


def run_from_args(args: argparse.Namespace, horizon: int):
    """Read the CSV and run the training procedure (without the nested figures); returns (frame, result)."""
    from gasforecast.forecasting import run_procedure

    frame, _ = read_frame(args)
    return frame, run_procedure(frame, args.target, procedure_settings(args), horizon=horizon,
                                drivers=args.drivers, evaluate=False)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("backtest", help="run the training procedure on a CSV: evidence and decision")
    add_procedure_arguments(parser)
    parser.add_argument("--plot", default=None, help="also write the chart to this PNG path")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        frame, result = run_from_args(args, max(args.horizons))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.plot:
        from gasforecast.forecasting.plotting import plot_training

        plot_training(result, frame, args.target, args.plot)
    if args.json:
        print(json.dumps({"target": args.target, "served": result.config.to_dict(),
                          "decision": result.decision.to_dict(), "report": result.report.to_dict()}, indent=2))
    else:
        print(result.report.table())
        print(f"\nserved: {result.config.label} ({result.decision.decision}: {result.decision.reason})")
    return 0
