"""Benchmark: where promotion sanity's band multiple sits on real data (docs/model.md#promotion-sanity).

    .venv/bin/python bench/sanity_bands.py [CSV] [--target COL] [--step-days N]

Runs the training procedure (what training serves, without the nested figures) at origins every
`--step-days` over the real UK NBP history and prints the distribution of `gasforecast.sanity`'s band
ratio for those genuine forecasts, then the ratio of forecasts made after a single price was mistyped
(×10, ÷10, ×5, ×2, 1 to 40 days before the end). The documented
`MAX_BAND_RATIO` must sit above every genuine ratio and below the mistyped ones it is meant to stop.
Exits 0 with a message when the data file is absent.
"""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_CSV = "/work/shared/data/uk_gas_multivariate_nbp.csv"
DEFAULT_TARGET = "nbp_front_month_p_per_therm"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="?", default=DEFAULT_CSV)
    parser.add_argument("--target", default=DEFAULT_TARGET)
    parser.add_argument("--step-days", type=int, default=14)
    args = parser.parse_args(argv)
    if not os.path.exists(args.csv):
        print(f"benchmark data not found: {args.csv} — nothing to measure (pass a CSV path to run it)")
        return 0

    import pandas as pd

    from gasforecast import dataset, sanity
    from gasforecast.config import Settings
    from gasforecast.forecasting import run_procedure
    from gasforecast.training import procedure_settings, served_history

    with open(args.csv, "rb") as handle:
        curated = dataset.read_curated(handle.read())

    procedure = procedure_settings(Settings(target_column=args.target))  # what training runs

    def ratio(history: pd.DataFrame) -> float:
        frame = dataset.training_frame(history, args.target)[0][[args.target]]
        fitted = run_procedure(frame, args.target, procedure, horizon=sanity.BAND_STEP, evaluate=False).forecast
        served = served_history(frame[args.target]).round(4)
        return sanity.check(fitted.points_records(), served.tolist()).band_ratio

    genuine = pd.Series({
        curated.index[end].date(): ratio(curated.iloc[: end + 1])
        for end in range(3 * 365, len(curated), args.step_days)
    })
    print(f"genuine forecasts ({len(genuine)} origins, {genuine.index[0]} .. {genuine.index[-1]}):")
    print(genuine.describe(percentiles=[0.5, 0.9, 0.99]).round(2).to_string())
    print(f"largest on {genuine.idxmax()}: {genuine.max():.2f}")
    rows = []
    for days_back in (1, 3, 10, 40):
        for factor in (10, 0.1, 5, 2):
            mistyped = curated.copy()
            mistyped.iloc[-days_back, mistyped.columns.get_loc(args.target)] *= factor
            rows.append({"days_back": days_back, "factor": factor, "ratio": round(ratio(mistyped), 1)})
    print("one mistyped price:")
    print(pd.DataFrame(rows).pivot(index="days_back", columns="factor", values="ratio").to_string())
    print(f"MAX_BAND_RATIO = {sanity.MAX_BAND_RATIO:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
