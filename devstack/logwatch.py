"""Read the parts' JSON-line logs: the demo prints stages from them, tests await events in them."""

from __future__ import annotations

import json
from pathlib import Path


class JsonLogFollower:
    """Returns the JSON entries appended to some log files since the last call."""

    def __init__(self, paths: list[Path], from_start: bool = False) -> None:
        self._offsets = {path: 0 if from_start or not path.exists() else path.stat().st_size for path in paths}

    def poll(self) -> list[dict]:
        entries: list[dict] = []
        for path, offset in self._offsets.items():
            if not path.exists():
                continue
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            complete = chunk.rfind(b"\n") + 1
            self._offsets[path] = offset + complete
            for line in chunk[:complete].splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a line from the server itself, not one of ours
                if isinstance(entry, dict) and "event" in entry:
                    entries.append(entry)
        return entries


def read_events(path: Path) -> list[dict]:
    """Every JSON event line in a log file."""
    return JsonLogFollower([path], from_start=True).poll()
