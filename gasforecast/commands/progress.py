"""A progress line on stderr for the analyst commands that take more than a few seconds.

stdout stays the command's output (`--json` is parsed by scripts); the progress goes to stderr,
rewritten in place on a terminal and one line per stage (and per quarter of a count) otherwise, so
a log keeps the stages without a line per origin.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, command: str, stream: TextIO | None = None) -> None:
        self.command = command
        self.stream = stream if stream is not None else sys.stderr
        self.in_place = self.stream.isatty()
        self.started = time.monotonic()
        self.open_line = 0  # length of the line being rewritten in place, 0 when none
        self.reported_quarter = -1

    def _write(self, text: str, final: bool) -> None:
        line = f"gasforecast {self.command}: {text} [{time.monotonic() - self.started:.0f} s]"
        if self.in_place:
            self.stream.write("\r" + line.ljust(self.open_line) + ("\n" if final else ""))
            self.open_line = 0 if final else len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def stage(self, text: str) -> None:
        """A new step of the command, e.g. "reading history.csv"."""
        if self.open_line:
            self.stream.write("\n")
            self.open_line = 0
        self._write(text, final=not self.in_place)
        self.reported_quarter = -1

    def count(self, done: int, total: int, what: str) -> None:
        """`done` of `total` items finished: every item on a terminal, each quarter otherwise."""
        quarter = 4 * done // max(total, 1)
        if self.in_place or quarter > self.reported_quarter:
            self._write(f"{what}: {done}/{total}", final=not self.in_place)
            self.reported_quarter = quarter

    def finish(self) -> None:
        self._write("done", final=True)
