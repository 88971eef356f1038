"""`gasforecast backtest`: select drivers and model on a CSV and print the rolling-origin backtest.

For analysts: no cloud service involved. The shared options (CSV, target, drivers, backtest
settings) are also used by `gasforecast forecast`.
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


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by `backtest` and `forecast`; defaults come from the environment settings."""
    settings = load_settings()
    parser.add_argument("--csv", required=True, help="data-contract CSV (daily or business-daily)")
    parser.add_argument("--target", default=settings.target_column, help=f"target column (default {settings.target_column})")
    parser.add_argument("--drivers", type=_name_list, default=None,
                        help="comma-separated drivers to choose from (default: every other column)")
    parser.add_argument("--horizons", type=_int_list, default=settings.backtest_horizons,
                        help="backtest horizons in days (default %(default)s)")
    parser.add_argument("--origins", type=int, default=settings.backtest_origins,
                        help="number of weekly backtest origins (default %(default)s)")
    parser.add_argument("--window-years", type=float, default=settings.training_window_years or None,
                        help="train on the last N years only (default: all history)")
    parser.add_argument("--max-drivers", type=int, default=settings.max_drivers)
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def select_from_args(args: argparse.Namespace):
    """Read the CSV and run `select_model` as the options say; returns (frame, selection)."""
    from gasforecast.dataset import frame_from_csv
    from gasforecast.forecasting import BacktestSettings, select_model

    settings = load_settings()
    backtest = BacktestSettings(horizons=args.horizons, origins=args.origins, step_days=settings.backtest_step_days,
                                max_drivers=args.max_drivers, window_years=args.window_years)
    with open(args.csv, "rb") as handle:
        frame, _ = frame_from_csv(handle.read(), args.target, max_bytes=settings.max_upload_bytes,
                                  max_columns=settings.max_columns)
    return frame, select_model(frame, args.target, backtest, drivers=args.drivers)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("backtest", help="backtest candidate models on a CSV and pick the best")
    add_selection_arguments(parser)
    parser.add_argument("--plot", default=None, help="also write the backtest chart to this PNG path")
    parser.set_defaults(func=run)


def selection_summary(selection) -> dict:
    """The selected model, its MAE ratio to naive and its interval coverage per horizon."""
    report, label = selection.report, selection.best.label
    metrics = report.metrics()[label]
    return {
        "label": label,
        "model_class": selection.best.model_class,
        "config": selection.best.to_dict(),
        "score": report.score(label),
        "mae_ratio_to_naive": {str(h): ratio for h, ratio in report.mae_ratios(label).items()},
        "coverage_80": {str(h): metrics[h]["coverage_80"] for h in report.horizons},
        "coverage_95": {str(h): metrics[h]["coverage_95"] for h in report.horizons},
    }


def run(args: argparse.Namespace) -> int:
    try:
        frame, selection = select_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.plot:
        from gasforecast.forecasting import plot_backtest

        plot_backtest(selection.report, frame, args.target, args.plot)
    if args.json:
        result = {
            "target": args.target,
            "data": {"rows": len(frame), "first": frame.index[0].date().isoformat(),
                     "last": frame.index[-1].date().isoformat()},
            "selected": selection_summary(selection),
            "backtest": selection.report.to_dict(),
        }
        print(json.dumps(result, indent=2))
    else:
        print(selection.report.table())
        print(f"\nselected: {selection.best.label} (score {selection.report.score(selection.best.label):.3f})")
    return 0
