"""Serving benchmark: the forecast endpoint against a trivial one, cold start and worker memory.

Starts the local backing services (Pub/Sub and GCS emulators, MLflow with SQLite) on free loopback
ports, trains one champion with the real training code on synthetic data, then starts the service
under gunicorn exactly as deployed and measures:

- cold start: process start → first 200 from /api/v1/forecast (champion loaded);
- throughput and p50/p99 latency of /healthz and /api/v1/forecast?horizon=30 at 32 concurrent
  keep-alive connections (wrk), each phase bounded in time, and of the page / (reported, no target);
- resident memory (VmRSS) of one gunicorn worker after the load.

Targets (issue 5): forecast throughput ≥ 80 % of /healthz's, p99 ≤ 25 ms, cold start ≤ 3 s,
worker RSS ≤ 300 MB. On a shared machine a burst of other work in one phase would decide a single
figure, so the endpoints take turns in ROUNDS rounds (in rotated order), the throughput ratio is
taken within each round (phases next to each other in time) and the figures are the medians over
the rounds, with the worst p99 printed beside them; the load average before and after is printed.
Loopback only. Usage: .venv/bin/python bench/serve_load.py [--seconds 5]
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from devstack.processes import ManagedProcess, free_port, wait_for  # noqa: E402
from devstack.seed import ensure_champion  # noqa: E402
from devstack.stack import LocalStack, StackPorts, offline_env  # noqa: E402
from gasforecast.platform.config import load_settings  # noqa: E402

CONNECTIONS = 32
ROUNDS = 4
ENDPOINTS = ("/healthz", "/api/v1/forecast?horizon=30", "/")  # trivial, forecast (targets), page (reported)


@dataclass
class Phase:
    path: str
    throughput: float
    p50_ms: float
    p99_ms: float
    requests: int
    worst_p99_ms: float = 0.0


def _combine(parts: list[Phase]) -> Phase:
    """One endpoint's rounds as one figure: the medians, and the worst p99 of any round."""
    return Phase(
        path=parts[0].path,
        throughput=statistics.median(p.throughput for p in parts),
        p50_ms=statistics.median(p.p50_ms for p in parts),
        p99_ms=statistics.median(p.p99_ms for p in parts),
        requests=sum(p.requests for p in parts),
        worst_p99_ms=max(p.p99_ms for p in parts),
    )


def run_rounds(port: int, seconds: float) -> tuple[list[Phase], float]:
    """Every endpoint `seconds` in all, in ROUNDS rounds of rotated order; the combined phases and the
    median over rounds of forecast ÷ trivial throughput."""
    rounds = []
    for number in range(ROUNDS):
        order = ENDPOINTS[number % len(ENDPOINTS):] + ENDPOINTS[:number % len(ENDPOINTS)]
        rounds.append({path: run_phase(port, path, seconds / ROUNDS) for path in order})
    phases = [_combine([one[path] for one in rounds]) for path in ENDPOINTS]
    ratio = statistics.median(one[ENDPOINTS[1]].throughput / one[ENDPOINTS[0]].throughput for one in rounds)
    return phases, ratio


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * _UNITS_MS[unit]


def run_phase(port: int, path: str, seconds: float) -> Phase:
    """wrk (C, epoll) with CONNECTIONS keep-alive connections on one path for `seconds`.

    A native load generator: Python client threads would share the GIL and the two cores with the
    server, and their own queueing would show up as server latency.
    """
    result = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--latency", f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    )
    out = result.stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"{path}: errors under load:\n{out}")
    return Phase(
        path=path,
        throughput=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        p50_ms=_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        p99_ms=_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
    )


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _worker_rss_mb(pid: int) -> float:
    """VmRSS of the gunicorn worker: the leaf under `pid` (the process guard, then the master, then the
    worker), not the master, which never loads the app (preload_app is off)."""
    while children := _children(pid):
        pid = children[0]
    status = Path(f"/proc/{pid}/status").read_text()
    if "gunicorn" not in Path(f"/proc/{pid}/cmdline").read_text():
        raise RuntimeError(f"process {pid} is not a gunicorn worker")
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return rss_kb / 1024


def _get_status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help=f"load time per endpoint (in {ROUNDS} rounds)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed (Debian package): bash scripts/install-system-packages.sh", file=sys.stderr)
        return 2
    load_before = os.getloadavg()[0]
    runtime = Path(tempfile.mkdtemp(prefix="gasforecast-bench-"))
    stack = LocalStack(runtime_dir=runtime, ports=StackPorts.free(), project="gasforecast-bench")
    stack.start_backing_services()
    service = None
    try:
        os.environ.update(stack.env)
        ensure_champion(stack, load_settings(stack.env))
        port = free_port()
        env = {**stack.env, **offline_env(runtime)}
        started = time.perf_counter()
        service = ManagedProcess(
            "service",
            [str(Path(sys.executable).parent / "gunicorn"), "--config", str(REPO_ROOT / "service" / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}", "service.app:create_app()"],
            env=env, log_path=runtime / "service.log", cwd=REPO_ROOT,
        ).start()
        wait_for(lambda: _get_status(port, ENDPOINTS[1]) == 200, timeout=60, what="the first forecast", interval=0.02)
        cold_start = time.perf_counter() - started
        for path in ENDPOINTS:  # warm up connections and caches
            run_phase(port, path, 1)
        phases, ratio = run_rounds(port, args.seconds)
        rss = _worker_rss_mb(service.pid)
    finally:
        if service:
            service.stop()
        stack.stop()

    forecast = phases[1]
    print(f"connections: {CONNECTIONS}, {args.seconds:.0f} s per endpoint in {ROUNDS} rotated rounds, wrk, loopback "
          f"only; medians over rounds; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
          f"{os.cpu_count()} cores")
    for phase in phases:
        print(f"{phase.path:32s} {phase.throughput:8.0f} req/s   p50 {phase.p50_ms:6.2f} ms"
              f"   p99 {phase.p99_ms:6.2f} ms (worst round {phase.worst_p99_ms:6.2f} ms)   ({phase.requests} requests)")
    checks = {
        f"forecast/trivial throughput {ratio:.0%} (target >= 80%)": ratio >= 0.8,
        f"forecast p99 {forecast.p99_ms:.1f} ms (target <= 25 ms)": forecast.p99_ms <= 25,
        f"cold start {cold_start:.2f} s (target <= 3 s)": cold_start <= 3,
        f"worker RSS {rss:.0f} MB (target <= 300 MB)": rss <= 300,
    }
    for text, ok in checks.items():
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
