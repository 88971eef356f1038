"""Both event shapes reach ingest; retrain events decode to the contract or are refused."""

import base64

import pytest
from cloudevents.http import CloudEvent

from gasforecast.events import retrain_request_from_event, storage_object_from_event
from gasforecast.messaging import MalformedMessage


def _pubsub_event(data: bytes, attributes: dict | None = None, message_id: str = "m-1") -> CloudEvent:
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub/projects/p/topics/t", "id": message_id},
        {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes or {}, "messageId": message_id},
         "subscription": "projects/p/subscriptions/s"},
    )


def test_direct_storage_event():
    event = CloudEvent(
        {"type": "google.cloud.storage.object.v1.finalized", "source": "//storage/projects/_/buckets/b", "id": "e-9"},
        {"bucket": "b", "name": "incoming/a.csv", "generation": "1732600000000000"},
    )
    ref = storage_object_from_event(event)
    assert (ref.bucket, ref.name, ref.generation, ref.event_id) == ("b", "incoming/a.csv", 1732600000000000, "e-9")


def test_pubsub_routed_gcs_notification():
    attributes = {"eventType": "OBJECT_FINALIZE", "bucketId": "b", "objectId": "incoming/a b.csv", "objectGeneration": "42"}
    ref = storage_object_from_event(_pubsub_event(b"{}", attributes, "m-7"))
    assert (ref.bucket, ref.name, ref.generation, ref.event_id) == ("b", "incoming/a b.csv", 42, "m-7")


def test_other_notifications_are_not_objects():
    assert storage_object_from_event(_pubsub_event(b"{}", {"eventType": "OBJECT_DELETE", "bucketId": "b"})) is None


def test_retrain_event_decodes_the_message():
    request, message_id = retrain_request_from_event(
        _pubsub_event(b'{"reason": "schedule", "requested_at": "2026-11-26T10:00:00Z"}', message_id="m-3")
    )
    assert request.reason == "schedule" and message_id == "m-3"


def test_retrain_event_with_bad_json_names_the_message():
    with pytest.raises(MalformedMessage, match="m-4"):
        retrain_request_from_event(_pubsub_event(b"oops", message_id="m-4"))
