"""`python -m devstack.upload FILE.csv [--runtime-dir .run]`: drop a CSV into a running demo's uploads
bucket (the demo records its ports in the runtime folder)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from devstack.stack import REPO_ROOT, LocalStack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.upload", description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--runtime-dir", type=Path, default=REPO_ROOT / ".run", help="the demo's runtime folder")
    args = parser.parse_args(argv)
    try:
        stack = LocalStack.attach(args.runtime_dir)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    generation = stack.upload(args.csv.name, args.csv.read_bytes())
    print(f"uploaded gs://{stack.uploads_bucket}/{args.csv.name} (generation {generation}); "
          f"the demo's window reports what ingest made of it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
