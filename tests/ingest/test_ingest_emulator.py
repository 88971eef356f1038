"""`gasforecast.ingestion.ingest` against the real GCS and Pub/Sub emulators: the fast unit layer's key
scenarios once more where the fakes could differ from the real services (preconditions, deleted
generations, publish errors, literal object names)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest

from gasforecast.ingestion import ingest
from gasforecast.ingestion.upload_names import stored_name
from gasforecast.platform.errors import TransientError
from gasforecast.platform.events import ObjectRef
from gasforecast.platform.messaging import parse_retrain_request
from tests.ingest.test_ingest_core import rows, with_price

pytestmark = pytest.mark.integration


def test_accepted_upload_lands_and_is_published_once(emulator_lane) -> None:
    lane = emulator_lane
    outcome = lane.ingest("prices.csv", rows(0, 30))
    assert outcome.status == "accepted" and lane.uploads.read("prices.csv") is None
    frame, generation = lane.curated()
    (message,) = lane.messages()
    request = parse_retrain_request(message.data)
    assert (len(frame), request.generation, request.source) == (
        30, str(generation), f"gs://{lane.settings.uploads_bucket}/prices.csv")
    assert lane.handle("prices.csv", outcome.generation, event_id="again").status == "duplicate"


def test_concurrent_deliveries_of_one_upload_publish_once(emulator_lane) -> None:
    lane = emulator_lane
    generation = lane.upload("racy.csv", rows(0, 10))

    def deliver(event_id: str) -> str:
        try:
            return lane.handle("racy.csv", generation, event_id=event_id).status
        except TransientError:
            return "retry"

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(deliver, ["a", "b", "c", "d"]))
    assert statuses.count("accepted") == 1, statuses
    assert len(lane.messages()) == 1


def test_a_replaced_generation_is_ignored_and_the_newer_upload_is_kept(emulator_lane) -> None:
    lane = emulator_lane
    old = lane.upload("same-name.csv", rows(0, 5))
    new = lane.upload("same-name.csv", rows(5, 10))
    assert lane.handle("same-name.csv", old).status == "ignored"
    assert lane.uploads.generation("same-name.csv") == new
    assert lane.handle("same-name.csv", new).status == "accepted"


def test_a_publish_failure_releases_the_claim_so_the_redelivery_publishes(emulator_lane) -> None:
    lane = emulator_lane
    generation = lane.upload("later.csv", rows(0, 10))
    missing_topic = dataclasses.replace(lane.settings, retrain_topic="no-such-topic-yet")
    with pytest.raises(TransientError):
        ingest.handle_object(missing_topic, lane.uploads, lane.data, lane.publisher,
                             ObjectRef(missing_topic.uploads_bucket, "later.csv", generation, None))
    assert lane.uploads.read("later.csv") is not None, "kept for the redelivery"
    assert lane.handle("later.csv", generation, event_id="redelivered").status == "accepted"
    assert len(lane.messages()) == 1


def test_held_then_accepted_on_the_real_emulators(emulator_lane) -> None:
    lane = emulator_lane
    lane.ingest("base.csv", rows(0, 40))
    held = lane.ingest("typo.csv", with_price(35, 45, 44, 10))
    assert held.status == "held" and len(lane.messages()) == 1
    held_name = stored_name("held", "typo.csv", held.generation)
    assert ingest.accept_held(lane.settings, lane.data, lane.publisher, held_name).status == "accepted"
    assert len(lane.messages()) == 2 and lane.data.list_names("held/") == []


def test_a_dot_dot_name_is_refused_and_the_curated_dataset_stays(emulator_lane) -> None:
    lane = emulator_lane
    lane.ingest("base.csv", rows(0, 10))
    _, generation = lane.curated()
    name = f"../{lane.settings.data_bucket}/curated/history.csv"
    upload = lane.upload(name, b"date,uk_gas_price\n2024-01-01,1\n")
    assert lane.handle(name, upload).status == "rejected"
    assert lane.curated()[1] == generation and len(lane.curated()[0]) == 10
    assert lane.uploads.generation(name) == upload, "left untouched"
