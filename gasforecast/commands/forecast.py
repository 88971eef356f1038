"""`gasforecast forecast`: the training procedure on a CSV — the same one the train function serves from."""

from __future__ import annotations

import argparse
import json

from gasforecast.commands.backtest import add_procedure_arguments, input_error, run_from_args
from gasforecast.commands.progress import Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("forecast", help="forecast a CSV's target with 80 %% and 95 %% intervals")
    add_procedure_arguments(parser)
    parser.add_argument("--horizon", type=int, required=True,
                        help="steps ahead to forecast (trading days of a business-day series, days of a daily one)")
    parser.set_defaults(func=run)


def describe_model(label: str, orders: dict, transforms: str) -> str:
    """"ar lags 3 (log-difference)": the served configuration in words, without empty parts."""
    described = label + "".join(f" {name} {value}" for name, value in orders.items())
    return f"{described} ({transforms})" if transforms else described


def run(args: argparse.Namespace) -> int:
    progress = Progress("forecast")
    try:
        _, result = run_from_args(args, args.horizon, progress)
    except (OSError, ValueError) as exc:
        return input_error(args, exc)
    progress.finish()
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
        output = {"target": args.target, "unit": args.unit, "label": args.label, "calendar": fitted.calendar,
                  "holidays": fitted.holidays.describe(), "model": model, "decision": result.decision.to_dict(),
                  "points": fitted.points_records(), "distribution": result.distribution.to_dict()}
        print(json.dumps(output, indent=2))
        return 0
    holidays = f" (holidays skipped: {', '.join(fitted.holidays.describe())})" if fitted.holidays.rules else ""
    print(f"{args.label} ({args.target}, {args.unit}), {fitted.calendar} calendar{holidays}")
    print(f"model: {describe_model(model['label'], model['orders'], model['transforms'])}, "
          f"trained {model['train_start']}..{model['train_end']}")
    print(f"decision: {result.decision.decision}: {result.decision.reason}")
    print(f"{'date':<11} {'mean':>10} {'lower_80':>10} {'upper_80':>10} {'lower_95':>10} {'upper_95':>10}")
    for point in fitted.points_records():
        print(f"{point['date']:<11} {point['mean']:>10.2f} {point['lower_80']:>10.2f} {point['upper_80']:>10.2f} "
              f"{point['lower_95']:>10.2f} {point['upper_95']:>10.2f}")
    return 0
