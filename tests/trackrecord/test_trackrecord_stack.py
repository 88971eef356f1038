"""Issue 13 through the real stack: a served forecast is scored once an upload brings its prices.

The scenario (`scored_champion`, once per session): the newest forecast in the ledger — the first
champion's on a fresh stack — then one upload to the uploads bucket that continues the series by 30
days; ingest, the retrain message, the train function, MLflow and the service do the rest. The
checks read what a user and an operator would: the API, the page, the CSV, the ledger in the data
bucket and the monitoring run in MLflow.
"""

from __future__ import annotations

import io
import json
import re
import uuid
from collections import Counter

import pytest
import requests

from devstack.processes import wait_for
from gasforecast.cli import main as cli
from gasforecast.ingestion import dataset
from gasforecast.platform.storage import parse_gs_uri
from gasforecast.scoring.ledger import LEDGER_PREFIX, read_ledger
from gasforecast.scoring.track_record import POINT_COLUMNS, day_index
from gasforecast.training.registry import Registry
from service.view import SERIES_COLUMNS
from tests.stack_helpers import data_bucket, function_events, push_to_train, served_track_record, wait_event

pytestmark = pytest.mark.integration

HORIZONS = (1, 7, 30)


@pytest.fixture(scope="module")
def record(scored_champion, running_stack) -> dict:
    return served_track_record(running_stack.service_url)


def _entry(stack, version: str) -> dict:
    (entry,) = [e.to_json_dict() for e in read_ledger(data_bucket(stack)) if e.model_version == version]
    return entry


def test_the_earlier_forecast_is_scored_at_1_7_and_30_days_with_the_version_that_made_it(
        scored_champion, record, running_stack, settings):
    assert record["model"]["run_id"] == scored_champion.run_id  # the alias may since point at a copy of the version
    assert record["calendar"] == "daily" and set(HORIZONS) <= set(record["horizons"])
    made = {p["horizon"]: p for p in record["points"] if p["forecast_date"] == scored_champion.forecast_date}
    assert set(HORIZONS) <= set(made), f"scored horizons: {sorted(made)}"
    entry = _entry(running_stack, scored_champion.forecast_version)
    curated = dataset.read_curated(data_bucket(running_stack).read(settings.curated_object).data)
    prices = curated[settings.target_column]
    for horizon, point in made.items():
        assert (point["model_version"], point["run_id"]) == (scored_champion.forecast_version,
                                                             scored_champion.forecast_run_id)
        promised = entry["points"][horizon - 1]  # the point as served: its date, mean and bands
        assert point["target_date"] == promised["date"] and point["mean"] == promised["mean"]
        assert (point["lower_80"], point["upper_95"]) == (promised["lower_80"], promised["upper_95"])
        assert point["actual"] == pytest.approx(prices[point["target_date"]])
        assert point["naive"] == entry["origin_value"]
        assert point["abs_error"] == pytest.approx(abs(point["actual"] - point["mean"]), abs=1e-6)
        assert point["inside_80"] == (point["lower_80"] <= point["actual"] <= point["upper_80"])
    summary = {(row["horizon"], row["window"]): row for row in record["summary"]}
    assert all(summary[(h, "all")]["points"] >= 1 and summary[(h, "all")]["mae"] is not None for h in HORIZONS)
    assert record["status"] in ("too_few_points", "ok", "degraded")


def test_the_page_shows_how_past_forecasts_did_with_data(scored_champion, running_stack):
    response = requests.get(f"{running_stack.service_url}/", timeout=10)
    assert response.status_code == 200
    html = response.text
    start = html.index('<section id="track-record"')
    section = html[start:html.index("</section>", start)]
    assert "How past forecasts did" in section
    assert 'id="track-chart-7"' in section and 'id="track-chart-30"' in section
    assert f"v{scored_champion.forecast_version}</td>" in section  # the table under each chart names the version
    assert 'class="scores-table"' in section and "closer than “no change”" in section
    assert "No track record yet" not in section


def test_the_csv_download_parses_with_pandas_and_matches_the_json(record, running_stack):
    import pandas as pd

    response = requests.get(f"{running_stack.service_url}/api/v1/track-record", params={"format": "csv"}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(response.text), dtype={"model_version": str, "run_id": str})
    assert list(frame.columns) == [*POINT_COLUMNS, *SERIES_COLUMNS] and len(frame) == len(record["points"]) > 0
    frame = frame.astype(object).where(frame.notna(), None)  # an empty cell is JSON's null (revised_actual)
    # each row: the point, then what the series is (the stack trains on the synthetic sample, declared so)
    assert record["series"]["synthetic"] is True
    assert frame.to_dict(orient="records") == [{**{name: point[name] for name in POINT_COLUMNS}, **record["series"]}
                                               for point in record["points"]]


def test_the_monitoring_run_has_the_live_scores_as_time_series(record, settings):
    client = Registry(settings).client
    experiment = client.get_experiment_by_name(settings.monitoring_experiment)
    (run,) = client.search_runs([experiment.experiment_id], filter_string=f"tags.`{Registry.MONITORING_TAG}` = 'track_record'")
    history = client.get_metric_history(run.info.run_id, "live.h30.all.points")
    (latest,) = [m for m in history if m.step == day_index(record["data_through"])]
    assert latest.value >= 1


def test_a_redelivered_promotion_leaves_one_ledger_entry_per_version(scored_champion, running_stack, settings):
    bucket = data_bucket(running_stack)
    assert str(bucket.generation(settings.curated_object)) == scored_champion.generation, \
        "no newer data since the scenario (a redelivery would train it instead)"
    names = bucket.list_names(LEDGER_PREFIX)
    message = scored_champion.message

    def redeliver() -> None:
        assert push_to_train(running_stack, settings, message.data, message.message_id, message.attributes) == 200

    redeliver()  # the promotion had finished: a duplicate
    wait_event(running_stack, "train", 300, event="train.duplicate", message_id=message.message_id)
    # The trainer died after recording the forecast but before marking the version promoted: the
    # redelivery resumes the version, finds its entry and leaves it.
    client = Registry(settings).client
    client.set_model_version_tag(settings.model_name, scored_champion.version, Registry.STATE_TAG, "pending")
    redeliver()
    wait_event(running_stack, "train", 300, event="train.resumed", message_id=message.message_id)
    wait_event(running_stack, "train", 300, event="train.finished", message_id=message.message_id, status="resumed")
    assert function_events(running_stack, "train", event="ledger.already_recorded",
                           model_version=scored_champion.version)
    version = client.get_model_version(settings.model_name, scored_champion.version)
    assert version.tags[Registry.STATE_TAG] == "promoted"

    assert bucket.list_names(LEDGER_PREFIX) == names
    per_version = Counter(entry.model_version for entry in read_ledger(bucket))
    assert per_version[scored_champion.forecast_version] == 1 and per_version[scored_champion.version] == 1
    assert set(per_version.values()) == {1}


def test_an_accepted_rewrite_of_matured_prices_is_shown_as_revisions_and_leaves_the_scores(
        scored_champion, record, running_stack, settings, capsys):
    """Issue 20: revising the 30 matured prices to the ledger's own forecast means scored an error
    ratio of 0.0. Now the upload is held as a revision; accepted anyway by an operator, it is trained
    on, and the next record keeps scoring the prices as first published, showing each revision.
    Last in this file: it changes the curated data the other tests read."""
    stack = running_stack
    target = settings.target_column
    entry = _entry(stack, scored_champion.forecast_version)
    curated = dataset.read_curated(data_bucket(stack).read(settings.curated_object).data)
    promised = {p["date"]: round(p["mean"], 4) for p in entry["points"] if p["date"] in curated.index.strftime("%Y-%m-%d")}
    assert len(promised) == 30
    rewrite = curated.loc[sorted(promised), [target]].copy()
    rewrite[target] = [promised[day] for day in sorted(promised)]
    name = f"rewrite-{uuid.uuid4().hex[:8]}.csv"
    stack.upload(name, dataset.curated_to_bytes(rewrite))

    held = wait_event(stack, "ingest", 120, event="ingest.held", object=name)
    report = json.loads(data_bucket(stack).read(parse_gs_uri(held["report_uri"])[1]).data)
    assert "revision_breadth" in {r["rule"] for r in report["revisions"]}, report["revisions"]
    assert cli(["accept", held["held_uri"]]) == 0
    message_id = re.search(r"retrain message (\S+)", capsys.readouterr().out).group(1)
    assert wait_event(stack, "train", 120, event="train.override", message_id=message_id)["override"] == "accept"
    finished = wait_for(lambda: next((e for e in function_events(stack, "train", message_id=message_id)
                                      if e["event"] in ("train.finished", "train.promotion_refused")), None),
                        300, f"the accepted rewrite's training (message {message_id})", 0.5)
    assert finished["event"] == "train.finished" and finished["status"] == "trained", finished
    version = str(finished["model_version"])
    after = wait_for(lambda: (lambda t: t if t and t["model"]["version"] == version else None)(
        served_track_record(stack.service_url)), 120, f"version {version} serving its track record", 0.3)

    def scores(document: dict) -> dict:
        return {(p["forecast_date"], p["target_date"], p["horizon"]): p for p in document["points"]
                if p["forecast_date"] == scored_champion.forecast_date}

    before_points, after_points = scores(record), scores(after)
    assert before_points and set(before_points) <= set(after_points)
    for key, point in before_points.items():
        again = after_points[key]
        assert (again["actual"], again["abs_error"]) == (point["actual"], point["abs_error"]), "not rescored"
        assert again["abs_error"] > 0 and again["revised_actual"] == pytest.approx(promised[key[1]])
    assert sum(p["revised_actual"] is not None for p in after["points"]) >= len(before_points)
    assert all(row["mae_ratio"] != 0 for row in after["summary"] if row["mae_ratio"] is not None)
