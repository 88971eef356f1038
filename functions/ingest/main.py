"""Cloud Function (gen2): an object finalized in the uploads bucket → validate, merge, publish a retrain."""

from __future__ import annotations

import functools

import functions_framework
from cloudevents.http import CloudEvent
from google.cloud import pubsub_v1, storage

from gasforecast.ingestion import ingest as ingest_core
from gasforecast.platform.config import Settings, load_settings
from gasforecast.platform.errors import PermanentError
from gasforecast.platform.events import IncomingEvent, storage_object_from_event
from gasforecast.platform.logs import configure, get_logger
from gasforecast.platform.messaging import make_publisher
from gasforecast.platform.storage import Bucket, make_client

configure()  # this module is the entry point: JSON lines on stdout for Cloud Logging
log = get_logger("functions.ingest")


@functools.cache
def _clients() -> tuple[Settings, storage.Client, pubsub_v1.PublisherClient]:
    """Created once per instance and reused across invocations (connection pools, auth)."""
    settings = load_settings()
    return settings, make_client(settings.project), make_publisher()


@functions_framework.cloud_event
def ingest(cloud_event: CloudEvent) -> None:
    settings, storage_client, publisher = _clients()
    event = IncomingEvent.from_cloud_event(cloud_event)
    try:
        ref = storage_object_from_event(event)
    except PermanentError as exc:
        log.error("ingest.bad_event", event_id=event.id, error=str(exc))
        return
    if ref is None or ref.bucket != settings.uploads_bucket:
        log.debug("ingest.not_for_us", event_id=event.id, event_type=event.type, bucket=ref.bucket if ref else None)
        return
    ingest_core.handle_object(
        settings,
        Bucket(storage_client, settings.uploads_bucket),
        Bucket(storage_client, settings.data_bucket),
        publisher,
        ref,
    )
