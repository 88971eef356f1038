"""A realistic synthetic UK gas price history, for the demo and the tests (never real data).

The shape follows the market: log prices move like a random walk with volatility regimes and
heavy-tailed shocks; NBP (the target) follows the continental TTF hub with a short lag and an
error-correcting spread; Brent drifts on its own; heating degree days follow the seasons and push
prices up in cold spells. Real data is not shipped with the project (see docs/data.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HDD_CLIMATE_MEAN = 5.5  # long-run mean of the heating degree days below, so cold spells lift prices


def synthetic_history(
    days: int = 4 * 365,
    *,
    start: str = "2021-01-01",
    seed: int = 3,
    target: str = "uk_gas_price",
    business_days_only: bool = False,
) -> pd.DataFrame:
    """Daily prices: `date`, target (pence/therm), `ttf_price` (EUR/MWh), `brent_price` (USD/bbl), `hdd`.

    Prefix-stable: for the same start and seed, a longer history begins with exactly the rows of a
    shorter one, so "more days" is a true continuation (each series draws from its own stream).
    """
    weather, ttf, brent, nbp = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    dates = pd.date_range(start, periods=days, freq="D")
    day_of_year = dates.day_of_year.to_numpy()
    temperature = 10.5 - 6.5 * np.cos(2 * np.pi * (day_of_year - 15) / 365.25) + weather.normal(0, 2.2, days)
    hdd = np.clip(15.5 - temperature, 0, None)

    # Volatility regimes: calm, then a crisis-like spell from day 500 to day 900, then calmer again.
    regime = np.ones(days)
    regime[500:900] = 3.0
    shocks = ttf.standard_t(df=4, size=days) / np.sqrt(2.0)
    log_ttf = np.log(25.0) + np.cumsum(0.018 * regime * shocks + 0.0004 * (hdd - HDD_CLIMATE_MEAN) / 5)

    log_brent = np.log(70.0) + np.cumsum(brent.normal(0, 0.015, days))

    # NBP: follows yesterday's TTF move (lead of one day) and corrects towards the TTF spread.
    spread_target = np.log(2.35)  # pence/therm per EUR/MWh, roughly
    own_shocks = 0.006 * regime * nbp.standard_t(df=4, size=days) / np.sqrt(2.0)
    log_nbp = np.empty(days)
    log_nbp[0] = log_ttf[0] + spread_target
    ttf_moves = np.diff(log_ttf, prepend=log_ttf[0])
    for t in range(1, days):
        correction = -0.08 * (log_nbp[t - 1] - log_ttf[t - 1] - spread_target)
        log_nbp[t] = log_nbp[t - 1] + 0.55 * ttf_moves[t - 1] + 0.35 * ttf_moves[t] + correction + own_shocks[t]

    frame = pd.DataFrame(
        {
            "date": dates,
            target: np.round(np.exp(log_nbp), 3),
            "ttf_price": np.round(np.exp(log_ttf), 3),
            "brent_price": np.round(np.exp(log_brent), 2),
            "hdd": np.round(hdd, 2),
        }
    )
    if business_days_only:
        frame = frame[frame["date"].dt.day_of_week < 5].reset_index(drop=True)
    frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
    return frame


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
