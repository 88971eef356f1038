"""`gasforecast forecast`: the training procedure on a CSV — the same one the train function serves from."""

from __future__ import annotations

import argparse
import json
import sys

from gasforecast.commands.backtest import EXIT_BAD_INPUT, add_procedure_arguments, run_from_args
from gasforecast.config import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("forecast", help="forecast a CSV's target with 80 %% and 95 %% intervals")
    add_procedure_arguments(parser)
    parser.add_argument("--horizon", type=int, required=True, help="steps ahead to forecast (rows of the series' calendar)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        _, result = run_from_args(args, args.horizon)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    fitted = result.forecast
    model = {
        "label": fitted.config.label,
        "model_class": fitted.config.model_class,
        "config": fitted.config.to_dict(),
        "orders": fitted.orders,
        "transforms": fitted.transforms,
        "train_start": fitted.train_start.date().isoformat(),
        "train_end": fitted.train_end.date().isoformat(),
    }
    if args.json:
        output = {"target": args.target, "unit": load_settings().target_unit, "calendar": fitted.calendar,
                  "model": model, "decision": result.decision.to_dict(), "points": fitted.points_records(),
                  "distribution": result.distribution.to_dict()}
        print(json.dumps(output, indent=2))
        return 0
    print(f"{args.target}: {model['label']} {model['orders']} ({model['transforms']}), {fitted.calendar} calendar, "
          f"trained {model['train_start']}..{model['train_end']}; {result.decision.decision}: {result.decision.reason}")
    print(f"{'date':<11} {'mean':>10} {'lower_80':>10} {'upper_80':>10} {'lower_95':>10} {'upper_95':>10}")
    for point in fitted.points_records():
        print(f"{point['date']:<11} {point['mean']:>10.2f} {point['lower_80']:>10.2f} {point['upper_80']:>10.2f} "
              f"{point['lower_95']:>10.2f} {point['upper_95']:>10.2f}")
    return 0
