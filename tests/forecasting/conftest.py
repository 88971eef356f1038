"""Small synthetic frames for the forecasting tests (never real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gasforecast.forecasting import ProcedureSettings
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes

# Short stretch and few horizons keep each procedure run well under a second.
FAST = ProcedureSettings(horizons=(1, 7), stretch_years=1.5, nested_origins=0)


def daily_frame(days: int = 1200, seed: int = 3) -> pd.DataFrame:
    """The project's synthetic market (NBP follows TTF), indexed by date."""
    frame = synthetic_history(days, start="2019-01-01", seed=seed)
    frame["date"] = pd.to_datetime(frame["date"])
    return frame.set_index("date")


def random_walk_frame(rows: int = 900, seed: int = 5, freq: str = "B") -> pd.DataFrame:
    """A heavy-tailed random walk target and an unrelated random-walk driver: nothing to learn."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-01-01", periods=rows, freq=freq, name="date")
    return pd.DataFrame({"price": 40 * np.exp(np.cumsum(0.02 * rng.standard_t(4, rows) / np.sqrt(2))),
                         "unrelated": 70 * np.exp(np.cumsum(rng.normal(0, 0.015, rows)))}, index=index)


def leading_driver_frame(days: int = 1100, seed: int = 11) -> pd.DataFrame:
    """Target log-returns copy yesterday's `leader` returns; `noise` is an unrelated random walk."""
    rng = np.random.default_rng(seed)
    leader_moves = rng.standard_t(5, days) * 0.02
    target_moves = np.concatenate([[0.0], 0.9 * leader_moves[:-1]]) + rng.normal(0, 0.003, days)
    index = pd.date_range("2020-01-01", periods=days, freq="D", name="date")
    return pd.DataFrame(
        {
            "price": 50 * np.exp(np.cumsum(target_moves)),
            "leader": 30 * np.exp(np.cumsum(leader_moves)),
            "noise": 80 * np.exp(np.cumsum(rng.normal(0, 0.01, days))),
        },
        index=index,
    )


@pytest.fixture(scope="session")
def market() -> pd.DataFrame:
    return daily_frame()


@pytest.fixture(scope="session")
def leading() -> pd.DataFrame:
    return leading_driver_frame()


@pytest.fixture(scope="session")
def random_walk() -> pd.DataFrame:
    return random_walk_frame()


@pytest.fixture(scope="session")
def business_csv(tmp_path_factory) -> str:
    """A business-day sample CSV (about 3.5 years of trading days) for the CLI tests."""
    path = tmp_path_factory.mktemp("cli") / "history.csv"
    path.write_bytes(to_csv_bytes(synthetic_history(1000, seed=2, business_days_only=True)))
    return str(path)
