"""CloudEvents in, typed values out: the only place that knows the event shapes.

The functions turn the CloudEvent they receive into an `IncomingEvent` first thing (`from_cloud_event`),
so nothing past their entry point sees a raw event or dict.

Ingest receives either a direct Cloud Storage event (GCP: Eventarc `object.v1.finalized`, the object
resource as data) or a GCS notification routed through Pub/Sub (locally: fake-gcs-server → Pub/Sub
emulator → push), which arrives as `messagePublished` with the notification in the attributes.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gasforecast.platform.messaging import (
    MAX_MESSAGE_BYTES,
    MalformedMessage,
    RefusedMessage,
    RetrainRequest,
    parse_retrain_request,
    require_curated_dataset,
)

if TYPE_CHECKING:
    from cloudevents.abstract import AnyCloudEvent

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    name: str
    generation: int | None
    event_id: str | None
    size: int | None = None  # bytes, when the event says (lets ingest refuse a huge object unread)


@dataclass(frozen=True)
class PushedMessage:
    """The Pub/Sub message a push event carries: its id, its data as pushed (base64 text) and attributes."""

    message_id: str | None
    data: Any  # checked when decoded: a hostile publisher may send anything here
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class IncomingEvent:
    """A CloudEvent as a function receives it, read once at the edge into typed values.

    `storage_object` is the object resource of a direct storage event; `message` the Pub/Sub message
    of a push event (None when the event has none, e.g. a malformed push).
    """

    id: str
    type: str
    storage_object: dict[str, str | None] | None = None
    message: PushedMessage | None = None

    @property
    def message_id(self) -> str | None:
        """The Pub/Sub message id, for logs (None when the event has no message)."""
        return self.message.message_id if self.message is not None else None

    @classmethod
    def from_cloud_event(cls, event: AnyCloudEvent) -> IncomingEvent:
        """Read what the pipeline uses of `event`; anything missing or of the wrong type reads as absent."""
        data = event.get_data()
        event_id, event_type = str(event["id"]), str(event["type"])
        if not isinstance(data, dict):
            return cls(event_id, event_type)
        if event_type == STORAGE_FINALIZED:
            resource = {key: _text(data.get(key)) for key in ("bucket", "name", "generation", "size")}
            return cls(event_id, event_type, storage_object=resource)
        message = data.get("message")
        if not isinstance(message, dict):
            return cls(event_id, event_type)
        attributes = message.get("attributes")
        pushed = PushedMessage(
            message_id=_text(message.get("messageId") or message.get("message_id")),
            data=message.get("data"),
            attributes={str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, dict) else {},
        )
        return cls(event_id, event_type, message=pushed)


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _generation(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _object_size(message: PushedMessage) -> int | None:
    """The `size` of the object resource a GCS notification carries as its data, if readable."""
    try:
        resource = json.loads(base64.b64decode(message.data or "", validate=True))
    except (ValueError, TypeError, RecursionError):
        return None
    return _generation(_text(resource.get("size"))) if isinstance(resource, dict) else None


def storage_object_from_event(event: IncomingEvent) -> ObjectRef | None:
    """The finalized object an event is about, or None when the event is not an object finalize."""
    if event.type == STORAGE_FINALIZED:
        resource = event.storage_object or {}
        return ObjectRef(resource.get("bucket") or "", resource.get("name") or "",
                         _generation(resource.get("generation")), event.id, _generation(resource.get("size")))
    if event.type == PUBSUB_PUBLISHED:
        message = event.message
        if message is None:
            raise MalformedMessage("Pub/Sub event without a message")
        attributes = message.attributes
        if attributes.get("eventType") != "OBJECT_FINALIZE":
            return None
        return ObjectRef(
            attributes.get("bucketId", ""),
            attributes.get("objectId", ""),
            _generation(attributes.get("objectGeneration")),
            message.message_id or event.id,
            _object_size(message),
        )
    return None


def retrain_request_from_event(event: IncomingEvent, *, curated_uri: str) -> tuple[RetrainRequest, str | None]:
    """The retrain request of a push event and its Pub/Sub message id.

    Raises `MalformedMessage` when it breaks the contract (including the size and nesting bounds,
    checked before anything is decoded or parsed) and `RefusedMessage` when it names a dataset other
    than `curated_uri`. Both are permanent: the caller acknowledges the message once.
    """
    if event.type != PUBSUB_PUBLISHED:
        raise MalformedMessage(f"unexpected event type {event.type!r}")
    if event.message is None:
        raise MalformedMessage("Pub/Sub event without a message")
    message_id = event.message_id
    try:
        request = parse_retrain_request(_message_data(event.message))
        require_curated_dataset(request, curated_uri)
    except MalformedMessage as exc:
        raise MalformedMessage(f"message {message_id}: {exc}") from exc
    except RefusedMessage as exc:
        raise RefusedMessage(f"message {message_id}: {exc}") from exc
    return request, message_id


def _message_data(message: PushedMessage) -> bytes:
    """The decoded data, refused unread when its base64 text is already over the size bound."""
    encoded = message.data or ""
    if not isinstance(encoded, str):
        raise MalformedMessage("data is not a base64 string")
    if len(encoded) > (MAX_MESSAGE_BYTES + 2) // 3 * 4:
        raise MalformedMessage(f"data has about {len(encoded) * 3 // 4:,} bytes; the limit is {MAX_MESSAGE_BYTES:,}")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage("data is not base64") from exc
