"""The two entry points stay thin and route every kind of event: refused and malformed retrain
messages are acknowledged (the handler returns), ingest only handles its uploads bucket."""

from __future__ import annotations

import base64
import json

import pytest
from cloudevents.http import CloudEvent

from gasforecast.platform.config import Settings
from gasforecast.platform.events import ObjectRef
from tests.entry_points import load_function

SETTINGS = Settings(uploads_bucket="up", data_bucket="data")


def _message(data: bytes, message_id: str = "m-1") -> CloudEvent:
    return CloudEvent({"type": "google.cloud.pubsub.topic.v1.messagePublished", "source": "//pubsub/t", "id": message_id},
                      {"message": {"data": base64.b64encode(data).decode(), "messageId": message_id}})


@pytest.fixture
def train_entry(monkeypatch):
    module = load_function("train")
    monkeypatch.setattr(module, "_clients", lambda: (SETTINGS, None))
    trained = []
    monkeypatch.setattr(module, "handle_retrain", lambda settings, request, client, message_id: trained.append(message_id))
    module.trained = trained
    return module


@pytest.mark.parametrize("data,event", [
    (json.dumps({"reason": "manual", "requested_at": "2026-11-26T10:00:00Z",
                 "dataset": "gs://data/other/evil.csv"}).encode(), "train.message_refused"),
    (b"[" * 200_000, "train.malformed_message"),
    (b"{not json", "train.malformed_message"),
], ids=["other dataset", "200 KB of [", "not json"])
def test_refused_and_malformed_messages_are_acknowledged_without_training(train_entry, caplog, data, event):
    train_entry.train(_message(data, "m-9"))  # returning normally is the acknowledgement
    assert train_entry.trained == []
    (logged,) = [record.fields for record in caplog.records if record.getMessage() == event]
    assert logged["message_id"] == "m-9" and logged["error"]


def test_a_message_for_the_curated_dataset_trains(train_entry):
    body = {"reason": "upload", "requested_at": "2026-11-26T10:00:00Z", "dataset": SETTINGS.curated_uri}
    train_entry.train(_message(json.dumps(body).encode(), "m-10"))
    assert train_entry.trained == ["m-10"]


def test_ingest_handles_only_its_uploads_bucket(monkeypatch):
    module = load_function("ingest")

    class Client:
        def bucket(self, name):
            return name

    monkeypatch.setattr(module, "_clients", lambda: (SETTINGS, Client(), "publisher"))
    handled = []
    monkeypatch.setattr(module.ingest_core, "handle_object",
                        lambda settings, uploads, data, publisher, ref: handled.append((uploads.name, data.name, ref)))
    for bucket in ("data", "other", "up"):
        module.ingest(CloudEvent({"type": "google.cloud.storage.object.v1.finalized", "source": "//storage", "id": bucket},
                                 {"bucket": bucket, "name": "a.csv", "generation": "7", "size": "12"}))
    assert handled == [("up", "data", ObjectRef("up", "a.csv", 7, "up", 12))]
