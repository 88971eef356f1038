"""Revisions judged as revisions (issue 20): changing curated values is compared with what was there.

The rule on its own (`judge_revisions`), then through ingest on the in-memory lane: a whole-history
rescale is held and nothing merged; ordinary corrections, appends and the correction of an accepted
spike pass; an explicit accept merges a held revision and records what it overrode.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from gasforecast.ingestion import ingest
from gasforecast.ingestion.dataset import read_curated
from gasforecast.ingestion.revisions import RevisionLimits, judge_revisions
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.upload_names import stored_name
from gasforecast.platform.messaging import parse_retrain_request

HISTORY = synthetic_history(400, start="2024-01-01", seed=5)
TARGET = "uk_gas_price"
LIMITS = RevisionLimits()


def curated() -> pd.DataFrame:
    return read_curated(to_csv_bytes(HISTORY))


def revised(rows: slice, column: str = TARGET, factor: float = 1.0, decimals: int = 3) -> pd.DataFrame:
    """The curated rows `rows` with `column` multiplied by `factor` (what an upload re-sends)."""
    frame = curated().iloc[rows].copy()
    frame[column] = (frame[column] * factor).round(decimals)
    return frame


def rules(findings) -> list[tuple[str, str]]:
    return [(f.column, f.rule) for f in findings]


# ---- the rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [1.4, 10.0, 0.5])
def test_a_whole_history_rescale_breaks_every_rule(factor) -> None:
    findings = judge_revisions(curated(), revised(slice(None), factor=factor), LIMITS)
    assert rules(findings) == [(TARGET, "revision_size"), (TARGET, "revision_breadth"), (TARGET, "revision_age")]
    size = findings[0]
    assert size.revised == size.curated_values == len(HISTORY)
    assert size.median_factor == pytest.approx(factor, rel=1e-3)
    assert size.largest_change == pytest.approx(abs(factor - 1), rel=1e-2)
    assert size.first_date == HISTORY["date"].iloc[0] and len(size.examples) == 5
    assert "change by more than 10%" in size.why


def test_rounding_and_settlement_corrections_are_not_material() -> None:
    assert judge_revisions(curated(), revised(slice(None), factor=1.001), LIMITS) == []
    assert judge_revisions(curated(), revised(slice(None), decimals=1), LIMITS) == []


def test_a_few_recent_corrections_pass_but_many_do_not() -> None:
    assert judge_revisions(curated(), revised(slice(-10, None), factor=1.03), LIMITS) == []
    assert rules(judge_revisions(curated(), revised(slice(-11, None), factor=1.03), LIMITS)) == [
        (TARGET, "revision_breadth")]


def test_one_large_recent_revision_is_held_for_its_size() -> None:
    (finding,) = judge_revisions(curated(), revised(slice(-1, None), factor=1.2), LIMITS)
    assert (finding.rule, finding.revised, finding.last_date) == ("revision_size", 1, HISTORY["date"].iloc[-1])
    assert finding.examples[0]["curated"] == HISTORY[TARGET].iloc[-1]


def test_an_old_value_is_not_revised_quietly() -> None:
    assert rules(judge_revisions(curated(), revised(slice(-60, -59), factor=1.03), LIMITS)) == [
        (TARGET, "revision_age")]
    assert judge_revisions(curated(), revised(slice(-20, -19), factor=1.03), LIMITS) == []


def test_a_small_history_allows_a_proportionate_share() -> None:
    small = curated().iloc[:40]
    limits = dataclasses.replace(LIMITS, max_age_days=365)
    assert LIMITS.breadth_limit(40) == 2 and LIMITS.breadth_limit(10) == 1 and LIMITS.breadth_limit(10_000) == 10
    assert judge_revisions(small, revised(slice(38, 40), factor=1.03), limits) == []
    assert rules(judge_revisions(small, revised(slice(37, 40), factor=1.03), limits)) == [(TARGET, "revision_breadth")]


def test_appends_and_filled_cells_are_not_revisions() -> None:
    base = curated()
    base.iloc[-3:, base.columns.get_loc("hdd")] = float("nan")
    upload = curated().iloc[-3:].copy()  # fills the three hdd cells
    upload["new_driver"] = 1.0  # and adds a column
    assert judge_revisions(base, upload, LIMITS) == []
    assert judge_revisions(None, upload, LIMITS) == []


def test_a_column_near_zero_is_judged_on_its_typical_magnitude() -> None:
    base = curated()
    day = base["hdd"].ne(0).idxmax()
    upload = base.loc[[day]].copy()
    upload["hdd"] = base.loc[day, "hdd"] + 0.3  # +0.3 degree-days, small against the column's typical size
    assert (base["hdd"] == 0).any() and base["hdd"].abs().median() > 3
    assert judge_revisions(base.loc[:day], upload, LIMITS) == []


def test_the_correction_of_an_accepted_spike_is_not_held() -> None:
    base = curated()
    spike_day = base.index[-5]
    genuine = base.loc[spike_day, TARGET]
    base.loc[spike_day, TARGET] = genuine * 6  # accepted earlier by an operator
    correction = curated().iloc[-5:-4]
    assert judge_revisions(base, correction, LIMITS) == []
    wrong_way = correction * 1.5  # "correcting" it to another implausible level is still a revision
    assert judge_revisions(base, wrong_way, LIMITS) != []


def test_the_limits_are_the_settings() -> None:
    from gasforecast.platform.config import load_settings

    settings = load_settings({"REVISION_MAX_CHANGE": "0.5", "REVISION_MAX_CELLS": "1000", "REVISION_MAX_SHARE": "1",
                              "REVISION_MAX_AGE_DAYS": "100000", "REVISION_TOLERANCE": "0.01"})
    assert RevisionLimits.from_settings(settings) == RevisionLimits(0.5, 0.01, 1000, 1.0, 100000)
    assert judge_revisions(curated(), revised(slice(None), factor=1.4), RevisionLimits.from_settings(settings)) == []
    with pytest.raises(ValueError, match="REVISION_"):
        load_settings({"REVISION_MAX_CELLS": "0"})


# ---- through ingest ---------------------------------------------------------------------------

@pytest.fixture
def based(lane):
    assert lane.ingest("base.csv", to_csv_bytes(HISTORY)).status == "accepted"
    return lane


@pytest.mark.parametrize("factor", [1.4, 10.0])
def test_a_rescaled_history_is_held_and_nothing_is_merged_or_published(based, factor) -> None:
    lane = based
    before, generation = lane.curated()
    upload = HISTORY.copy()
    upload[TARGET] = (upload[TARGET] * factor).round(3)
    outcome = lane.ingest("restated.csv", to_csv_bytes(upload))

    assert outcome.status == "held"
    assert lane.curated()[1] == generation, "nothing merged"
    assert len(lane.messages()) == 1, "no retrain asked for"
    report = lane.report("held", outcome)
    assert report["suspicious"] == [], "plausibility alone finds nothing in a rescale"
    assert [r["rule"] for r in report["revisions"]] == ["revision_size", "revision_breadth", "revision_age"]
    assert report["revisions"][0]["median_factor"] == pytest.approx(factor, rel=1e-3)
    assert all(r["hint"] and r["why"] for r in report["revisions"])
    held = stored_name("held", "restated.csv", outcome.generation)
    assert report["accept"]["command"] == f"gasforecast accept gs://{lane.settings.data_bucket}/{held}"


def test_an_accepted_revision_is_merged_and_records_what_it_overrode(based) -> None:
    lane = based
    upload = HISTORY.copy()
    upload[TARGET] = (upload[TARGET] * 1.4).round(3)
    held = lane.ingest("restated.csv", to_csv_bytes(upload))
    outcome = ingest.accept_held(lane.settings, lane.data, lane.publisher,
                                 stored_name("held", "restated.csv", held.generation))
    assert outcome.status == "accepted" and outcome.report["merge"]["cells_revised"] == len(HISTORY)
    override = lane.report("archive", outcome)["override"]
    assert override["skipped"] == ["plausibility", "revisions"]
    assert [r["rule"] for r in override["revisions"]] == ["revision_size", "revision_breadth", "revision_age"]
    assert len(lane.messages()) == 2
    request = parse_retrain_request(lane.messages()[-1].data)
    assert (request.override, request.source) == ("accept", f"gs://{lane.settings.uploads_bucket}/restated.csv")
    assert parse_retrain_request(lane.messages()[0].data).override is None, "an ordinary upload overrides nothing"


def test_daily_increments_with_small_corrections_flow_through(based) -> None:
    lane = based
    more = synthetic_history(410, start="2024-01-01", seed=5).iloc[395:]
    more.loc[more.index[:3], TARGET] = (more[TARGET].iloc[:3] * 1.02).round(3)  # three recent corrections
    outcome = lane.ingest("increment.csv", to_csv_bytes(more))
    assert outcome.status == "accepted"
    assert (outcome.report["merge"]["rows_added"], outcome.report["merge"]["cells_revised"]) == (10, 3)


def test_an_accepted_spike_can_be_corrected_by_an_upload(based) -> None:
    lane = based
    spiked = HISTORY.iloc[-10:].copy()
    spiked.loc[spiked.index[5], TARGET] *= 6
    held = lane.ingest("spike.csv", to_csv_bytes(spiked))
    ingest.accept_held(lane.settings, lane.data, lane.publisher, stored_name("held", "spike.csv", held.generation))
    correction = lane.ingest("correction.csv", to_csv_bytes(HISTORY.iloc[-10:]))
    assert correction.status == "accepted" and correction.report["merge"]["cells_revised"] == 1
    assert lane.curated()[0][TARGET].iloc[-5] == HISTORY[TARGET].iloc[-5]
