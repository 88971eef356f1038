"""`python -m devstack` (what `make demo` runs): the whole system on this machine, end to end.

Starts every part, uploads the synthetic sample to gs://<uploads bucket>/, prints one line per
stage as the upload moves through ingest, Pub/Sub, training and MLflow to the service, then keeps
running (and keeps reporting stages for any further upload) until Ctrl-C or SIGTERM. A rejected or
held upload is printed with its first problem and the path of its report.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from types import FrameType

from devstack.logwatch import JsonLogFollower
from devstack.processes import wait_for
from devstack.stack import REPO_ROOT, SYNTHETIC_SAMPLE_DECLARATION, LocalStack, StackPorts

SAMPLE_DAYS = 4 * 365
MORE_DAYS = 30

STAGES = {
    "ingest.accepted": "ingest      accepted {object} (generation {generation}): {summary}",
    "ingest.rejected": "ingest      REJECTED {object}: {first_error}\n              report: {report_uri}",
    "ingest.held": "ingest      HELD {object}: {first_error}\n              report: {report_uri}\n"
                   "              if the values are genuine: .venv/bin/python -m devstack.cli{where} accept {held_uri}",
    "ingest.unchanged": "ingest      unchanged {object}: every value is already curated; no retrain",
    "ingest.published": "pubsub      retrain message {message_id} published",
    "train.started": "train       started for message {message_id} (dataset generation {generation})",
    "train.duplicate": "train       message {message_id} already trained (run {run_id}): acknowledged",
    "train.promoted": "mlflow      run {run_id} registered as version {model_version} ({model}, {decision})",
    "train.failed": "train       FAILED for message {message_id}: {error} (Pub/Sub will retry)",
    "train.message_refused": "train       REFUSED message {message_id}: {error}",
    "train.malformed_message": "train       malformed message {message_id} acknowledged: {error}",
}
FIELDS = ("object", "generation", "report_uri", "first_error", "held_uri", "message_id", "run_id", "model_version",
          "model", "decision", "error")


class StageReporter:
    """Prints the events a user wants to see from the functions' JSON-line logs."""

    def __init__(self, log_paths: list[Path], where: str = "") -> None:
        self._follower = JsonLogFollower(log_paths, from_start=True)
        self._where = where  # the --runtime-dir option of commands that talk to this demo
        self.promoted: set[str] = set()  # model versions whose promotion has finished

    def poll(self) -> None:
        for entry in self._follower.poll():
            if entry["event"] == "train.promoted":
                self.promoted.add(str(entry.get("model_version")))
            template = STAGES.get(entry["event"])
            if template is None:
                continue
            fields = {k: entry.get(k, "?") for k in FIELDS} | {"where": self._where}
            fields["summary"] = entry.get("summary") or entry.get("report", "")
            print(f"  {time.strftime('%H:%M:%S')}  {template.format(**fields)}", flush=True)


def served_version(stack: LocalStack) -> str | None:
    model = stack.served_model()
    return str(model["model"]["version"]) if model else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("--runtime-dir", default=str(REPO_ROOT / ".run"), help="logs and emulator data (git-ignored)")
    parser.add_argument("--csv", help="CSV to upload instead of the synthetic sample")
    parser.add_argument("--free-ports", action="store_true",
                        help="pick free ports instead of the documented ones (to run beside another stack)")
    args = parser.parse_args(argv)

    # The sample ends a month ago; the command printed at the end continues it up to yesterday.
    sample_start = (date.today() - timedelta(days=SAMPLE_DAYS + MORE_DAYS)).isoformat()
    runtime_dir = Path(args.runtime_dir)
    where = "" if runtime_dir.resolve() == (REPO_ROOT / ".run").resolve() else f" --runtime-dir {runtime_dir}"
    # The continuation is written into the (git-ignored) runtime directory, not the clone's root.
    more_csv = (runtime_dir / "more.csv").resolve()
    more_csv_shown = more_csv.relative_to(REPO_ROOT) if more_csv.is_relative_to(REPO_ROOT) else more_csv
    more_data_command = (f".venv/bin/gasforecast sample --start {sample_start} --days {SAMPLE_DAYS + MORE_DAYS} "
                         f"--out {more_csv_shown} && .venv/bin/python -m devstack.upload {more_csv_shown}{where}")
    if runtime_dir.exists():  # each demo starts from empty buckets and an empty registry
        import shutil

        shutil.rmtree(runtime_dir)
    backend = os.environ.get("MLFLOW_BACKEND_STORE_URI")
    ports = StackPorts.free() if args.free_ports else StackPorts()
    # The sample is declared synthetic; a CSV of your own is what TARGET_LABEL, DATA_SOURCE, ... say it is.
    declaration = {} if args.csv else SYNTHETIC_SAMPLE_DECLARATION
    stack = LocalStack(runtime_dir=runtime_dir, ports=ports, backend_store_uri=backend, settings_env=declaration)
    busy = stack.ports.busy()
    if busy:
        print(f"ports already in use: {', '.join(busy)} — is another demo running?", file=sys.stderr)
        return 1

    def shutdown(signum: int, frame: FrameType | None) -> None:  # unwind through `finally`, which stops every process
        raise KeyboardInterrupt

    # Explicit for both: a shell that starts the demo in the background makes it ignore SIGINT.
    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    started = time.monotonic()
    try:
        print(f"gasforecast demo: starting the local stack (logs in {runtime_dir / 'logs'}/) ...", flush=True)
        stack.start_all()
        for name, proc in stack.processes.items():
            print(f"  up  {name:<16} pid {proc.pid}", flush=True)
        print(f"  MLflow backend: {backend or 'SQLite (set MLFLOW_BACKEND_STORE_URI for PostgreSQL)'}", flush=True)
        reporter = StageReporter([stack.runtime_dir / "logs" / f"{n}-function.log" for n in ("ingest", "train")], where)

        if args.csv:
            data, name = Path(args.csv).read_bytes(), Path(args.csv).name
        else:
            from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes

            data, name = to_csv_bytes(synthetic_history(SAMPLE_DAYS, start=sample_start)), "synthetic-sample.csv"
        generation = stack.upload(name, data)
        print(f"  {time.strftime('%H:%M:%S')}  upload      gs://{stack.uploads_bucket}/{name} "
              f"(generation {generation}{'' if args.csv else ', synthetic data'})", flush=True)

        def champion_served() -> str | None:
            # The service may serve a version as soon as the alias moves; its promotion finishes
            # (ledger entry, run, version state) a moment later, and "Ready" waits for both.
            reporter.poll()
            version = served_version(stack)
            return version if version in reporter.promoted else None

        version = wait_for(champion_served, timeout=300, what="a champion to be served", interval=0.5)
        print(f"  {time.strftime('%H:%M:%S')}  service     serving model version {version}", flush=True)
        print(f"\nReady in {time.monotonic() - started:.0f}s:\n"
              f"  page        {stack.service_url}/\n"
              f"  JSON API    {stack.service_url}/api/v1/forecast?horizon=14\n"
              f"  MLflow UI   {stack.mlflow_url}/\n"
              f"  upload more: {more_data_command}\n", flush=True)
        print("Watching for more uploads; Ctrl-C stops everything.", flush=True)
        last = version
        while True:
            reporter.poll()
            current = served_version(stack)
            if current and current != last:
                print(f"  {time.strftime('%H:%M:%S')}  service     serving model version {current}", flush=True)
                last = current
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
        return 0
    finally:
        stack.stop()
        print("all demo processes stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
