"""Upserting uploads into the curated dataset, its canonical CSV, and the daily training frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gasforecast.ingestion.dataset import curated_to_bytes, read_curated, training_frame, upsert

TARGET = "uk_gas_price"
NAN = np.nan


def frame(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """{date: {column: value}} → a date-indexed float frame like the validator returns."""
    result = pd.DataFrame.from_dict(rows, orient="index").astype("float64")
    result.index = pd.DatetimeIndex(pd.to_datetime(result.index), name="date")
    return result.sort_index()


def daily(start: str, values: list[float], **drivers: list[float]) -> pd.DataFrame:
    index = pd.date_range(start, periods=len(values), freq="D", name="date")
    return pd.DataFrame({TARGET: values, **drivers}, index=index, dtype="float64")


def test_first_upload_becomes_the_curated_dataset() -> None:
    incoming = frame({"2024-01-03": {"hdd": 4, TARGET: 81}, "2024-01-02": {"hdd": 3, TARGET: 80.5}})
    merged, report = upsert(None, incoming, TARGET)
    assert list(merged.columns) == [TARGET, "hdd"]
    assert merged.loc["2024-01-02", TARGET] == 80.5
    assert report.to_dict() == {"rows_added": 2, "rows_updated": 0, "cells_revised": 0, "cells_filled": 0,
                                "columns_added": [TARGET, "hdd"], "first_date": "2024-01-02",
                                "last_date": "2024-01-03", "total_rows": 2}


def test_new_values_win_and_empty_cells_never_erase() -> None:
    curated = frame({"2024-01-02": {TARGET: 80.5, "hdd": 3}, "2024-01-03": {TARGET: 81, "hdd": NAN},
                     "2024-01-04": {TARGET: 82, "hdd": 5}})
    incoming = frame({"2024-01-03": {TARGET: 81.5, "hdd": 4}, "2024-01-04": {TARGET: NAN, "hdd": 5},
                      "2024-01-05": {TARGET: 83, "hdd": NAN}})
    merged, report = upsert(curated, incoming, TARGET)
    expected = frame({"2024-01-02": {TARGET: 80.5, "hdd": 3}, "2024-01-03": {TARGET: 81.5, "hdd": 4},
                      "2024-01-04": {TARGET: 82, "hdd": 5}, "2024-01-05": {TARGET: 83, "hdd": NAN}})
    pd.testing.assert_frame_equal(merged, expected, check_freq=False)
    assert (report.rows_added, report.rows_updated, report.cells_revised, report.cells_filled) == (1, 1, 1, 1)
    assert report.columns_added == [] and report.total_rows == 4


def test_new_columns_are_added_after_existing_ones_and_fill_old_rows() -> None:
    curated = frame({"2024-01-02": {TARGET: 80.5, "hdd": 3}, "2024-01-03": {TARGET: 81, "hdd": 4}})
    incoming = frame({"2024-01-03": {"brent_price": 77, TARGET: 81}})
    merged, report = upsert(curated, incoming, TARGET)
    assert list(merged.columns) == [TARGET, "hdd", "brent_price"]
    assert np.isnan(merged.loc["2024-01-02", "brent_price"]) and merged.loc["2024-01-03", "brent_price"] == 77
    assert report.columns_added == ["brent_price"]
    assert (report.rows_added, report.rows_updated, report.cells_revised, report.cells_filled) == (0, 1, 0, 1)


def test_same_upload_twice_changes_nothing_the_second_time() -> None:
    incoming = frame({"2024-01-02": {TARGET: 80.5, "hdd": NAN}, "2024-01-03": {TARGET: 81, "hdd": 2}})
    once, _ = upsert(None, incoming, TARGET)
    twice, report = upsert(once, incoming, TARGET)
    pd.testing.assert_frame_equal(once, twice)
    assert (report.rows_added, report.rows_updated, report.cells_revised, report.cells_filled) == (0, 0, 0, 0)


def test_rows_and_columns_without_values_are_not_added() -> None:
    curated = frame({"2024-01-02": {TARGET: 80.5}})
    incoming = frame({"2024-01-03": {TARGET: NAN, "hdd": NAN}, "2024-01-04": {TARGET: 82, "hdd": NAN}})
    merged, report = upsert(curated, incoming, TARGET)
    assert list(merged.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-04"]
    assert list(merged.columns) == [TARGET] and report.columns_added == []


def test_duplicate_incoming_dates_are_refused() -> None:
    incoming = pd.DataFrame({TARGET: [1.0, 2.0]}, index=pd.DatetimeIndex(["2024-01-02"] * 2, name="date"))
    with pytest.raises(ValueError, match="unique"):
        upsert(None, incoming, TARGET)


def test_curated_csv_round_trips_exactly_in_canonical_form() -> None:
    values = frame({"2024-01-03": {TARGET: 0.1 + 0.2, "hdd": NAN}, "2024-01-02": {TARGET: 80.123456789, "hdd": 3}})
    data = curated_to_bytes(values)
    assert data.decode().splitlines()[:2] == ["date,uk_gas_price,hdd", "2024-01-02,80.123456789,3.0"]
    pd.testing.assert_frame_equal(read_curated(data), values)
    assert curated_to_bytes(read_curated(data)) == data


def test_read_curated_of_nothing_is_an_empty_frame() -> None:
    empty = read_curated(b"")
    assert empty.empty and empty.index.name == "date"
    merged, report = upsert(empty, frame({"2024-01-02": {TARGET: 80.5}}), TARGET)
    assert report.rows_added == 1 and list(merged.columns) == [TARGET]


def test_a_business_day_series_gets_a_business_day_frame_with_holidays_carried_forward() -> None:
    business = frame({"2024-01-05": {TARGET: 80, "hdd": 3}, "2024-01-08": {TARGET: 81, "hdd": NAN},
                      "2024-01-12": {TARGET: 82, "hdd": NAN}, "2024-01-13": {"hdd": 9},
                      "2024-01-19": {TARGET: 83, "hdd": 5}})
    result, report = training_frame(business, TARGET, declared_lags={"hdd": 0})  # the fill rules, not the lag
    assert report.calendar == "business"
    assert list(result.index) == list(pd.bdate_range("2024-01-05", "2024-01-19"))  # no Saturday/Sunday rows
    assert result[TARGET].tolist() == [80, 81, 81, 81, 81, 82, 82, 82, 82, 82, 83]
    assert report.gaps_filled == 7 and report.filled_dates[:2] == ["2024-01-09", "2024-01-10"]
    # hdd: 01-08..01-18 is one gap of nine business days (its Saturday value is dropped): it stays missing.
    assert result["hdd"].isna().sum() == 9 and report.driver_cells_filled == 0
    assert (report.start, report.end, report.rows, report.long_gaps) == ("2024-01-05", "2024-01-19", 11, [])


def test_a_series_observed_on_weekends_gets_a_calendar_daily_frame() -> None:
    days = pd.date_range("2024-01-01", "2024-01-31", freq="D")
    observed = days[days != pd.Timestamp("2024-01-10")]  # one missing Wednesday
    spot = pd.DataFrame({TARGET: np.arange(len(observed), dtype=float) + 50}, index=observed.rename("date"))
    result, report = training_frame(spot, TARGET)
    assert report.calendar == "daily" and list(result.index) == list(days)
    assert report.filled_dates == ["2024-01-10"] and result.loc["2024-01-10", TARGET] == 58.0


def test_a_few_weekend_values_do_not_make_a_business_series_daily() -> None:
    dates = pd.bdate_range("2023-01-02", periods=300).append(pd.DatetimeIndex(["2023-06-03"])).sort_values()
    series = pd.DataFrame({TARGET: np.linspace(60, 70, len(dates))}, index=dates.rename("date"))
    result, report = training_frame(series, TARGET)
    assert report.calendar == "business" and not (result.index.day_of_week >= 5).any()
    assert "weekend" in report.notes[0]


def test_training_frame_reports_long_target_gaps_and_keeps_the_recent_stretch() -> None:
    old = daily("2022-01-01", list(np.linspace(50, 60, 400)))
    recent = daily("2023-03-01", list(np.linspace(70, 80, 400)))
    result, report = training_frame(pd.concat([old, recent]), TARGET)
    assert report.long_gaps == [{"start": "2023-02-05", "end": "2023-02-28", "days": 24}]
    assert (report.stretch, report.start, report.end) == ("recent", "2023-03-01", "2024-04-03")
    assert result.index[0] == pd.Timestamp("2023-03-01") and len(result) == 400 == report.rows
    assert report.dropped_rows == 424 and not result[TARGET].isna().any()


def test_training_frame_falls_back_to_the_longest_stretch_when_the_recent_one_is_short() -> None:
    old = daily("2022-01-01", [60.0] * 500)
    recent = daily("2023-07-01", [70.0] * 30)
    result, report = training_frame(pd.concat([old, recent]), TARGET, min_recent_days=365)
    assert (report.stretch, report.start, report.end, report.rows) == ("longest", "2022-01-01", "2023-05-15", 500)
    assert report.notes and "365 rows" in report.notes[0]
    result_short_ok, report_short_ok = training_frame(pd.concat([old, recent]), TARGET, min_recent_days=30)
    assert report_short_ok.stretch == "recent" and len(result_short_ok) == 30


def test_training_frame_carries_drivers_up_to_the_limit_only() -> None:
    hdd = [1.0, NAN, NAN, NAN, NAN, 2.0, NAN, NAN, NAN, NAN, NAN, 3.0]
    curated = daily("2024-01-01", [80.0] * 12, hdd=hdd)
    result, report = training_frame(curated, TARGET, declared_lags={"hdd": 0})  # the fill rules, not the lag
    assert result["hdd"].tolist()[:6] == [1.0, 1.0, 1.0, 1.0, 1.0, 2.0]
    assert result["hdd"].iloc[6:11].isna().all() and report.driver_cells_filled == 4


def test_training_frame_spans_only_target_observations() -> None:
    curated = daily("2024-01-01", [NAN, 80.0, 81.0, NAN], hdd=[1.0, 2.0, 3.0, 4.0])
    result, _ = training_frame(curated, TARGET)
    assert list(result.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    with pytest.raises(ValueError, match="no values"):
        training_frame(daily("2024-01-01", [NAN, NAN]), TARGET)


def test_training_reads_only_the_trailing_years_the_setting_allows() -> None:
    """A history back to 2000 costs training four times a decade's; MAX_TRAINING_YEARS bounds what it reads."""
    days = pd.date_range("2000-01-01", "2025-12-31", freq="D")
    curated = pd.DataFrame({"uk_gas_price": np.linspace(20.0, 120.0, len(days))}, index=days.rename("date"))
    whole, whole_report = training_frame(curated, "uk_gas_price")
    assert whole.index[0] == pd.Timestamp("2000-01-01") and whole_report.notes == []
    recent, report = training_frame(curated, "uk_gas_price", max_years=10)
    assert recent.index[-1] == pd.Timestamp("2025-12-31")
    assert recent.index[0] == pd.Timestamp("2025-12-31") - pd.Timedelta(days=3652)
    assert report.start == "2016-01-01" and report.rows == len(recent) == 3653
    older = len(whole) - len(recent)
    assert any(f"last 10 years (MAX_TRAINING_YEARS): {older} older row(s)" in note for note in report.notes)
    assert curated.index[0] == pd.Timestamp("2000-01-01")  # nothing is removed from the curated dataset
    short, short_report = training_frame(curated.loc["2020-01-01":], "uk_gas_price", max_years=10)
    assert short.index[0] == pd.Timestamp("2020-01-01") and short_report.notes == []  # shorter: all of it
