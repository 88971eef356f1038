"""`python -m devstack.upload FILE.csv [--runtime-dir .run]`: drop a CSV into a running demo's data
bucket (the demo records its ports in the runtime folder)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from devstack.stack import PORTS_FILE, REPO_ROOT, LocalStack, StackPorts, offline_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.upload", description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--runtime-dir", type=Path, default=REPO_ROOT / ".run", help="the demo's runtime folder")
    args = parser.parse_args(argv)
    ports_file = args.runtime_dir / PORTS_FILE
    if not ports_file.exists():
        print(f"no running demo found ({ports_file} is missing): start one with `make demo`", file=sys.stderr)
        return 1
    stack = LocalStack(runtime_dir=args.runtime_dir, ports=StackPorts.load(ports_file))
    os.environ.update(offline_env(stack.runtime_dir))
    generation = stack.upload(args.csv.name, args.csv.read_bytes())
    print(f"uploaded gs://{stack.data_bucket}/incoming/{args.csv.name} (generation {generation})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
