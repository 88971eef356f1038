"""Scoring served forecasts against realised prices: matured points, naive errors, aggregates, alerts."""

from __future__ import annotations

import copy
import json
import logging
from datetime import date, timedelta

import pandas as pd
import pytest
from trackrecord_fakes import business_days_after, daily_after, events, served_bundle

from gasforecast.publication.documents import Aggregate, SummaryRow, TrackRecordDocument
from gasforecast.scoring.ledger import ledger_entry, record_served_forecast
from gasforecast.scoring.track_record import (
    THRESHOLDS,
    aggregate,
    assess,
    build_document,
    score_entries,
    score_served_forecasts,
    summarise,
)
from tests.fakes import MemoryBucket

ORIGIN = date(2025, 1, 10)  # a Friday


def validate_document(document: dict) -> TrackRecordDocument:
    """A track record as the service reads it back: from its JSON text (ValueError when malformed)."""
    return TrackRecordDocument.model_validate_json(json.dumps(document))


def _entry(version="1", origin=ORIGIN, value=100.0, **options):
    return ledger_entry(served_bundle(version, origin, value, **options), f"key-{version}")


def _prices(days, values) -> dict[str, float]:
    return {d.isoformat(): float(v) for d, v in zip(days, values, strict=True)}


def test_only_matured_points_are_scored():
    actuals = _prices(daily_after(ORIGIN, 10), [101.0] * 10)  # prices for the first 10 days only
    scored = score_entries([_entry()], actuals, (1, 7, 14, 30), "uk_gas_price")
    assert [(p.horizon, p.target_date) for p in scored] == [(1, "2025-01-11"), (7, "2025-01-17")]


def test_each_point_carries_its_error_the_naive_error_and_the_band_verdicts():
    entry = _entry(value=100.0, mean=104.0, half_80=2.0, half_95=4.5)
    actuals = _prices(daily_after(ORIGIN, 7), [107.0, 0, 0, 0, 0, 0, 102.5])
    one, seven = score_entries([entry], actuals, (1, 7), "uk_gas_price")
    assert (one.abs_error, one.naive_abs_error, one.inside_80, one.inside_95, one.closer_than_naive) \
        == (3.0, 7.0, False, True, True)
    assert (seven.abs_error, seven.naive_abs_error, seven.inside_80, seven.closer_than_naive) \
        == (1.5, 2.5, True, True)
    assert (seven.forecast_date, seven.model_version, seven.run_id, seven.naive) == ("2025-01-10", "1", "run1", 100.0)


def test_the_naive_forecast_is_the_price_known_at_the_origin_not_a_later_revision():
    actuals = {ORIGIN.isoformat(): 90.0, **_prices(daily_after(ORIGIN, 1), [101.0])}  # origin price revised later
    (point,) = score_entries([_entry(value=100.0)], actuals, (1,), "uk_gas_price")
    assert point.naive == 100.0 and point.naive_abs_error == 1.0


def test_business_day_forecasts_count_steps_in_trading_days_and_skip_unobserved_days():
    entry = _entry(calendar="business", steps=10)
    trading = business_days_after(ORIGIN, 10)
    holiday = trading[6]  # the 7th trading day has no price (a holiday)
    actuals = _prices([d for d in trading if d != holiday], [101.0] * 9)
    actuals["2025-01-11"] = 999.0  # a Saturday price is never a forecast target
    scored = score_entries([entry], actuals, range(1, 11), "uk_gas_price")
    assert [p.horizon for p in scored] == [1, 2, 3, 4, 5, 6, 8, 9, 10]
    assert scored[4].target_date == "2025-01-17" and scored[5].target_date == "2025-01-20"  # Fri, then Mon
    assert all(p.actual == 101.0 for p in scored)


def test_a_forced_retrain_from_the_same_origin_is_scored_once_with_the_later_version():
    actuals = _prices(daily_after(ORIGIN, 1), [101.0])
    scored = score_entries([_entry("4", mean=90.0), _entry("5", mean=100.5)], actuals, (1,), "uk_gas_price")
    assert [(p.model_version, p.mean) for p in scored] == [("5", 100.5)]


def test_forecasts_of_another_target_are_ignored():
    actuals = _prices(daily_after(ORIGIN, 1), [101.0])
    assert score_entries([_entry(target="ttf_price")], actuals, (1,), "uk_gas_price") == []


def _history(first: date, values) -> dict[str, float]:
    return _prices([first + timedelta(days=i) for i in range(len(values))], values)


def test_windows_hold_the_most_recent_matured_points_of_each_horizon():
    first = date(2024, 1, 1)
    entries = [_entry(str(i + 1), first + timedelta(days=i), 100.0, mean=100.0 + (i >= 70)) for i in range(100)]
    actuals = _history(first, [100.0] * 101)  # flat: early forecasts exact, the last 30 one unit off
    summary = summarise(score_entries(entries, actuals, (1,), "uk_gas_price"), (1,))
    rows = {row.window: row for row in summary}
    assert (rows["all"].points, rows["last_90"].points, rows["last_30"].points) == (100, 90, 30)
    assert rows["last_30"].mae == 1.0 and rows["last_90"].mae == pytest.approx(30 / 90, abs=1e-6)
    assert rows["last_30"].naive_mae == 0.0 and rows["last_30"].mae_ratio is None  # no division by zero


def test_aggregate_of_nothing_is_empty_not_zero():
    assert aggregate([]) == Aggregate(points=0, mae=None, naive_mae=None, mae_ratio=None, closer_than_naive=None,
                                      coverage_80=None, coverage_95=None)


def _row(points=30, mae_ratio=1.0, coverage_80=0.8, coverage_95=0.95, horizon=30, window="last_30"):
    return SummaryRow(horizon=horizon, window=window, points=points, mae=None, naive_mae=None, mae_ratio=mae_ratio,
                      closer_than_naive=None, coverage_80=coverage_80, coverage_95=coverage_95)


@pytest.mark.parametrize("row, status, measures", [
    (_row(), "ok", []),
    (_row(mae_ratio=1.3), "degraded", ["mae_ratio"]),
    (_row(coverage_80=0.5, coverage_95=0.7), "degraded", ["coverage_80", "coverage_95"]),
    (_row(mae_ratio=1.3, window="all"), "too_few_points", []),  # only the last-30 window is judged
    (_row(points=THRESHOLDS.min_points - 1, mae_ratio=3.0), "too_few_points", []),
    (_row(points=0, mae_ratio=None, coverage_80=None, coverage_95=None), "no_scores", []),
])
def test_thresholds_judge_the_last_30_points_once_there_are_enough(row, status, measures):
    got_status, breaches = assess([row])
    assert got_status == status and [b.measure for b in breaches] == measures


def _curated(prices: dict[str, float]) -> pd.DataFrame:
    frame = pd.DataFrame({"uk_gas_price": list(prices.values()), "hdd": 1.0},
                         index=pd.DatetimeIndex(pd.to_datetime(list(prices)), name="date"))
    return frame


def test_a_first_champion_is_scored_after_the_series_continues_by_30_days():
    """The done-when scenario on the fakes: a first champion, then an upload 30 days further."""
    bucket = MemoryBucket()
    record_served_forecast(bucket, served_bundle("1", ORIGIN, 100.0), "gen1-key")
    curated = _curated(_history(ORIGIN - timedelta(days=5), [100.0] * 5 + [100.0 + 0.1 * i for i in range(31)]))
    document = score_served_forecasts(bucket, curated, target="uk_gas_price", unit="pence/therm", horizons=(1, 7, 14, 30))
    assert {(p.horizon, p.model_version) for p in document.points} == {(1, "1"), (7, "1"), (14, "1"), (30, "1")}
    assert document.forecasts == 1 and document.data_through == "2025-02-09" and document.status == "too_few_points"
    assert validate_document(document.to_json_dict()) == document


def test_a_degraded_record_logs_a_structured_warning(caplog):
    bucket = MemoryBucket()
    first = date(2024, 6, 1)
    for i in range(40):  # forecasts that always say 110 while the price stays at 100: far worse than no change
        record_served_forecast(bucket, served_bundle(str(i + 1), first + timedelta(days=i), 100.0, mean=110.0), None)
    curated = _curated(_history(first, [100.0] * 80))
    with caplog.at_level(logging.INFO):
        document = score_served_forecasts(bucket, curated, target="uk_gas_price", unit="pence/therm",
                                          horizons=(1, 7), ids={"training_key": "k9"})
    assert document.status == "degraded"
    (warning,) = events(caplog, "track_record.degraded")
    assert warning["training_key"] == "k9"
    assert {(b["horizon"], b["measure"]) for b in warning["breaches"]} == {
        (1, "coverage_80"), (1, "coverage_95"), (7, "coverage_80"), (7, "coverage_95")}
    # naive MAE is 0 here, so the ratio is undefined rather than a breach
    assert events(caplog, "track_record.scored")[0]["status"] == "degraded"


def test_a_document_without_ledger_entries_says_there_are_no_scores():
    document = build_document([], {"2025-01-01": 1.0}, (1, 7), target="uk_gas_price", unit="pence/therm")
    assert document.status == "no_scores" and document.points == [] and len(document.summary) == 6
    assert validate_document(document.to_json_dict()).calendar == "daily"


def _valid_document() -> dict:
    actuals = _prices(daily_after(ORIGIN, 30), [101.0] * 30)
    return build_document([_entry()], actuals, (1, 7, 30), target="uk_gas_price", unit="pence/therm").to_json_dict()


@pytest.mark.parametrize("break_it", [
    lambda d: d.update(schema_version=2),
    lambda d: d.update(status="fine"),
    lambda d: d.update(calendar="lunar"),
    lambda d: d.update(data_through="2025-13-01"),
    lambda d: d["summary"][0].update(mae="1.0"),
    lambda d: d["summary"][0].update(horizon=99),
    lambda d: d["points"][0].update(actual=float("nan")),
    lambda d: d["points"][0].update(inside_80="yes"),
    lambda d: d["points"][0].update(revised_actual=float("inf")),
    lambda d: d["points"][0].pop("model_version"),
    lambda d: d["points"].append("not a point"),
    lambda d: d.update(forecasts=-1),
    lambda d: d["thresholds"].update(mae_ratio_max="high"),
    lambda d: d["breaches"].append({"horizon": 7, "window": "last_30", "measure": "mae_ratio", "value": None,
                                    "threshold": 1.25, "points": 30}),
])
def test_validation_rejects_a_malformed_document(break_it):
    document = _valid_document()
    assert validate_document(copy.deepcopy(document))
    break_it(document)
    with pytest.raises(ValueError):
        validate_document(document)


# ---- the price as first published (issue 20) ---------------------------------------------------------

def _scored(document) -> list[tuple]:
    return [(p.target_date, p.horizon, p.actual, p.abs_error) for p in document.points]


def test_revising_matured_prices_to_the_forecast_means_does_not_rescore_the_past(caplog):
    """The attack of issue 20: the 30 matured prices revised to the ledger's own means gave an error
    ratio of 0.0. The score stays on the first published prices and shows each revision beside it."""
    bucket = MemoryBucket()
    record_served_forecast(bucket, served_bundle("1", ORIGIN, 100.0, mean=104.0), "gen1-key")
    prices = [100.0] * 5 + [100.0 + 0.1 * i for i in range(31)]
    honest = score_served_forecasts(bucket, _curated(_history(ORIGIN - timedelta(days=5), prices)),
                                    target="uk_gas_price", unit="pence/therm", horizons=(1, 7, 14, 30))
    assert honest.revised_points == 0 and all(p.revised_actual is None for p in honest.points)

    rewritten = prices[:6] + [104.0] * 30  # every matured price set to the forecast's mean
    with caplog.at_level(logging.INFO):
        after = score_served_forecasts(bucket, _curated(_history(ORIGIN - timedelta(days=5), rewritten)),
                                       target="uk_gas_price", unit="pence/therm", horizons=(1, 7, 14, 30))
    assert _scored(after) == _scored(honest) and after.summary == honest.summary, "the past is not rescored"
    assert all(p.abs_error > 0 for p in after.points)
    assert [p.revised_actual for p in after.points] == [104.0] * 4
    assert after.revised_points == 4 and after.actuals == "first_published"
    assert events(caplog, "track_record.scored")[-1]["revised_points"] == 4
    assert validate_document(after.to_json_dict()) == after


def test_first_prices_are_recorded_once_and_never_rewritten():
    from gasforecast.scoring.ledger import FIRST_PRICES_PREFIX, read_first_prices, record_first_prices

    bucket = MemoryBucket()
    first = record_first_prices(bucket, {"2025-01-01": 10.0, "2025-01-02": 11.0}, "uk_gas_price")
    assert first == {"2025-01-01": 10.0, "2025-01-02": 11.0}
    again = record_first_prices(bucket, {"2025-01-01": 99.0, "2025-01-02": 11.0, "2025-01-03": 12.0}, "uk_gas_price")
    assert again == {"2025-01-01": 10.0, "2025-01-02": 11.0, "2025-01-03": 12.0}
    assert record_first_prices(bucket, {"2025-01-01": 98.0}, "uk_gas_price")["2025-01-01"] == 10.0
    names = bucket.list_names(FIRST_PRICES_PREFIX)
    assert len(names) == 2 and bucket.writes.count(names[0]) == 1, "create-only, one object per new batch"
    assert read_first_prices(bucket, "another_target") == {}
    bucket.write(f"{FIRST_PRICES_PREFIX}broken.json", b"{not json")
    assert read_first_prices(bucket, "uk_gas_price") == again, "an unreadable object is skipped"


def test_a_record_from_before_first_prices_is_read_as_unrevised():
    document = _valid_document()
    for point in document["points"]:
        del point["revised_actual"]
    del document["revised_points"], document["actuals"]
    assert all(p.revised_actual is None for p in validate_document(document).points)
