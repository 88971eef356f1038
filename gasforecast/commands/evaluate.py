"""`gasforecast evaluate`: nested evaluation of the training procedure on a CSV (docs/model.md#nested-evaluation)."""

from __future__ import annotations

import argparse
import json
import sys

from gasforecast.commands.backtest import EXIT_BAD_INPUT, add_procedure_arguments, procedure_settings, read_frame


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

    try:
        frame, _ = read_frame(args)
        if args.end:
            frame = frame.loc[: args.end]
        evaluation = evaluate_nested(frame, args.target, procedure_settings(args), origins=args.origins,
                                     span_years=args.span_years, drivers=args.drivers, workers=args.workers)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps({"target": args.target, "evaluation": evaluation.to_dict()}, indent=2))
    else:
        print(evaluation.table())
    return 0
