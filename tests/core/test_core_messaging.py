"""The retrain message contract: what parses, what is refused, and how it round-trips."""

import json

import pytest

from gasforecast.messaging import MalformedMessage, RetrainRequest, parse_retrain_request


def test_round_trip_keeps_every_field():
    request = RetrainRequest(
        reason="upload", requested_at="2026-11-26T10:00:00Z", dataset="gs://b/curated/history.csv",
        generation="17", source="gs://b/incoming/x.csv", force=True,
    )
    assert parse_retrain_request(request.to_bytes()) == request
    assert request.attributes() == {"reason": "upload", "generation": "17"}


def test_minimal_schedule_message():
    parsed = parse_retrain_request(b'{"reason": "schedule", "requested_at": "2026-11-26T10:00:00+00:00"}')
    assert parsed.reason == "schedule" and parsed.force is False and parsed.dataset is None


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"not json", "not UTF-8 JSON"),
        (b"\xff\xfe", "not UTF-8 JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"reason": "because", "requested_at": "2026-11-26T10:00:00Z"}).encode(), "reason must be"),
        (json.dumps({"reason": "manual"}).encode(), "requested_at"),
        (json.dumps({"reason": "manual", "requested_at": "yesterday"}).encode(), "ISO 8601"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00"}).encode(), "time zone"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "force": "yes"}).encode(), "force"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "dataset": "/tmp/x"}).encode(), "gs://"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "generation": 5}).encode(), "generation"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "extra": 1}).encode(), "unknown fields"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(body, fragment):
    with pytest.raises(MalformedMessage, match=fragment):
        parse_retrain_request(body)
