"""Forecast dates follow the series' market calendar: a business-day series skips weekends and the
holidays its own history shows; a calendar-daily series keeps every day (docs/model.md#calendar)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gasforecast.cli import main
from gasforecast.ingestion.dataset import training_frame
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.ingestion.series_calendar import (
    BUSINESS,
    DAILY,
    NO_HOLIDAYS,
    SUBSTITUTE,
    MarketHolidays,
    extended_index,
    future_dates,
    learn_holidays,
)

# England's bank holidays 2019–2024 as published (gov.uk), written out by hand rather than computed
# from the rules under test, with the one-off closures of 2020 (VE day moved) and 2022–2023.
UK_BANK_HOLIDAYS = ["2019-01-01", "2019-04-19", "2019-04-22", "2019-05-06", "2019-05-27", "2019-08-26", "2019-12-25", "2019-12-26", "2020-01-01", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-08-31", "2020-12-25", "2020-12-28", "2021-01-01", "2021-04-02", "2021-04-05", "2021-05-03", "2021-05-31", "2021-08-30", "2021-12-27", "2021-12-28", "2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03", "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27", "2023-01-02", "2023-04-07", "2023-04-10", "2023-05-01", "2023-05-08", "2023-05-29", "2023-08-28", "2023-12-25", "2023-12-26", "2024-01-01", "2024-03-29", "2024-04-01", "2024-05-06", "2024-05-27", "2024-08-26", "2024-12-25", "2024-12-26"]
UK_RULES = ["1 Jan", "Easter -2", "Easter +1", "1st Mon of May", "last Mon of May", "last Mon of Aug",
            "25 Dec", "26 Dec", SUBSTITUTE]


def trading_days(start: str, end: str, closed: list[str]) -> pd.DatetimeIndex:
    return pd.bdate_range(start, end).difference(pd.DatetimeIndex(closed))


@pytest.fixture(scope="module")
def uk_market() -> MarketHolidays:
    return learn_holidays(trading_days("2019-01-01", "2024-12-31", UK_BANK_HOLIDAYS))


def test_the_holidays_a_history_skips_every_year_are_learned_and_one_off_closures_are_not(uk_market):
    assert uk_market.describe() == UK_RULES
    missed = {pd.Timestamp(day) for day in UK_BANK_HOLIDAYS} - uk_market.between(pd.Timestamp("2019-01-01"),
                                                                                  pd.Timestamp("2024-12-31"))
    assert missed == {pd.Timestamp(day) for day in ("2020-05-08", "2022-06-02", "2022-06-03", "2022-09-19",
                                                    "2023-05-08")}


def test_business_day_forecast_dates_skip_weekends_and_the_markets_holidays(uk_market):
    # Friday 18 Dec 2026: Christmas Day is a Friday, Boxing Day a Saturday (substitute Monday 28 Dec),
    # New Year's Day a Friday; Easter 2027 is 28 March.
    dates = future_dates(pd.Timestamp("2026-12-18"), 80, BUSINESS, uk_market)
    assert len(dates) == 80 and dates.is_monotonic_increasing and dates.is_unique
    assert not (dates.day_of_week >= 5).any()
    closed = pd.DatetimeIndex(["2026-12-25", "2026-12-28", "2027-01-01", "2027-03-26", "2027-03-29"])
    assert not dates.isin(closed).any()
    assert list(dates[:6].strftime("%Y-%m-%d")) == ["2026-12-21", "2026-12-22", "2026-12-23", "2026-12-24",
                                                   "2026-12-29", "2026-12-30"]
    expected = pd.bdate_range("2026-12-21", dates[-1]).difference(closed)
    assert dates.equals(expected.rename("date"))  # every trading day in between is a step


def test_calendar_daily_series_keep_every_day_whatever_holidays_are_known(uk_market):
    dates = future_dates(pd.Timestamp("2026-12-18"), 30, DAILY, uk_market)
    assert dates.equals(pd.date_range("2026-12-19", periods=30, freq="D", name="date"))
    index = pd.date_range("2026-11-01", "2026-12-18", freq="D", name="date")
    assert extended_index(index, 30, DAILY, uk_market)[-30:].equals(dates)


def test_without_holidays_business_dates_are_every_weekday():
    dates = future_dates(pd.Timestamp("2026-12-18"), 10, BUSINESS)
    assert dates.equals(pd.bdate_range("2026-12-21", periods=10, name="date"))


def test_a_long_horizon_over_several_holiday_seasons_still_has_every_step(uk_market):
    dates = future_dates(pd.Timestamp("2026-12-18"), 800, BUSINESS, uk_market)
    assert len(dates) == 800 and not dates.isin(list(uk_market.between(dates[0], dates[-1]))).any()


def test_gaps_that_do_not_repeat_teach_nothing():
    outage = pd.bdate_range("2022-03-01", "2022-03-25").strftime("%Y-%m-%d").tolist()
    assert learn_holidays(trading_days("2021-01-04", "2024-06-28", outage)) == NO_HOLIDAYS
    assert learn_holidays(pd.DatetimeIndex([])) == NO_HOLIDAYS
    # one Christmas in the history is no evidence of a yearly holiday
    assert learn_holidays(trading_days("2023-06-01", "2024-06-28", ["2023-12-25", "2023-12-26"])) == NO_HOLIDAYS


def test_stored_holiday_lists_round_trip_and_anything_else_is_refused(uk_market):
    assert MarketHolidays.from_list(uk_market.describe()) == uk_market
    for hostile in (["25 Dec; rm -rf /"], ["Easter +x"], ["6th Mon of May"], ["31 Feb"], ["Easter +400"]):
        with pytest.raises(ValueError):
            MarketHolidays.from_list(hostile)


def business_history_without(closed: list[str], end: str) -> pd.DataFrame:
    days = len(pd.date_range("2019-01-01", end))
    sample = synthetic_history(days, start="2019-01-01", seed=4, business_days_only=True)
    return sample[~sample["date"].isin(closed)]


def test_training_frame_keeps_holiday_rows_but_reports_the_holidays():
    closed = [day for day in UK_BANK_HOLIDAYS if day < "2024-12-20"]
    curated = business_history_without(closed, "2024-12-20").set_index("date")
    curated.index = pd.DatetimeIndex(curated.index, name="date")
    frame, prep = training_frame(curated, "uk_gas_price")
    assert prep.calendar == BUSINESS and prep.holidays == UK_RULES
    assert pd.Timestamp("2023-12-25") in frame.index  # carried forward: the model's rows stay regular
    assert training_frame(curated.asfreq("D").ffill(), "uk_gas_price")[1].holidays == []  # calendar-daily


def test_cli_forecast_on_a_business_history_skips_its_holidays(tmp_path, capsys):
    closed = [day for day in UK_BANK_HOLIDAYS if day < "2024-12-20"]
    path = tmp_path / "trading-days.csv"
    path.write_bytes(to_csv_bytes(business_history_without(closed, "2024-12-20")))
    assert main(["forecast", "--csv", str(path), "--horizon", "10", "--horizons", "1,5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    dates = [point["date"] for point in result["points"]]
    assert dates[:5] == ["2024-12-23", "2024-12-24", "2024-12-27", "2024-12-30", "2024-12-31"]
    assert "2025-01-01" not in dates and len(dates) == 10
    assert result["calendar"] == BUSINESS and result["holidays"] == UK_RULES
