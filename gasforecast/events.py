"""CloudEvents in, plain values out: the only place that knows the event shapes.

Ingest receives either a direct Cloud Storage event (GCP: Eventarc `object.v1.finalized`, the object
resource as data) or a GCS notification routed through Pub/Sub (locally: fake-gcs-server → Pub/Sub
emulator → push), which arrives as `messagePublished` with the notification in the attributes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from gasforecast.messaging import (
    MAX_MESSAGE_BYTES,
    MalformedMessage,
    RefusedMessage,
    RetrainRequest,
    parse_retrain_request,
    require_curated_dataset,
)

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    name: str
    generation: int | None
    event_id: str | None
    size: int | None = None  # bytes, when the event says (lets ingest refuse a huge object unread)


def _generation(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _object_size(message: dict) -> int | None:
    """The `size` of the object resource a GCS notification carries as its data, if readable."""
    try:
        resource = json.loads(base64.b64decode(message.get("data") or "", validate=True))
    except (ValueError, TypeError, RecursionError):
        return None
    return _generation(resource.get("size")) if isinstance(resource, dict) else None


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
        return ObjectRef(data.get("bucket", ""), data.get("name", ""), _generation(data.get("generation")), event["id"],
                         _generation(data.get("size")))
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
            _object_size(message),
        )
    return None


def message_id_of(event) -> str | None:
    """The Pub/Sub message id of a push event, for logs (None when the event has no message)."""
    data = event.get_data()
    message = data.get("message") if isinstance(data, dict) else None
    return (message.get("messageId") or message.get("message_id")) if isinstance(message, dict) else None


def retrain_request_from_event(event, *, curated_uri: str) -> tuple[RetrainRequest, str | None]:
    """The retrain request of a push event and its Pub/Sub message id.

    Raises `MalformedMessage` when it breaks the contract (including the size and nesting bounds,
    checked before anything is decoded or parsed) and `RefusedMessage` when it names a dataset other
    than `curated_uri`. Both are permanent: the caller acknowledges the message once.
    """
    if event["type"] != PUBSUB_PUBLISHED:
        raise MalformedMessage(f"unexpected event type {event['type']!r}")
    message = _pubsub_message(event)
    message_id = message_id_of(event)
    try:
        request = parse_retrain_request(_message_data(message))
        require_curated_dataset(request, curated_uri)
    except MalformedMessage as exc:
        raise MalformedMessage(f"message {message_id}: {exc}") from exc
    except RefusedMessage as exc:
        raise RefusedMessage(f"message {message_id}: {exc}") from exc
    return request, message_id


def _message_data(message: dict) -> bytes:
    """The decoded data, refused unread when its base64 text is already over the size bound."""
    encoded = message.get("data") or ""
    if not isinstance(encoded, str):
        raise MalformedMessage("data is not a base64 string")
    if len(encoded) > (MAX_MESSAGE_BYTES + 2) // 3 * 4:
        raise MalformedMessage(f"data has about {len(encoded) * 3 // 4:,} bytes; the limit is {MAX_MESSAGE_BYTES:,}")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage("data is not base64") from exc
