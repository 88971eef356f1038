"""Benchmark: where promotion sanity's band multiple sits on real data (docs/model.md#promotion-sanity).

    .venv/bin/python bench/sanity_bands.py [CSV] [--target COL] [--step-days N]

Runs the training procedure (what training serves, without the nested figures) at origins every
`--step-days` over the real UK NBP history and prints the distribution of `gasforecast.publication.sanity`'s band
ratio for those genuine forecasts, then the ratio of forecasts made after a single price was mistyped
(×10, ÷10, ×5, ×2, 1 to 40 days before the end). The documented
`MAX_BAND_RATIO` must sit above every genuine ratio and below the mistyped ones it is meant to stop.
Exits 0 with a message when the data file is absent.
"""

from __future__ import annotations

import sys

import real_history


def main(argv: list[str] | None = None) -> int:
    args = real_history.arguments(__doc__.splitlines()[0]).parse_args(argv)
    loaded = real_history.load(args)
    if loaded is None:
        return 0
    curated, procedure = loaded

    import pandas as pd

    from gasforecast.publication import sanity
    from gasforecast.training.retrain import served_history

    def ratio(history: pd.DataFrame) -> float:
        fitted, target = real_history.served(history, args.target, procedure, sanity.BAND_STEP)
        return sanity.check(fitted.points_records(), served_history(target).round(4).tolist()).band_ratio

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
