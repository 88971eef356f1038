"""Progress for `make demo` / `make setup` while pip installs: reads pip's output on stdin.

pip's own output is a screenful per package and `--quiet` is minutes of silence on a first run;
a newcomer wants to know that something is happening and roughly how far it has got. This prints
one line per stage (rewritten in place on a terminal), keeps pip's full output in a log file and
prints that log's tail when pip reports an error. The exit status stays pip's (the Makefile runs
the pipe with `pipefail`).

Usage: pip install ... 2>&1 | python scripts/pip_progress.py "the demo's runtime" LOG_PATH
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

RESOLVING = re.compile(r"^(Collecting|Requirement already satisfied:|Obtaining) ([A-Za-z0-9._-]+)")
INSTALLING = re.compile(r"^Installing collected packages: (.*)$")
DONE = re.compile(r"^Successfully installed (.*)$")
ERROR_TAIL_LINES = 30
SLOW_INSTALL_PACKAGES = 20  # above this many, say that it takes a while


class Progress:
    def __init__(self, what: str, out=sys.stderr) -> None:
        self.what = what
        self.out = out
        self.started = time.monotonic()
        self.in_place = out.isatty()
        self.last_length = 0
        self.last_printed = 0.0

    def show(self, message: str, final: bool = False) -> None:
        line = f"  {self.what}: {message} [{time.monotonic() - self.started:.0f} s]"
        if self.in_place:
            self.out.write("\r" + line.ljust(self.last_length) + ("\n" if final else ""))
            self.last_length = len(line)
        else:  # a log file or CI: a line every few seconds at most, and every final line
            now = time.monotonic()
            if not final and now - self.last_printed < 5:
                return
            self.last_printed = now
            self.out.write(line + "\n")
        self.out.flush()


def packages(count: int) -> str:
    return f"{count} package{'' if count == 1 else 's'}"


def main(argv: list[str]) -> int:
    what, log_path = argv[1], Path(argv[2])
    progress = Progress(what)
    progress.show("resolving packages ...", final=not progress.in_place)
    resolved: set[str] = set()
    failed = installed = False
    with log_path.open("a", encoding="utf-8") as log:  # both pip runs of an install, in order
        for line in sys.stdin:
            log.write(line)
            text = line.strip()
            if match := RESOLVING.match(text):
                resolved.add(match.group(2).lower())
                progress.show(f"{len(resolved)} packages resolved (last: {match.group(2)})")
            elif match := INSTALLING.match(text):
                count = len(match.group(1).split(","))
                slow = " (a minute or two on a first run)" if count > SLOW_INSTALL_PACKAGES else ""
                progress.show(f"installing {packages(count)}{slow} ...", final=True)
            elif match := DONE.match(text):
                installed = True
                progress.show(f"done, {packages(len(match.group(1).split()))} installed", final=True)
            elif text.startswith("ERROR"):
                failed = True
    if failed:
        tail = log_path.read_text(encoding="utf-8").splitlines()[-ERROR_TAIL_LINES:]
        print(f"\n  pip failed; its last lines (the whole output is in {log_path}):", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr)
    elif not installed:
        progress.show("already up to date", final=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
