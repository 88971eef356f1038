"""Generalisation suite: nested evaluation of the training procedure on every real gas price series.

    .venv/bin/python bench/forecast_suite.py [--data-dir DIR] [--period final|development]
                                             [--ends-years-before 2,4,6] [--origins 52] [--only NBP,TTF]

Series: NBP, TTF, JKM and Henry Hub (each in turn the target of `uk_gas_multivariate_nbp.csv`, every
other column a candidate driver) and the calendar-daily German gas spot index
(`de_gas_vhp_index_daily.csv`). A **window** is named by how many years before the end of the file
it ends: the file is cut k × 365 days before its last date and 52 origins over the two years before
the cut are scored (`--period final` is k = 0, the last two years; `--period development` is k = 2;
`--ends-years-before 2,4,6` runs several development windows). At each origin the whole procedure
runs on the rows before it and its forecast is scored at horizons 1/7/14/30 steps. Prints one row
per series and window, the worst series, the targets of issue 10 and, for several windows, the grid
of coverage, MAE and interval-score ratios. A series whose file starts too late for every origin of
a window to have the procedure's minimum history is skipped in that window. Exits 0 with a message
when the data directory is absent.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
MULTI = "uk_gas_multivariate_nbp.csv"
SERIES = (
    ("NBP", MULTI, "nbp_front_month_p_per_therm"),
    ("TTF", MULTI, "ttf_front_month_eur_per_mwh"),
    ("JKM", MULTI, "jkm_front_month_usd_per_mmbtu"),
    ("Henry Hub", MULTI, "henry_hub_usd_per_mmbtu"),
    ("DE VHP spot", "de_gas_vhp_index_daily.csv", "de_gas_vhp_index_eur_per_mwh"),
)
HORIZONS = (1, 7, 14, 30)
TARGETS = {"every_mae": 1.00, "median_mae": 0.97, "coverage_95": (0.92, 0.97), "coverage_80": (0.76, 0.84),
           "median_interval_score": 0.95, "seconds": 120.0}
PERIODS = {"final": 0, "development": 2}
DAYS_PER_YEAR_OF_CUT = 365


def window_name(years_before: float) -> str:
    return "final" if years_before == 0 else f"-{years_before:g}y"


def evaluate_series(path: Path, target: str, years_before: float, origins: int, workers: int | None):
    """The nested evaluation of one series in one window, or None when its history starts too late for it."""
    import pandas as pd

    from gasforecast.dataset import frame_from_csv
    from gasforecast.forecasting import InsufficientHistory, ProcedureSettings, evaluate_nested

    started = time.perf_counter()
    frame, prep = frame_from_csv(path.read_bytes(), target, max_bytes=10**9, max_columns=1000)
    if years_before:
        frame = frame.loc[: frame.index[-1] - pd.Timedelta(days=round(DAYS_PER_YEAR_OF_CUT * years_before))]
    try:
        evaluation = evaluate_nested(frame, target, ProcedureSettings(horizons=HORIZONS), origins=origins,
                                     workers=workers)
    except InsufficientHistory:
        return None
    if len(evaluation.origins) < origins:
        return None
    return evaluation, prep.calendar, time.perf_counter() - started


def checks(rows: list[dict]) -> list[tuple[str, bool]]:
    """The targets of issue 10 on these rows (one per series and window)."""
    worst = max(rows, key=lambda row: row["mean_mae_ratio"])
    median_mae = statistics.median(row["mean_mae_ratio"] for row in rows)
    median_is = statistics.median(row["interval_score_ratio"] for row in rows)
    low95, high95 = TARGETS["coverage_95"]
    low80, high80 = TARGETS["coverage_80"]
    return [
        (f"every series mean MAE ÷ naive ≤ {TARGETS['every_mae']:.2f} (worst {worst['mean_mae_ratio']:.3f}, "
         f"{worst['name']})", worst["mean_mae_ratio"] <= TARGETS["every_mae"]),
        (f"median over series ≤ {TARGETS['median_mae']:.2f} ({median_mae:.3f})", median_mae <= TARGETS["median_mae"]),
        (f"every series 95 % coverage in [{low95:.0%}, {high95:.0%}]"
         + _misses(rows, "coverage_95", low95, high95), all(low95 <= row["coverage_95"] <= high95 for row in rows)),
        (f"every series 80 % coverage in [{low80:.0%}, {high80:.0%}]"
         + _misses(rows, "coverage_80", low80, high80), all(low80 <= row["coverage_80"] <= high80 for row in rows)),
        (f"median interval score ≤ {TARGETS['median_interval_score']} × Gaussian naive's ({median_is:.3f})",
         median_is <= TARGETS["median_interval_score"]),
        (f"every series ≤ {TARGETS['seconds']:.0f} s (slowest {max(row['seconds'] for row in rows):.1f} s)",
         all(row["seconds"] <= TARGETS["seconds"] for row in rows)),
    ]


def _misses(rows: list[dict], key: str, low: float, high: float) -> str:
    out = [f"{row['name']} {row['window']} {row[key]:.1%}" for row in rows if not low <= row[key] <= high]
    return f" (outside: {', '.join(out)})" if out else ""


def print_grid(rows: list[dict], windows: list[str]) -> None:
    """Series × window: coverage 80/95, mean MAE ÷ naive, interval score ÷ Gaussian naive."""
    names = list(dict.fromkeys(row["name"] for row in rows))
    cell = {(row["name"], row["window"]): row for row in rows}
    print("\ngrid (cells: cov80/cov95  MAE÷naive  IS÷G)")
    print(f"{'series':<12} " + " ".join(f"{w:<24}" for w in windows))
    for name in names:
        cells = []
        for w in windows:
            row = cell.get((name, w))
            cells.append(f"{'—':<24}" if row is None else
                         f"{row['coverage_80']:.1%}/{row['coverage_95']:.1%} {row['mean_mae_ratio']:.3f} "
                         f"{row['interval_score_ratio']:.3f}")
        print(f"{name:<12} " + " ".join(f"{c:<24}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--period", choices=tuple(PERIODS), default="final")
    parser.add_argument("--ends-years-before", default=None,
                        help="comma-separated windows, each named by the years before the end of the file at which "
                             "it ends (overrides --period; 0 is the final period)")
    parser.add_argument("--origins", type=int, default=52)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", default=None, help="comma-separated series names to run (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write every evaluation block to this file")
    args = parser.parse_args(argv)
    if not (args.data_dir / MULTI).exists():
        print(f"benchmark data not found in {args.data_dir} — nothing to measure (pass --data-dir to run it)")
        return 0
    if args.ends_years_before is not None:
        cuts = [float(value) for value in args.ends_years_before.split(",")]
    else:
        cuts = [PERIODS[args.period]]

    from gasforecast.logs import configure_for_cli

    configure_for_cli()
    chosen = [s for s in SERIES if args.only is None or s[0] in args.only.split(",")]
    heads = " ".join(f"{'h' + str(h):>6}" for h in HORIZONS)
    header = (f"{'series':<12} {'calendar':<9} {heads} {'mean':>6} {'cov80':>6} {'cov95':>6} {'IS÷G':>6} "
              f"{'G80':>6} {'G95':>6} {'secs':>6}  first..last origin")
    rows, blocks = [], {}
    for years_before in cuts:
        window = window_name(years_before)
        where = "the last two years" if years_before == 0 else f"the two years before a cut {years_before:g} years before the end"
        print(f"\nnested evaluation, window {window} ({where}): {args.origins} origins, horizons "
              f"{'/'.join(map(str, HORIZONS))} steps; MAE ÷ naive per horizon; coverage of our 80/95 % intervals; "
              "IS÷G = interval score ÷ Gaussian naive's; G80/G95 = that baseline's coverage")
        print(header)
        print("-" * len(header))
        window_rows = []
        for name, file_name, target in chosen:
            outcome = evaluate_series(args.data_dir / file_name, target, years_before, args.origins, args.workers)
            if outcome is None:
                print(f"{name:<12} skipped: the file starts too late for this window", flush=True)
                continue
            evaluation, calendar, seconds = outcome
            summary = evaluation.summary()
            ratios = evaluation.mae_ratios()
            # compared as printed: a served naive forecast is exp(log y), equal to y only to ~1e-15
            window_rows.append({"name": name, "window": window, "seconds": seconds,
                                **summary, "mean_mae_ratio": round(summary["mean_mae_ratio"], 3)})
            blocks[f"{name} {window}"] = evaluation.to_dict()
            print(f"{name:<12} {calendar:<9} " + " ".join(f"{v:>6.3f}" for v in ratios)
                  + f" {summary['mean_mae_ratio']:>6.3f} {summary['coverage_80']:>6.1%} {summary['coverage_95']:>6.1%}"
                  f" {summary['interval_score_ratio']:>6.3f} {evaluation.gaussian_coverage(80):>6.1%}"
                  f" {evaluation.gaussian_coverage(95):>6.1%} {seconds:>6.1f}  "
                  f"{evaluation.origins[0].date()}..{evaluation.origins[-1].date()}", flush=True)
        if not window_rows:
            continue
        worst = max(window_rows, key=lambda row: row["mean_mae_ratio"])
        print(f"\nworst series: {worst['name']} (mean MAE ÷ naive {worst['mean_mae_ratio']:.3f}); median over "
              f"series: MAE ÷ naive {statistics.median(r['mean_mae_ratio'] for r in window_rows):.3f}, interval "
              f"score ÷ Gaussian naive {statistics.median(r['interval_score_ratio'] for r in window_rows):.3f}")
        for text, met in checks(window_rows):
            print(f"[{'met' if met else 'NOT met'}] {text}")
        rows += window_rows
    if len(cuts) > 1 and rows:
        print_grid(rows, [window_name(k) for k in cuts])
        print("\nacross every series and window:")
        for text, met in checks(rows):
            print(f"[{'met' if met else 'NOT met'}] {text}")
    if args.json:
        args.json.write_text(json.dumps(blocks, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
