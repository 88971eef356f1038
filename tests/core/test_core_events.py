"""Both event shapes reach ingest; retrain events decode to the contract or are refused, bounded."""

import base64
import json

import pytest
from cloudevents.http import CloudEvent

from gasforecast.platform.events import IncomingEvent
from gasforecast.platform.events import retrain_request_from_event as _retrain_request_from_event
from gasforecast.platform.events import storage_object_from_event as _storage_object_from_event
from gasforecast.platform.messaging import MalformedMessage, RefusedMessage

CURATED = "gs://data/curated/history.csv"


# What the functions do: read the CloudEvent into an IncomingEvent at the edge, then hand that on.
def storage_object_from_event(event: CloudEvent):
    return _storage_object_from_event(IncomingEvent.from_cloud_event(event))


def retrain_request_from_event(event: CloudEvent, *, curated_uri: str):
    return _retrain_request_from_event(IncomingEvent.from_cloud_event(event), curated_uri=curated_uri)


def message_id_of(event: CloudEvent) -> str | None:
    return IncomingEvent.from_cloud_event(event).message_id


def _pubsub_event(data: bytes, attributes: dict | None = None, message_id: str = "m-1") -> CloudEvent:
    return CloudEvent(
        {"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub/projects/p/topics/t", "id": message_id},
        {"message": {"data": base64.b64encode(data).decode(), "attributes": attributes or {}, "messageId": message_id},
         "subscription": "projects/p/subscriptions/s"},
    )


def test_direct_storage_event():
    event = CloudEvent(
        {"type": "google.cloud.storage.object.v1.finalized", "source": "//storage/projects/_/buckets/b", "id": "e-9"},
        {"bucket": "b", "name": "a.csv", "generation": "1732600000000000", "size": "1234"},
    )
    ref = storage_object_from_event(event)
    assert (ref.bucket, ref.name, ref.generation, ref.event_id, ref.size) == ("b", "a.csv", 1732600000000000, "e-9", 1234)


def test_pubsub_routed_gcs_notification():
    attributes = {"eventType": "OBJECT_FINALIZE", "bucketId": "b", "objectId": "dir/a b.csv", "objectGeneration": "42"}
    resource = json.dumps({"name": "dir/a b.csv", "size": "77"}).encode()
    ref = storage_object_from_event(_pubsub_event(resource, attributes, "m-7"))
    assert (ref.bucket, ref.name, ref.generation, ref.event_id, ref.size) == ("b", "dir/a b.csv", 42, "m-7", 77)
    assert storage_object_from_event(_pubsub_event(b"[" * 100_000, attributes)).size is None


def test_other_notifications_are_not_objects():
    assert storage_object_from_event(_pubsub_event(b"{}", {"eventType": "OBJECT_DELETE", "bucketId": "b"})) is None


def test_retrain_event_decodes_the_message():
    request, message_id = retrain_request_from_event(
        _pubsub_event(b'{"reason": "schedule", "requested_at": "2026-11-26T10:00:00Z"}', message_id="m-3"),
        curated_uri=CURATED,
    )
    assert request.reason == "schedule" and message_id == "m-3"


def test_retrain_event_with_bad_json_names_the_message():
    with pytest.raises(MalformedMessage, match="m-4"):
        retrain_request_from_event(_pubsub_event(b"oops", message_id="m-4"), curated_uri=CURATED)


def test_a_retrain_event_naming_another_dataset_is_refused():
    body = b'{"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "dataset": "gs://data/other/evil.csv"}'
    with pytest.raises(RefusedMessage, match="m-5.*gs://data/other/evil.csv"):
        retrain_request_from_event(_pubsub_event(body, message_id="m-5"), curated_uri=CURATED)
    body = body.replace(b"other/evil.csv", b"curated/history.csv")
    assert retrain_request_from_event(_pubsub_event(body), curated_uri=CURATED)[0].dataset == CURATED


@pytest.mark.parametrize("data", [b"[" * 200_000, b"{" * 5000, b'"' + b"x" * 9000 + b'"'],
                         ids=["200KB of [", "deep", "too large"])
def test_oversized_or_deep_retrain_events_are_malformed_before_parsing(data):
    with pytest.raises(MalformedMessage, match="limit"):
        retrain_request_from_event(_pubsub_event(data, message_id="m-6"), curated_uri=CURATED)


def test_the_message_id_is_found_for_logs_even_when_the_event_is_odd():
    assert message_id_of(_pubsub_event(b"x", message_id="m-8")) == "m-8"
    odd = CloudEvent({"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//x", "id": "e"}, {"no": 1})
    assert message_id_of(odd) is None
    with pytest.raises(MalformedMessage):
        retrain_request_from_event(odd, curated_uri=CURATED)
