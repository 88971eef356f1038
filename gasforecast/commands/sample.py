"""`gasforecast sample`: write the synthetic sample CSV (for trying the CLI and the pipeline)."""

from __future__ import annotations

import argparse
import sys

from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sample", help="write a synthetic sample CSV (not real prices)")
    parser.add_argument("--days", type=int, default=4 * 365, help="number of days (default 1460)")
    parser.add_argument("--start", default="2021-01-01", help="first date (default 2021-01-01)")
    parser.add_argument("--seed", type=int, default=3, help="same start and seed: a longer file continues a shorter one")
    parser.add_argument("--out", default="-", help="output file, - for stdout (default)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data = to_csv_bytes(synthetic_history(args.days, start=args.start, seed=args.seed))
    if args.out == "-":
        sys.stdout.buffer.write(data)
    else:
        try:
            with open(args.out, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            print(f"gasforecast sample: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 0
