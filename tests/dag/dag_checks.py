"""Load and run the Composer DAG under .venv-airflow and write what was observed as JSON.

Airflow is not installed in the main venv, so tests/dag/test_dag_retrain_schedule.py runs this file
with .venv-airflow/bin/python and asserts on the report. This script checks nothing itself: it only
observes (the Airflow version, DagBag import errors, DAG and task settings, a `dag.test()` run,
socket use).

The caller sets AIRFLOW_HOME (an empty temp dir: SQLite metadata DB), the Google connection and
PUBSUB_EMULATOR_HOST. Every attempt to reach an address outside 127.0.0.0/8 (or ::1) is refused
and recorded, so the run both stays on this machine and proves that it did.

Usage: dag_checks.py --dag-folder DIR --logical-date ISO --report PATH
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import socket
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

DAG_ID = "gasforecast_retrain_schedule"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}
refused_addresses: list[str] = []


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name that needs DNS


def _refuse_non_loopback(event: str, args: tuple) -> None:
    if event == "socket.connect":
        sock, address = args
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return  # Unix sockets stay on this machine
        host = address[0]
    elif event == "socket.getaddrinfo":
        host = args[0]
        if host is None:
            return
    else:
        return
    if not _is_loopback(host):
        refused_addresses.append(f"{event} {host!r}")
        raise PermissionError(f"dag_checks: refused non-loopback address {host!r}")


def describe_dag(dag) -> dict:
    return {
        "schedule": str(dag.schedule),
        "timetable": type(dag.timetable).__name__,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "tasks": [describe_task(task) for task in dag.tasks],
    }


def describe_task(task) -> dict:
    return {
        "task_id": task.task_id,
        "operator_bases": [f"{cls.__module__}.{cls.__qualname__}" for cls in type(task).__mro__],
        "retries": task.retries,
        "retry_exponential_backoff": bool(task.retry_exponential_backoff),
        "retry_delay_seconds": task.retry_delay.total_seconds(),
        "max_retry_delay_seconds": task.max_retry_delay.total_seconds() if task.max_retry_delay else None,
        "template_fields": list(task.template_fields),
    }


def module_message_for(dag, moment: datetime) -> dict:
    """The DAG module's own message builder, for a time that is not in UTC."""
    message = sys.modules[type(dag.tasks[0]).__module__].retrain_message(moment)
    return {"data": message["data"].decode("utf-8"), "attributes": message["attributes"]}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dag-folder", required=True)
    parser.add_argument("--logical-date", required=True, type=datetime.fromisoformat)
    parser.add_argument("--report", required=True, type=Path)
    args = parser.parse_args()
    sys.addaudithook(_refuse_non_loopback)
    # dag.test() serialises the DAG through the dags-folder bundle, so it must be this folder.
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = args.dag_folder

    report: dict = {"seconds": {}}
    started = time.monotonic()
    import airflow
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    report["seconds"]["initdb"] = round(time.monotonic() - started, 2)

    started = time.monotonic()
    bag = DagBag(dag_folder=args.dag_folder)
    report["seconds"]["dagbag"] = round(time.monotonic() - started, 2)
    report["airflow_version"] = airflow.__version__
    report["import_errors"] = {str(path): str(error) for path, error in bag.import_errors.items()}
    report["dag_ids"] = sorted(bag.dags)
    dag = bag.dags.get(DAG_ID)
    if dag is not None:
        report["dag"] = describe_dag(dag)
        offset_moment = datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2)))
        report["message_for_offset_time"] = module_message_for(dag, offset_moment)
        started = time.monotonic()
        run = dag.test(logical_date=args.logical_date)
        report["seconds"]["dag_test"] = round(time.monotonic() - started, 2)
        report["run"] = {
            "state": str(run.state),
            "task_states": {ti.task_id: str(ti.state) for ti in run.get_task_instances()},
        }
    report["refused_addresses"] = refused_addresses
    args.report.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
