"""Cloud Composer 3 (Airflow 3) DAG: ask for a gasforecast retrain every hour.

Each run publishes one retrain message (docs/messages.md) to the topic that uploads use, so a
scheduled retrain goes through the same train function, idempotency key and champion promotion as
an upload. Training on an unchanged dataset generation is acknowledged without a new run, so the
hourly tick is cheap when nothing changed.

Composer does not install the `gasforecast` package: this file writes the contract JSON itself, and
the test suite checks it with `gasforecast.platform.messaging.parse_retrain_request` (tests/dag/).

Settings (Airflow Variables; Airflow also reads each from the environment as AIRFLOW_VAR_<NAME>):
- `gasforecast_project`: Google Cloud project of the topic (default: the connection's project).
- `gasforecast_retrain_topic`: topic name (default `retrain-requests`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.google.cloud.operators.pubsub import PubSubPublishMessageOperator
from airflow.sdk import DAG

if TYPE_CHECKING:
    from airflow.sdk import Context

DAG_ID = "gasforecast_retrain_schedule"
DEFAULT_TOPIC = "retrain-requests"
REASON = "schedule"


def retrain_message(requested_at: datetime) -> dict:
    """The Pub/Sub message for a scheduled retrain requested at `requested_at` (aware datetime).

    Only the contract's required fields: the latest dataset, no force. The time is in UTC, to the
    second, with a `Z`, like `gasforecast.platform.messaging.utc_now_iso()`.
    """
    stamp = requested_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"reason": REASON, "requested_at": stamp}
    return {"data": json.dumps(body, sort_keys=True).encode("utf-8"), "attributes": {"reason": REASON}}


class PublishRetrainRequestOperator(PubSubPublishMessageOperator):
    """Publishes this run's retrain message, built when the task runs.

    The provider does not render `data` (it must be bytes, and Jinja renders only strings), so the
    message is built in `execute` from the run's logical date rather than templated.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(messages=[], **kwargs)

    def execute(self, context: Context) -> None:
        # A run triggered by hand in Airflow 3 may have no logical date; it still has run_after.
        requested_at = context.get("logical_date") or context["dag_run"].run_after
        self.messages = [retrain_message(requested_at)]
        super().execute(context)


with DAG(
    dag_id=DAG_ID,
    description="Publish an hourly gasforecast retrain request to Pub/Sub",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=30),
    default_args={
        "retries": 4,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
        "execution_timeout": timedelta(minutes=2),
    },
    tags=["gasforecast"],
) as dag:
    PublishRetrainRequestOperator(
        task_id="publish_retrain_request",
        # Empty project → the hook falls back to the google_cloud_default connection's project.
        project_id="{{ var.value.get('gasforecast_project', '') }}",
        topic="{{ var.value.get('gasforecast_retrain_topic', '" + DEFAULT_TOPIC + "') }}",
    )
