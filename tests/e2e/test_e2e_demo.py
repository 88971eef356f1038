"""`make demo` as a newcomer runs it: it serves a forecast, then Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from devstack.stack import PUBSUB_EMULATOR, REPO_ROOT
from tests.stack_helpers import require

pytestmark = pytest.mark.integration


def _lines(stream, sink: queue.Queue) -> None:
    for line in stream:
        sink.put(line)


def _live_members(group: int) -> list[str]:
    """Processes of a process group that still run (zombies already exited; init reaps them)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, pgid = fields[0], int(fields[2])
        if pgid == group and state != "Z":
            members.append(stat.parent.name)
    return members


def test_demo_serves_a_forecast_then_ctrl_c_stops_everything(tmp_path):
    require(PUBSUB_EMULATOR.exists(), f"Pub/Sub emulator at {PUBSUB_EMULATOR}")
    demo = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--free-ports", "--runtime-dir", str(tmp_path / "run")],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    output: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(demo.stdout, output), daemon=True).start()
    seen, deadline = [], time.monotonic() + 240
    try:
        while not any(line.startswith("Ready in") for line in seen):
            assert time.monotonic() < deadline, "demo not ready:\n" + "".join(seen)
            assert demo.poll() is None, "demo exited:\n" + "".join(seen)
            try:
                seen.append(output.get(timeout=1))
            except queue.Empty:
                continue
        while len(seen) < 200:  # the URL lines follow "Ready in"
            try:
                seen.append(output.get(timeout=2))
            except queue.Empty:
                break
        text = "".join(seen)
        assert re.search(r"ingest\s+accepted incoming/synthetic-sample.csv", text)
        assert re.search(r"mlflow\s+run \w+ registered as version 1", text)
        api = re.search(r"JSON API\s+(\S+)", text).group(1)
        forecast = requests.get(api, timeout=5).json()
        assert len(forecast["points"]) == 14 and forecast["model"]["version"] == "1" and forecast["model"]["run_id"]
        groups = [int(pid) for pid in re.findall(r"up\s+\S+\s+pid (\d+)", text)]
        assert len(groups) == 6
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=90)
    assert [member for group in groups for member in _live_members(group)] == []
