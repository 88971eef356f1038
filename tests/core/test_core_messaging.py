"""The retrain message contract: what parses, what is refused, and how it round-trips."""

import json

import pytest

from gasforecast.platform.messaging import (
    MAX_JSON_DEPTH,
    MalformedMessage,
    RefusedMessage,
    RetrainRequest,
    json_depth,
    parse_retrain_request,
    require_curated_dataset,
)


def test_round_trip_keeps_every_field():
    request = RetrainRequest(
        reason="upload", requested_at="2026-11-26T10:00:00Z", dataset="gs://b/curated/history.csv",
        generation="17", source="gs://uploads/x.csv", force=True, override="accept", refused="not a held upload",
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
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "override": "sudo"}).encode(),
         "override must be one of"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "refused": "why"}).encode(),
         "beside an override"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "override": "accept",
                     "refused": 7}).encode(), "refused must be a string"),
        (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z", "override": "accept",
                     "refused": "x" * 1001}).encode(), "at most 1000 characters"),
        (b"[" * 200_000, "200,000 bytes; the limit is 8,192"),
        (b"[" * 8000, "nests 8000 levels deep"),
        (json.dumps({"reason": [["manual"]], "requested_at": "2026-11-26T10:00:00Z"}).encode(), "nests 3 levels"),
        (json.dumps({"reason": ["manual"], "requested_at": "2026-11-26T10:00:00Z"}).encode(), "reason must be"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(body, fragment):
    with pytest.raises(MalformedMessage, match=fragment):
        parse_retrain_request(body)


@pytest.mark.parametrize("text,depth", [("{}", 1), ('{"a": "[[[[{{"}', 1), ('{"a": "\\"[["}', 1), ("[[1], [2]]", 2),
                                        ("7", 0), ("[" * 50, 50)])
def test_json_depth_counts_nesting_outside_strings(text, depth):
    assert json_depth(text) == depth


def test_a_flat_request_is_within_the_depth_bound():
    assert json_depth(RetrainRequest("manual", "2026-11-26T10:00:00Z").to_bytes().decode()) <= MAX_JSON_DEPTH


def test_only_the_configured_curated_dataset_may_be_trained_on():
    curated = "gs://data/curated/history.csv"
    require_curated_dataset(RetrainRequest("manual", "2026-11-26T10:00:00Z"), curated)
    require_curated_dataset(RetrainRequest("manual", "2026-11-26T10:00:00Z", dataset=curated), curated)
    for other in ("gs://data/other/evil.csv", "gs://other/curated/history.csv", curated + "x"):
        with pytest.raises(RefusedMessage, match="not the configured curated dataset"):
            require_curated_dataset(RetrainRequest("manual", "2026-11-26T10:00:00Z", dataset=other), curated)


def test_docs_state_the_bounds_the_code_uses():
    from pathlib import Path

    from gasforecast.platform.messaging import MAX_MESSAGE_BYTES

    doc = (Path(__file__).resolve().parents[2] / "docs" / "messages.md").read_text(encoding="utf-8")
    assert f"**{MAX_MESSAGE_BYTES // 1024} KiB**" in doc and f"**{MAX_JSON_DEPTH}** levels" in doc
    assert "train.message_refused" in doc and "--discard-invalid" in doc
