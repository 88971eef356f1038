"""`make demo` as a newcomer runs it: it serves a forecast, says what is wrong with a bad upload,
then Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests

from devstack.__main__ import MORE_DAYS, SAMPLE_DAYS
from devstack.stack import PUBSUB_EMULATOR, REPO_ROOT
from gasforecast.ingestion.sample import synthetic_history
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
    def upload(name: str, data: bytes) -> None:
        (tmp_path / name).write_bytes(data)
        subprocess.run([sys.executable, "-m", "devstack.upload", str(tmp_path / name), "--runtime-dir",
                        str(tmp_path / "run")], cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                       check=True, timeout=60, capture_output=True)

    output: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(demo.stdout, output), daemon=True).start()
    seen: list[str] = []

    def await_line(pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while not any(re.search(pattern, line) for line in seen):
            assert time.monotonic() < deadline, f"demo never printed {pattern!r}:\n" + "".join(seen)
            assert demo.poll() is None, "demo exited:\n" + "".join(seen)
            try:
                seen.append(output.get(timeout=1))
            except queue.Empty:
                continue
        return "".join(seen)

    try:
        await_line(r"^Ready in", 240)
        text = await_line(r"upload more:", 30)  # the URL lines follow "Ready in"
        assert re.search(r"ingest\s+accepted synthetic-sample.csv", text)
        assert re.search(r"mlflow\s+run \w+ registered as version 1 \((?!\?,)\S.*, \w+\)", text), "model and decision named"
        api = re.search(r"JSON API\s+(\S+)", text).group(1)
        forecast = requests.get(api, timeout=5).json()
        assert len(forecast["points"]) == 14 and forecast["model"]["version"] == "1" and forecast["model"]["run_id"]
        groups = [int(pid) for pid in re.findall(r"up\s+\S+\s+pid (\d+)", text)]
        assert len(groups) == 6

        upload("bad.csv", b"date,uk_gas_price\n2024-01-02,80,5\n")
        text = await_line(r"report: gs://\S+/rejected/\S+bad-\w+\.csv\.report\.json", 60)
        assert re.search(r"REJECTED bad\.csv: line 2: line has 3 fields but the header has 2", text)

        sample = synthetic_history(SAMPLE_DAYS, start=(date.today() - timedelta(days=SAMPLE_DAYS + MORE_DAYS)).isoformat())
        next_day = date.fromisoformat(sample["date"].iloc[-1]) + timedelta(days=1)
        upload("typo.csv", f"date,uk_gas_price\n{next_day},{sample['uk_gas_price'].iloc[-1] * 10:.2f}\n".encode())
        text = await_line(r"if the values are genuine: \S+ -m devstack.cli --runtime-dir \S+ accept gs://\S+/held/", 60)
        assert re.search(rf"HELD typo\.csv: line 2, column 'uk_gas_price', {next_day}: \S+ is 10\.\d times larger", text)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=90)
    assert [member for group in groups for member in _live_members(group)] == []


def test_demo_helpers_say_when_no_demo_runs(tmp_path, capsys):
    from devstack import cli, upload

    assert cli.main(["--runtime-dir", str(tmp_path), "accept", "gs://x/held/a.csv"]) == 1
    assert upload.main([str(tmp_path / "a.csv"), "--runtime-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.count("no running demo found") == 2
