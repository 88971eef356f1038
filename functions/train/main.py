"""Cloud Function (gen2): a retrain message → fit, backtest, log to MLflow, promote the champion.

A malformed message, or one naming a dataset other than the curated one, is acknowledged once
(retrying cannot fix it); a transient failure propagates, so the platform answers 500 and Pub/Sub
redelivers with backoff, then dead-letters after five attempts.
"""

from __future__ import annotations

import functools

import functions_framework
from cloudevents.http import CloudEvent
from google.cloud import storage

from gasforecast.platform.config import Settings, load_settings
from gasforecast.platform.events import IncomingEvent, retrain_request_from_event
from gasforecast.platform.logs import configure, get_logger
from gasforecast.platform.messaging import MalformedMessage, RefusedMessage
from gasforecast.platform.storage import make_client
from gasforecast.training.retrain import handle_retrain

configure()  # this module is the entry point: JSON lines on stdout for Cloud Logging
log = get_logger("functions.train")


@functools.cache
def _clients() -> tuple[Settings, storage.Client]:
    settings = load_settings()
    return settings, make_client(settings.project)


@functions_framework.cloud_event
def train(cloud_event: CloudEvent) -> None:
    settings, storage_client = _clients()
    event = IncomingEvent.from_cloud_event(cloud_event)
    try:
        request, message_id = retrain_request_from_event(event, curated_uri=settings.curated_uri)
    except RefusedMessage as exc:
        log.warning("train.message_refused", event_id=event.id, message_id=event.message_id, error=str(exc))
        return
    except MalformedMessage as exc:
        log.error("train.malformed_message", event_id=event.id, message_id=event.message_id, error=str(exc))
        return
    try:
        handle_retrain(settings, request, storage_client, message_id=message_id)
    except Exception as exc:
        log.error("train.failed", message_id=message_id, error=str(exc), error_type=type(exc).__name__, exc_info=True)
        raise
