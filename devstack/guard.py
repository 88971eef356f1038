"""`python devstack/guard.py OWNER_PID COMMAND...`: run COMMAND and end its whole process group once
OWNER_PID is gone.

Each part of the local stack runs in its own process group under this guard, so a test run or demo
that is killed outright (a CI timeout, `kill -9`) cannot leave emulators, MLflow servers or functions
running on a shared machine: within a second the guard sees its parent change and stops the group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

POLL_SECONDS = 1.0


def main(argv: list[str]) -> int:
    owner, command = int(argv[0]), argv[1:]
    child = subprocess.Popen(command)
    while True:
        try:
            return child.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        if os.getppid() != owner:  # the owner died and we were re-parented
            os.killpg(0, signal.SIGTERM)
            return 128 + signal.SIGTERM


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
