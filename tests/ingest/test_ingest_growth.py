"""Bounded growth (issue 20): rows back to 1900 are refused, the curated dataset's columns are capped,
and an operator can retire a driver column (logged, retrained, ignored in later uploads)."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from gasforecast.ingestion import ingest
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.upload_names import stored_name
from gasforecast.platform.errors import PermanentError
from gasforecast.platform.messaging import parse_retrain_request

HISTORY = synthetic_history(60, start="2024-01-01", seed=7)


def wide(start: int, stop: int, columns: list[str]) -> bytes:
    frame = HISTORY.iloc[start:stop][["date", "uk_gas_price"]].copy()
    for index, name in enumerate(columns):
        frame[name] = float(index)
    return to_csv_bytes(frame)


@pytest.fixture
def based(lane):
    assert lane.ingest("base.csv", to_csv_bytes(HISTORY.iloc[:50])).status == "accepted"
    return lane


def test_rows_back_to_1900_are_rejected_with_a_report_and_nothing_is_merged(based) -> None:
    lane = based
    _, generation = lane.curated()
    recent = HISTORY.iloc[50:][["date", "uk_gas_price"]]
    old = b"date,uk_gas_price\n1900-01-01,80.5\n1900-01-02,80.6\n" + to_csv_bytes(recent).split(b"\n", 1)[1]
    outcome = lane.ingest("century.csv", old)
    assert outcome.status == "rejected"
    errors = lane.report("rejected", outcome)["errors"]
    assert [(e["code"], e["row"]) for e in errors] == [("date_out_of_range", 2), ("date_out_of_range", 3)]
    error = errors[0]
    assert "before 2000-01-01, the earliest accepted date" in error["message"]
    assert lane.curated()[1] == generation and len(lane.messages()) == 1


def test_the_curated_dataset_takes_at_most_max_curated_columns(based) -> None:
    lane = based
    assert lane.settings.max_curated_columns == 50
    fill = [f"driver_{i:02d}" for i in range(46)]  # 4 curated + 46 = 50: at the limit
    assert lane.ingest("wide-1.csv", wide(50, 52, fill)).status == "accepted"
    _, generation = lane.curated()

    outcome = lane.ingest("wide-2.csv", wide(52, 54, [f"more_{i:02d}" for i in range(48)]))
    assert outcome.status == "rejected"
    (error,) = lane.report("rejected", outcome)["errors"]
    assert error["code"] == "too_many_curated_columns" and error["hint"] == ingest.MERGE_HINTS[error["code"]]
    assert "has 50 value columns and this file adds 48 ('more_00', " in error["message"]
    assert "and 38 more); the limit is 50" in error["message"]
    assert lane.curated()[1] == generation, "nothing merged"
    assert len(lane.messages()) == 2, "no retrain for the refused file"
    assert lane.ingest("same-columns.csv", wide(52, 54, fill)).status == "accepted", "known columns still flow"


def test_an_accept_cannot_override_the_column_limit(based) -> None:
    lane = dataclasses.replace(based, settings=dataclasses.replace(based.settings, max_curated_columns=5))
    spiked = HISTORY.iloc[45:55].copy()
    spiked.loc[spiked.index[-1], "uk_gas_price"] *= 10
    held = lane.ingest("spike.csv", to_csv_bytes(spiked))
    assert held.status == "held"
    held_name = stored_name("held", "spike.csv", held.generation)
    narrower = dataclasses.replace(lane.settings, max_curated_columns=4)
    spiked["extra"] = 1.0
    lane.data.write(held_name, to_csv_bytes(spiked))  # as if the held file had carried one more column
    with pytest.raises(PermanentError, match="too_many_curated_columns|the limit is 4"):
        ingest.accept_held(narrower, lane.data, lane.publisher, held_name)
    assert lane.data.read(held_name) is not None, "still held"


def test_a_retired_column_is_gone_ignored_in_later_uploads_and_retrained_without(based, caplog) -> None:
    lane = based
    caplog.set_level(logging.WARNING, logger="gasforecast.ingestion.ingest")
    done = ingest.retire_column(lane.settings, lane.data, lane.publisher, "hdd", reason="feed discontinued")

    frame, generation = lane.curated()
    assert (done.status, done.cells_removed, done.curated_generation) == ("retired", 50, generation)
    assert "hdd" not in frame.columns and len(frame) == 50
    request = parse_retrain_request(lane.messages()[-1].data)
    assert (request.reason, request.generation, request.override, done.message_id) == (
        "manual", str(generation), "retire-column", lane.messages()[-1].message_id)
    (line,) = [r for r in caplog.records if r.getMessage() == "ingest.column_retired"]
    assert line.levelno == logging.WARNING
    expected = {"event": "ingest.column_retired", "column": "hdd", "reason": "feed discontinued",
                "cells_removed": 50, "curated_generation": generation, "message_id": done.message_id}
    assert {key: line.fields.get(key) for key in expected} == expected

    outcome = lane.ingest("full-feed.csv", to_csv_bytes(HISTORY))
    assert outcome.status == "accepted" and outcome.report["columns_ignored"] == ["hdd"]
    assert "hdd" not in lane.curated()[0].columns
    assert ingest.retire_column(lane.settings, lane.data, lane.publisher, "hdd", reason="again").status == \
        "already_retired"

    ingest.retire_column(lane.settings, lane.data, lane.publisher, "hdd", reason="feed is back", restore=True)
    assert json.loads(lane.data.read(lane.settings.curated_object).metadata["retired-columns"]) == []
    lane.ingest("hdd-again.csv", to_csv_bytes(HISTORY.iloc[-5:]))
    assert lane.curated()[0]["hdd"].notna().sum() == 5


def test_retiring_frees_room_under_the_column_limit(based) -> None:
    lane = dataclasses.replace(based, settings=dataclasses.replace(based.settings, max_curated_columns=3))
    assert lane.ingest("known-columns.csv", to_csv_bytes(HISTORY.iloc[50:])).status == "accepted", \
        "a dataset already past a lowered limit still takes values for its own columns"
    assert lane.ingest("new-driver.csv", wide(50, 52, ["storage_pct"])).status == "rejected"
    ingest.retire_column(lane.settings, lane.data, lane.publisher, "ttf_price", reason="unused")
    ingest.retire_column(lane.settings, lane.data, lane.publisher, "brent_price", reason="unused")
    assert lane.ingest("new-driver-2.csv", wide(50, 52, ["storage_pct"])).status == "accepted"


@pytest.mark.parametrize(("column", "message"), [("uk_gas_price", "is the target column"),
                                                 ("nope", "has no column 'nope'")])
def test_the_target_and_unknown_columns_cannot_be_retired(based, column, message) -> None:
    with pytest.raises(PermanentError, match=message):
        ingest.retire_column(based.settings, based.data, based.publisher, column, reason="test")
    with pytest.raises(PermanentError, match="is not retired"):
        ingest.retire_column(based.settings, based.data, based.publisher, "hdd", reason="test", restore=True)


def test_retired_columns_survive_later_merges_in_the_metadata(based) -> None:
    lane = based
    ingest.retire_column(lane.settings, lane.data, lane.publisher, "ttf_price", reason="unused")
    lane.ingest("more.csv", to_csv_bytes(HISTORY.iloc[50:]))
    metadata = lane.data.read(lane.settings.curated_object).metadata
    assert json.loads(metadata["retired-columns"]) == ["ttf_price"]
    assert len(metadata["applied-uploads"].split()) == 2, "the uploads applied are still remembered"
