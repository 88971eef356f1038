"""Publication lags: a driver's value is used only once it is published."""

import numpy as np
import pandas as pd
import pytest

from gasforecast.forecasting import ProcedureSettings, run_procedure
from gasforecast.ingestion.dataset import as_published, publication_lags, training_frame
from gasforecast.platform.config import parse_lags


def curated(days: int = 900, seed: int = 2) -> pd.DataFrame:
    """Calendar-daily price, a traded driver and a temperature whose day-d value says much about day d's price."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=days, freq="D", name="date")
    temperature = 10 + 8 * np.sin(np.arange(days) / 58) + rng.normal(0, 2, days)
    price = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, days)) - 0.01 * temperature)
    ttf = 40 * np.exp(np.cumsum(rng.normal(0, 0.02, days)))
    return pd.DataFrame({"uk_gas_price": price, "ttf_price": ttf, "cet_mean_temp_c": temperature}, index=index)


def test_weather_demand_and_storage_are_a_day_late_by_default_and_declarations_win():
    columns = ["uk_gas_price", "ttf_price", "cet_hdd_15p5", "nts_ldz_offtake_gwh", "gas_storage_twh", "hdd"]
    assert publication_lags(columns, "uk_gas_price") == {"cet_hdd_15p5": 1, "nts_ldz_offtake_gwh": 1,
                                                          "gas_storage_twh": 1, "hdd": 1}
    assert parse_lags("none") == {} == parse_lags("")
    declared = parse_lags("hdd=0, ttf_price=2, uk_gas_price=5, not_a_column=3")
    assert publication_lags(columns, "uk_gas_price", declared) == {"cet_hdd_15p5": 1, "nts_ldz_offtake_gwh": 1,
                                                                    "gas_storage_twh": 1, "ttf_price": 2}


@pytest.mark.parametrize("text", ["hdd", "hdd=-1", "=2", "hdd=two", "hdd=400"])
def test_a_malformed_lag_is_refused(text):
    with pytest.raises(ValueError, match="column=days"):
        parse_lags(text)


def test_a_value_enters_on_its_publication_day():
    data = curated(10)
    data["nts_demand"] = data["ttf_price"] * 2
    published = as_published(data, {"cet_mean_temp_c": 1, "nts_demand": 2})  # several lagged columns, one index
    assert published.index.is_unique and published.index[-1] == data.index[-1] + pd.Timedelta(days=2)
    assert published.loc[data.index[5], "nts_demand"] == data.loc[data.index[3], "nts_demand"]
    day = data.index[3]
    assert published.loc[day + pd.Timedelta(days=1), "cet_mean_temp_c"] == data.loc[day, "cet_mean_temp_c"]
    assert np.isnan(published.loc[data.index[0], "cet_mean_temp_c"])
    assert (published["ttf_price"].dropna() == data["ttf_price"]).all()


def test_changing_a_driver_on_its_publication_day_cannot_change_an_earlier_forecast():
    """The forecast issued on day D uses rows up to D. The temperature of D is published on D + 1: so
    revising it, as the day-late publication would, changes nothing that was served on D."""
    data = curated()
    issued = data.index[-1]
    revised = data.copy()
    revised.loc[issued, "cet_mean_temp_c"] += 15.0
    settings = ProcedureSettings(horizons=(1, 7), stretch_years=1.5, nested_origins=0)
    frames = [training_frame(d, "uk_gas_price")[0] for d in (data, revised)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    forecasts = [run_procedure(f, "uk_gas_price", settings, horizon=7, evaluate=False).forecast.points for f in frames]
    pd.testing.assert_frame_equal(forecasts[0], forecasts[1])
    # without the lag the revised value would reach the frame (the test can fail)
    undeclared = [training_frame(d, "uk_gas_price", declared_lags={"cet_mean_temp_c": 0})[0] for d in (data, revised)]
    assert not undeclared[0].equals(undeclared[1])
    assert training_frame(data, "uk_gas_price")[1].publication_lags == {"cet_mean_temp_c": 1}
