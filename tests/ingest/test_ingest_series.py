"""Series by folder (issue 22, docs/series.md) on the in-memory buckets: routing, refusals, and that a
series' upload writes only under its own prefixes."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from gasforecast.ingestion import ingest
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.series import (
    SeriesDefinition,
    SeriesExists,
    UndeclaredSeries,
    declared_ids,
    read_definition,
    write_definition,
)
from gasforecast.ingestion.upload_names import report_name, series_folder, stored_name
from gasforecast.platform.config import Settings, in_series, is_series_id
from gasforecast.platform.messaging import MalformedMessage, parse_retrain_request, require_curated_dataset

HISTORY = synthetic_history(60, start="2024-01-01", seed=3)
AREAS = ("curated", "archive", "rejected", "held", "forecasts", "locks", "serving")
TTF = SeriesDefinition(id="ttf", target_column="uk_gas_price", label="TTF front-month", unit="EUR/MWh",
                       source="a test", synthetic=True, max_drivers=1)


def rows(start: int, stop: int) -> bytes:
    return to_csv_bytes(HISTORY.iloc[start:stop])


def own_prefixes(series: str) -> tuple[str, ...]:
    return tuple(f"{area}/series/{series}/" for area in AREAS)


@pytest.mark.parametrize("text", ["ttf", "nbp-spot", "a1", "z" * 32])
def test_a_slug_is_a_series_id(text: str) -> None:
    assert is_series_id(text)


@pytest.mark.parametrize("text", ["", "a", "z" * 33, "NBP", "1ttf", "-x", "ttf_spot", "t tf", "ttf/x", "..",
                                  "ttf\n", "tťf", None, 7])
def test_anything_else_is_an_unsafe_id(text) -> None:
    assert not is_series_id(text)
    if isinstance(text, str):
        with pytest.raises(ValidationError):
            SeriesDefinition(id=text, target_column="x", label="x", unit="x")


def test_the_default_series_cannot_be_declared_and_definitions_are_strict() -> None:
    with pytest.raises(ValidationError, match="deployment's own series"):
        SeriesDefinition(id="default", target_column="x", label="x", unit="x")
    with pytest.raises(ValidationError):
        SeriesDefinition.model_validate({**TTF.model_dump(), "model_name": "another-model"})  # no such override
    with pytest.raises(ValidationError):
        SeriesDefinition.model_validate({**TTF.model_dump(), "driver_publication_lags": "brent=99"})


def test_a_definition_is_written_once_unless_replaced_and_read_back(lane) -> None:
    write_definition(lane.data, TTF)
    with pytest.raises(SeriesExists, match="--replace"):
        write_definition(lane.data, TTF.model_copy(update={"label": "changed"}))
    assert read_definition(lane.data, "ttf") == TTF
    write_definition(lane.data, TTF.model_copy(update={"label": "changed"}), replace=True)
    assert read_definition(lane.data, "ttf").label == "changed"
    assert declared_ids(lane.data) == ["ttf"]
    lane.data.write("series/mixed.json", json.dumps({**TTF.model_dump(mode="json"), "id": "nbp"}).encode())
    with pytest.raises(UndeclaredSeries, match="declares 'nbp'"):
        read_definition(lane.data, "mixed")


def test_a_series_settings_keep_every_name_its_own() -> None:
    base = Settings()
    ttf = base.for_series(TTF)
    assert (ttf.series, ttf.target_label, ttf.target_unit, ttf.max_drivers) == ("ttf", "TTF front-month", "EUR/MWh", 1)
    assert (ttf.model_name, ttf.mlflow_experiment) == (f"{base.model_name}-ttf", f"{base.mlflow_experiment}-ttf")
    assert ttf.monitoring_experiment == f"{base.mlflow_experiment}-ttf-monitoring"
    assert (ttf.curated_object, ttf.lease_object) == ("curated/series/ttf/history.csv", "locks/series/ttf/training.lease")
    assert ttf.revision_max_change == base.revision_max_change, "what the definition leaves out is the deployment's"
    assert (ttf.data_source, ttf.data_synthetic) == ("a test", True), "what the page and the API say the series is"
    assert ttf.target_product.startswith("not declared"), "a product left out is said to be undeclared"
    assert (base.series, base.curated_object, base.area("serving")) == ("default", "curated/history.csv", "serving")


@pytest.mark.parametrize("name", ["prices.csv", "series/x.csv", "series.csv", "undated.csv", "x" * 300 + ".csv",
                                  "prix élevés.csv", "a\\series\\b.csv"])
@pytest.mark.parametrize("generation", [0, 1, 1_700_000_000_000_000, 4_102_444_800_000_001, -5])
def test_no_default_series_name_falls_under_an_area_s_series_folder(name: str, generation: int) -> None:
    base = Settings()
    names = [stored_name(base.area(area), name, generation) for area in ("archive", "rejected", "held")]
    names += [base.curated_object, base.lease_object, f"{base.area('forecasts')}/ledger/x.json",
              f"{base.area('serving')}/champion.json"]
    for stored in names:
        assert not stored.startswith(tuple(f"{area}/series/" for area in AREAS)), stored
        assert in_series(stored, "ttf").startswith(own_prefixes("ttf"))


def test_the_first_folder_names_the_series() -> None:
    assert [series_folder(name) for name in ("a.csv", "ttf/a.csv", "ttf/sub/a.csv", "NBP/a.csv")] == [
        None, "ttf", "ttf", "NBP"]


def test_an_upload_in_a_declared_series_folder_goes_to_that_series_only(lane) -> None:
    lane.ingest("prices.csv", rows(0, 30))
    default_curated = lane.data.read(lane.settings.curated_object)
    write_definition(lane.data, TTF)
    before = len(lane.data.writes)
    outcome = lane.ingest("ttf/prices.csv", rows(10, 40))

    assert outcome.status == "accepted"
    ttf = lane.settings.for_series(TTF)
    written = lane.data.writes[before:]
    assert written and all(name.startswith(own_prefixes("ttf")) for name in written), written
    assert lane.data.read(ttf.curated_object) is not None
    assert lane.data.read(lane.settings.curated_object).generation == default_curated.generation
    message = lane.messages()[-1]
    request = parse_retrain_request(message.data)
    assert (request.series, request.dataset) == ("ttf", ttf.curated_uri)
    assert message.attributes["series"] == "ttf"
    require_curated_dataset(request, lane.settings.curated_uri)  # the train function accepts it
    assert parse_retrain_request(lane.messages()[0].data).series is None, "a root upload is the default series'"


def test_a_hostile_upload_to_one_series_touches_nothing_of_another(lane) -> None:
    write_definition(lane.data, TTF)
    lane.ingest("prices.csv", rows(0, 30))
    before = len(lane.data.writes)
    spiked = HISTORY.iloc[25:35].copy()
    spiked.loc[spiked.index[-1], "uk_gas_price"] *= 40  # implausible: held
    held = lane.ingest("ttf/spike.csv", to_csv_bytes(spiked))
    broken = lane.ingest("ttf/broken.csv", b"date,uk_gas_price\n2024-01-01,<script>\n")
    assert (held.status, broken.status) == ("held", "rejected")
    assert lane.data.read(lane.settings.for_series(TTF).curated_object) is None
    ttf_writes = lane.data.writes[before:]
    assert all(name.startswith(own_prefixes("ttf")) for name in ttf_writes), ttf_writes
    frame, _ = lane.curated()
    assert len(frame) == 30, "the default series' curated data is untouched"
    assert len(lane.messages()) == 1


@pytest.mark.parametrize(("name", "code"), [("nbp/prices.csv", "undeclared_series"),
                                             ("NBP/prices.csv", "unsafe_series_id"),
                                             ("x/prices.csv", "unsafe_series_id"),
                                             ("t%2E%2E/prices.csv", "unsafe_series_id")])
def test_an_undeclared_or_unsafe_series_is_reported_and_nothing_changes(lane, name: str, code: str) -> None:
    generation = lane.upload(name, rows(0, 30))
    outcome = lane.handle(name, generation)

    assert outcome.status == "rejected" and outcome.report["errors"][0]["code"] == code
    assert outcome.report["errors"][0]["hint"] == ingest.OBJECT_HINTS[code]
    report = report_name(stored_name("rejected", name, generation))
    assert lane.data.writes == [report], "only the report, under the default series' rejected/"
    assert lane.uploads.read(name) is not None and lane.messages() == []
    assert lane.handle(name, generation, event_id="again").status == "duplicate"


def test_a_held_series_upload_is_accepted_into_its_own_series_only(lane) -> None:
    write_definition(lane.data, TTF)
    ttf = lane.settings.for_series(TTF)
    lane.ingest("ttf/a.csv", rows(0, 40))
    spiked = HISTORY.iloc[35:45].copy()
    spiked.loc[spiked.index[-1], "uk_gas_price"] *= 40
    outcome = lane.ingest("ttf/spike.csv", to_csv_bytes(spiked))
    assert outcome.status == "held" and outcome.report["stored_as"].startswith("gs://memory-data/held/series/ttf/")
    held_name = ingest.held_object_name(lane.settings, outcome.report["stored_as"])
    accepted = ingest.accept_held(lane.settings, lane.data, lane.publisher, held_name)
    assert accepted.status == "accepted" and lane.data.read(lane.settings.curated_object) is None
    assert parse_retrain_request(lane.messages()[-1].data).series == "ttf"
    assert lane.data.read(ttf.curated_object) is not None


def test_a_series_id_in_a_retrain_message_is_validated() -> None:
    body = {"reason": "schedule", "requested_at": "2026-12-08T02:00:00Z"}
    assert parse_retrain_request(json.dumps(body)).fans_out
    assert not parse_retrain_request(json.dumps({**body, "series": "ttf"})).fans_out
    for bad in ("TTF", "../x", "a", 3, ""):
        with pytest.raises(MalformedMessage, match="series"):
            parse_retrain_request(json.dumps({**body, "series": bad}))


def test_the_series_command_adds_lists_and_shows(lane, monkeypatch, capsys) -> None:
    from gasforecast.cli import main
    from gasforecast.commands import series as command

    monkeypatch.setattr(command, "data_bucket", lambda settings: lane.data)
    add = ["series", "add", "ttf", "--target-column", "ttf_price", "--label", "TTF front-month", "--unit", "EUR/MWh",
           "--synthetic", "--max-drivers", "1"]
    assert main(add) == 0
    assert main(add) == 2 and "--replace" in capsys.readouterr().err
    assert main([*add[:6], "TTF", *add[7:], "--replace"]) == 0
    assert read_definition(lane.data, "ttf").label == "TTF"
    assert main(["series", "add", "Bad", "--target-column", "x", "--label", "x", "--unit", "x"]) == 2
    assert main(["series", "add", "default", "--target-column", "x", "--label", "x", "--unit", "x"]) == 2
    capsys.readouterr()
    assert main(["series", "list"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "ttf\tttf_price\tTTF (EUR/MWh, synthetic)"
    assert main(["series", "show", "ttf"]) == 0 and json.loads(capsys.readouterr().out)["max_drivers"] == 1
    assert main(["series", "show", "nbp"]) == 2 and "not declared" in capsys.readouterr().err
    assert main(["series", "show", "default"]) == 0 and json.loads(capsys.readouterr().out)["id"] == "default"


def test_series_settings_come_from_the_deployment_s_only() -> None:
    ttf = Settings().for_series(TTF)
    with pytest.raises(ValueError, match="deployment's settings"):
        ttf.for_series(TTF.model_copy(update={"id": "nbp"}))
