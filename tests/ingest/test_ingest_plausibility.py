"""The plausibility rule: typing slips are caught, genuine market moves and ordinary drivers are not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gasforecast.ingestion.plausibility import suspicious_cells

DAYS = pd.date_range("2024-01-01", periods=300, freq="D", name="date")


def prices(seed: int = 1, volatility: float = 0.02, start: float = 100.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(start * np.exp(np.cumsum(rng.normal(0, volatility, len(DAYS)))), index=DAYS).round(3)


def frame(**columns: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(columns).astype("float64")


def judge(history: pd.DataFrame, upload: pd.DataFrame) -> list[tuple[str, str, str]]:
    return [(s.column, s.date, s.rule) for s in suspicious_cells(history, upload)]


@pytest.mark.parametrize("factor", [10, 0.1, 5.5])
def test_a_decimal_slip_on_the_newest_day_is_held(factor) -> None:
    series = prices()
    history, upload = frame(p=series.iloc[:-5]), frame(p=series.iloc[-5:])
    upload.iloc[-1, 0] *= factor
    assert judge(history, upload) == [("p", "2024-10-26", "ratio_step")]


def test_a_one_day_spike_that_reverts_is_held_but_the_same_move_that_stays_is_not() -> None:
    series = prices(volatility=0.01)
    history = frame(p=series.iloc[:-10])
    spike = frame(p=series.iloc[-10:])
    spike.iloc[4, 0] *= 2.5
    assert judge(history, spike) == [("p", spike.index[4].strftime("%Y-%m-%d"), "volatility_jump")]
    step = frame(p=series.iloc[-10:])
    step.iloc[4:, 0] *= 2.5
    assert judge(history, step) == []


def test_genuine_market_moves_pass() -> None:
    """A +58 % front-month roll that stays, a ×2 crisis rally over a week, a -45 % collapse."""
    series = prices(volatility=0.03)
    moved = series.copy()
    moved.iloc[200:] *= 1.58
    moved.iloc[240:247] *= np.linspace(1.1, 2.0, 7)
    moved.iloc[247:] *= 2.0
    moved.iloc[280:] *= 0.55
    assert judge(frame(p=moved.iloc[:150]), frame(p=moved.iloc[150:])) == []
    assert judge(None, frame(p=moved)) == []


def test_columns_around_zero_are_judged_on_their_own_scale() -> None:
    rng = np.random.default_rng(4)
    temperature = pd.Series(5 + 6 * np.sin(np.arange(len(DAYS)) / 58) + rng.normal(0, 2, len(DAYS)), index=DAYS)
    hdd = (15.5 - temperature).clip(lower=0)
    flag = pd.Series((np.arange(len(DAYS)) % 37 == 0).astype(float), index=DAYS)
    winter = temperature - temperature.min() + 0.3  # positive only, but comes close to zero
    data = frame(t=temperature.round(1), hdd=hdd.round(1), flag=flag, winter=winter.round(1))
    assert judge(data.iloc[:100], data.iloc[100:]) == []
    typo = data.iloc[100:].copy()
    typo.iloc[10, 0] = 150.0  # 15.0 typed as 150
    assert judge(data.iloc[:100], typo) == [("t", typo.index[10].strftime("%Y-%m-%d"), "volatility_jump")]


def test_only_values_the_upload_adds_or_revises_are_judged() -> None:
    series = prices()
    history = frame(p=series)
    history.iloc[100, 0] *= 10  # an old slip, accepted earlier
    assert judge(history, history.iloc[95:110]) == [], "re-sending what is curated changes nothing"
    revision = frame(p=series.iloc[150:151] * 10)
    assert judge(frame(p=series), revision) == [("p", "2024-05-30", "ratio_step")]


def test_a_slip_inside_a_first_whole_history_upload_is_held() -> None:
    upload = frame(p=prices())
    upload.iloc[200, 0] /= 10
    assert judge(None, upload) == [("p", upload.index[200].strftime("%Y-%m-%d"), "ratio_step")]


def test_observations_more_than_a_month_apart_are_not_neighbours() -> None:
    series = prices()
    history = frame(p=series.iloc[:100])
    later = frame(p=pd.Series([series.iloc[99] * 6], index=[DAYS[99] + pd.Timedelta(days=45)]))
    assert judge(history, later) == []


def test_each_suspicious_cell_says_why_with_its_neighbours() -> None:
    series = prices()
    upload = frame(p=series.iloc[-5:])
    upload.iloc[2, 0] *= 10
    (suspicion,) = suspicious_cells(frame(p=series.iloc[:-5]), upload)
    assert suspicion.previous == {"date": "2024-10-23", "value": upload.iloc[1, 0]}
    assert suspicion.next == {"date": "2024-10-25", "value": upload.iloc[3, 0]}
    assert "times larger than the level just before" in suspicion.why and suspicion.value == upload.iloc[2, 0]
