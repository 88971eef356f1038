"""`gasforecast forecast`: select a model on a CSV, fit it on every row and print the forecast."""

from __future__ import annotations

import argparse
import json
import sys

from gasforecast.commands.backtest import EXIT_BAD_INPUT, add_selection_arguments, select_from_args
from gasforecast.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("forecast", help="forecast a CSV's target with 80 %% and 95 %% intervals")
    add_selection_arguments(parser)
    parser.add_argument("--horizon", type=int, required=True, help="days ahead to forecast")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        frame, selection = select_from_args(args)
        from gasforecast.forecasting import fit_forecast

        fitted = fit_forecast(frame, args.target, selection.best, args.horizon, calibration=selection.report)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    model = {
        "label": fitted.config.label,
        "model_class": fitted.config.model_class,
        "config": fitted.config.to_dict(),
        "orders": fitted.orders,
        "transforms": fitted.transforms,
        "train_start": fitted.train_start.date().isoformat(),
        "train_end": fitted.train_end.date().isoformat(),
        "backtest_score": selection.report.score(fitted.config.label),
    }
    if args.json:
        result = {"target": args.target, "unit": load_settings().target_unit, "model": model,
                  "points": fitted.points_records()}
        print(json.dumps(result, indent=2))
        return 0
    print(f"{args.target}: {model['label']} {model['orders']} ({model['transforms']}), "
          f"trained {model['train_start']}..{model['train_end']}, backtest score {model['backtest_score']:.3f}")
    print(f"{'date':<11} {'mean':>10} {'lower_80':>10} {'upper_80':>10} {'lower_95':>10} {'upper_95':>10}")
    for point in fitted.points_records():
        print(f"{point['date']:<11} {point['mean']:>10.2f} {point['lower_80']:>10.2f} {point['upper_80']:>10.2f} "
              f"{point['lower_95']:>10.2f} {point['upper_95']:>10.2f}")
    return 0
