"""`python -m devstack.cli [--runtime-dir .run] COMMAND ...`: run a `gasforecast` command against a
running demo (its emulators, buckets and topics), e.g. `python -m devstack.cli accept gs://…/held/….csv`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devstack.stack import REPO_ROOT, LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.cli", description=__doc__.splitlines()[0])
    parser.add_argument("--runtime-dir", type=Path, default=REPO_ROOT / ".run", help="the demo's runtime folder")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="a gasforecast command and its arguments")
    args = parser.parse_args(argv)
    try:
        LocalStack.attach(args.runtime_dir)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    from gasforecast.cli import main as gasforecast

    return gasforecast(args.command)


if __name__ == "__main__":
    sys.exit(main())
