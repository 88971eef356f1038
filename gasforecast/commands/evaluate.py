"""`gasforecast evaluate`: nested evaluation of the training procedure on a CSV (docs/model.md#nested-evaluation)."""

from __future__ import annotations

import argparse
import json

from gasforecast.commands.backtest import add_procedure_arguments, input_error, procedure_settings, read_frame
from gasforecast.commands.progress import Progress


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("evaluate", help="nested evaluation: the whole procedure re-run at past origins")
    add_procedure_arguments(parser)
    parser.add_argument("--origins", type=int, default=52, help="scored origins (default %(default)s)")
    parser.add_argument("--span-years", type=float, default=2.0,
                        help="years the origins are spread over, ending max(horizons) rows before the end (default %(default)s)")
    parser.add_argument("--end", default=None,
                        help="use only the rows up to this date (YYYY-MM-DD), e.g. to evaluate a development period")
    parser.add_argument("--workers", type=int, default=None, help="parallel processes (default: up to 2)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gasforecast.forecasting import evaluate_nested

    progress = Progress("evaluate")
    try:
        frame, _ = read_frame(args, progress)
        if args.end:
            frame = frame.loc[: args.end]
        progress.stage(f"re-running the procedure at {args.origins} past origins")
        evaluation = evaluate_nested(frame, args.target, procedure_settings(args), origins=args.origins,
                                     span_years=args.span_years, drivers=args.drivers, workers=args.workers,
                                     progress=lambda done, total: progress.count(done, total, "origins done"))
    except (OSError, ValueError) as exc:
        return input_error(args, exc)
    progress.finish()
    if args.json:
        print(json.dumps({"target": args.target, "unit": args.unit, "label": args.label,
                          "evaluation": evaluation.to_dict()}, indent=2))
    else:
        print(f"{args.label} ({args.target}, {args.unit})")
        print(evaluation.table())
    return 0
