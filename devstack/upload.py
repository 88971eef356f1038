"""`python -m devstack.upload FILE.csv`: drop a CSV into the running demo's data bucket."""

from __future__ import annotations

import sys
from pathlib import Path

from devstack.stack import REPO_ROOT, LocalStack, StackPorts, offline_env


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m devstack.upload FILE.csv", file=sys.stderr)
        return 2
    import os

    stack = LocalStack(runtime_dir=REPO_ROOT / ".run", ports=StackPorts())
    os.environ.update(offline_env(stack.runtime_dir))
    from devstack.__main__ import upload

    path = Path(argv[0])
    generation = upload(stack, path.read_bytes(), path.name)
    print(f"uploaded gs://{stack.data_bucket}/incoming/{path.name} (generation {generation})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
