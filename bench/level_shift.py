"""Benchmark: where the level guard's multiple sits on real data (docs/model.md#promotion-sanity).

    .venv/bin/python bench/level_shift.py [CSV] [--target COL] [--step-days N] [--gaps 14,28]

Runs the training procedure (what training serves, without the nested figures) at origins every
`--step-days` over the real history and, for each gap in `--gaps` (days between the served champion's
data and the challenger's), prints the distribution of `gasforecast.publication.sanity.level_guard`'s shift ratio
(|Δ log mean| at step 30 over the champion's 95 % half-width) between genuine consecutive forecasts;
then the ratio of a forecast made on the whole target history rescaled (×1.4, ×2, ×10, ÷10) against
the genuine forecast of the same origin. `MAX_LEVEL_SHIFT` must sit above the genuine ratios and below
the rescaled ones it is meant to stop. Exits 0 with a message when the data file is absent.
"""

from __future__ import annotations

import sys

import real_history


def main(argv: list[str] | None = None) -> int:
    parser = real_history.arguments(__doc__.splitlines()[0])
    parser.add_argument("--gaps", default="14,28")
    args = parser.parse_args(argv)
    loaded = real_history.load(args)
    if loaded is None:
        return 0
    curated, procedure = loaded

    import pandas as pd

    from gasforecast.publication import sanity

    def points(history: pd.DataFrame) -> list[dict]:
        return real_history.served(history, args.target, procedure, sanity.LEVEL_STEP)[0].points_records()

    ends = list(range(3 * 365, len(curated), args.step_days))
    forecasts = {end: points(curated.iloc[: end + 1]) for end in ends}
    for gap in (int(g) for g in args.gaps.split(",")):
        ratios = pd.Series({curated.index[end].date(): sanity.level_guard(forecasts[end], forecasts[end - gap]).shift_ratio
                            for end in ends if end - gap in forecasts})
        print(f"genuine, champion {gap} days older ({len(ratios)} pairs, {ratios.index[0]} .. {ratios.index[-1]}):")
        print(ratios.describe(percentiles=[0.5, 0.9, 0.99]).round(2).to_string())
        print(f"largest on {ratios.idxmax()}: {ratios.max():.2f}; above {sanity.MAX_LEVEL_SHIFT:g}: "
              f"{int((ratios > sanity.MAX_LEVEL_SHIFT).sum())}")
    rows = []
    for end in ends[:: max(1, len(ends) // 8)]:
        for factor in (1.4, 2, 10, 0.1):
            rescaled = curated.iloc[: end + 1].copy()
            rescaled[args.target] *= factor
            rows.append({"origin": curated.index[end].date(), "factor": factor,
                         "ratio": round(sanity.level_guard(points(rescaled), forecasts[end]).shift_ratio, 2)})
    print("whole target history rescaled, against the genuine forecast of the same origin:")
    print(pd.DataFrame(rows).pivot(index="origin", columns="factor", values="ratio").to_string())
    print(f"MAX_LEVEL_SHIFT = {sanity.MAX_LEVEL_SHIFT:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
