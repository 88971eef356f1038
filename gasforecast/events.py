"""CloudEvents in, plain values out: the only place that knows the event shapes.

Ingest receives either a direct Cloud Storage event (GCP: Eventarc `object.v1.finalized`, the object
resource as data) or a GCS notification routed through Pub/Sub (locally: fake-gcs-server → Pub/Sub
emulator → push), which arrives as `messagePublished` with the notification in the attributes.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from gasforecast.messaging import MalformedMessage, RetrainRequest, parse_retrain_request

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    name: str
    generation: int | None
    event_id: str | None


def _generation(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _pubsub_message(event) -> dict:
    data = event.get_data() or {}
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        raise MalformedMessage("Pub/Sub event without a message")
    return message


def storage_object_from_event(event) -> ObjectRef | None:
    """The finalized object an event is about, or None when the event is not an object finalize."""
    event_type = event["type"]
    if event_type == STORAGE_FINALIZED:
        data = event.get_data() or {}
        return ObjectRef(data.get("bucket", ""), data.get("name", ""), _generation(data.get("generation")), event["id"])
    if event_type == PUBSUB_PUBLISHED:
        message = _pubsub_message(event)
        attributes = message.get("attributes") or {}
        if attributes.get("eventType") != "OBJECT_FINALIZE":
            return None
        return ObjectRef(
            attributes.get("bucketId", ""),
            attributes.get("objectId", ""),
            _generation(attributes.get("objectGeneration")),
            message.get("messageId") or message.get("message_id") or event["id"],
        )
    return None


def retrain_request_from_event(event) -> tuple[RetrainRequest, str | None]:
    """The retrain request and its Pub/Sub message id; `MalformedMessage` if it breaks the contract."""
    if event["type"] != PUBSUB_PUBLISHED:
        raise MalformedMessage(f"unexpected event type {event['type']!r}")
    message = _pubsub_message(event)
    message_id = message.get("messageId") or message.get("message_id")
    try:
        data = base64.b64decode(message.get("data") or "", validate=True)
    except (ValueError, TypeError) as exc:
        raise MalformedMessage(f"message {message_id}: data is not base64") from exc
    try:
        return parse_retrain_request(data), message_id
    except MalformedMessage as exc:
        raise MalformedMessage(f"message {message_id}: {exc}") from exc
