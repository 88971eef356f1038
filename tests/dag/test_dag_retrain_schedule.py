"""The Composer DAG, loaded and run by real Airflow (in .venv-airflow) against the Pub/Sub emulator.

One subprocess (tests/dag/dag_checks.py) parses the DAG folder, runs `dag.test()` for a fixed
logical date and reports; the message it published is pulled here and parsed with the same
contract parser the train function uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gasforecast.platform.messaging import RetrainRequest, parse_retrain_request
from tests.stack_helpers import append_days, require, wait_event

REPO = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = REPO / ".venv-airflow" / "bin" / "python"
DAG_FOLDER = REPO / "dag_airflow"
CHECKS = Path(__file__).with_name("dag_checks.py")
LOGICAL_DATE = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
PUBLISH_TASK = "publish_retrain_request"


def _require_airflow_venv() -> None:
    require(AIRFLOW_PYTHON.exists(), f"{AIRFLOW_PYTHON} missing: run scripts/setup-airflow-venv.sh (make airflow)")


@pytest.fixture(scope="module")
def dag_run(running_stack, settings, champion, pubsub_emulator, tmp_path_factory):
    """Run dag_checks.py once against the stack's retrain topic, after new data arrived; return its
    report and the message it published (read from an audit subscription beside the train push)."""
    _require_airflow_venv()
    topic = settings.retrain_topic
    subscription = pubsub_emulator.make_pull_subscription(topic, f"dag-audit-{uuid.uuid4().hex[:8]}")
    append_days(running_stack, settings)
    workdir = tmp_path_factory.mktemp("airflow")
    report_path = workdir / "report.json"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(workdir / "home"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Airflow's default resolves the host's FQDN; the plain host name needs no resolver.
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "socket.gethostname",
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(
            {"conn_type": "google_cloud_platform", "extra": {"is_anonymous": True, "project": pubsub_emulator.project}}
        ),
        # The DAG's topic setting, given the way Composer would: an Airflow Variable from the environment.
        "AIRFLOW_VAR_GASFORECAST_RETRAIN_TOPIC": topic,
        "PUBSUB_EMULATOR_HOST": pubsub_emulator.host,
    }
    completed = subprocess.run(
        [str(AIRFLOW_PYTHON), str(CHECKS), "--dag-folder", str(DAG_FOLDER),
         "--logical-date", LOGICAL_DATE.isoformat(), "--report", str(report_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 0, f"dag_checks failed:\n{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    report = json.loads(report_path.read_text())
    report["messages"] = pubsub_emulator.pull_all(subscription, timeout=10, count=1)
    return report


def test_the_dag_runs_on_the_airflow_composer_is_given(dag_run):
    """deploy/versions.env sets both the Composer image bootstrap.sh creates and, through
    requirements-airflow.txt, the Airflow these checks just ran."""
    versions = dict(line.split("=", 1) for line in (REPO / "deploy" / "versions.env").read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert dag_run["airflow_version"] == versions["AIRFLOW_VERSION"]
    assert versions["COMPOSER_IMAGE_VERSION"] == "composer-3-airflow-${AIRFLOW_VERSION}"


def test_dag_folder_imports_without_errors(dag_run):
    assert dag_run["import_errors"] == {}
    assert dag_run["dag_ids"] == ["gasforecast_retrain_schedule"]


def test_dag_runs_hourly_one_at_a_time_without_catchup(dag_run):
    dag = dag_run["dag"]
    assert dag["schedule"] == "@hourly"
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1


def test_publish_task_uses_google_provider_with_exponential_retries(dag_run):
    (task,) = dag_run["dag"]["tasks"]
    assert task["task_id"] == PUBLISH_TASK
    assert "airflow.providers.google.cloud.operators.pubsub.PubSubPublishMessageOperator" in task["operator_bases"]
    assert task["retries"] > 0
    assert task["retry_exponential_backoff"] is True
    assert 0 < task["retry_delay_seconds"] < task["max_retry_delay_seconds"]


def test_dag_test_run_succeeds(dag_run):
    assert dag_run["run"] == {"state": "success", "task_states": {PUBLISH_TASK: "success"}}


def test_published_message_follows_the_retrain_contract(dag_run):
    (message,) = dag_run["messages"]
    request = parse_retrain_request(message.data)
    expected = RetrainRequest(reason="schedule", requested_at="2026-11-26T13:00:00Z")
    assert request == expected
    assert message.attributes == expected.attributes()


def test_requested_at_is_converted_to_utc(dag_run):
    # 03:30 at UTC+2 is 01:30 UTC: a non-UTC logical date must not leak its offset into the message.
    request = parse_retrain_request(dag_run["message_for_offset_time"]["data"])
    assert request.requested_at == "2026-03-29T01:30:00Z"


def test_the_local_stack_trains_from_the_dag_message(dag_run, running_stack):
    (message,) = dag_run["messages"]
    finished = wait_event(running_stack, "train", event="train.finished", message_id=message.message_id, timeout=180)
    assert finished["model_version"]


def test_airflow_reached_no_address_past_loopback(dag_run):
    assert dag_run["refused_addresses"] == []
