"""Generalisation suite: nested evaluation of the training procedure on every real gas price series.

    .venv/bin/python bench/forecast_suite.py [--data-dir DIR] [--period final|development] [--origins 52]

Series: NBP, TTF, JKM and Henry Hub (each in turn the target of `uk_gas_multivariate_nbp.csv`, every
other column a candidate driver) and the calendar-daily German gas spot index
(`de_gas_vhp_index_daily.csv`). At each of 52 origins over the last two years (`--period final`) or
over the two years before those (`--period development`: the file cut two years before its end, the
period the procedure was developed on) the whole procedure runs on the rows before the origin and its
forecast is scored at horizons 1/7/14/30 steps. Prints one row per series, the worst series and the
targets of issue 10. Exits 0 with a message when the data directory is absent.
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
DEVELOPMENT_CUT_DAYS = 730


def evaluate_series(path: Path, target: str, period: str, origins: int, workers: int | None):
    import pandas as pd

    from gasforecast.dataset import frame_from_csv
    from gasforecast.forecasting import ProcedureSettings, evaluate_nested

    started = time.perf_counter()
    frame, prep = frame_from_csv(path.read_bytes(), target, max_bytes=10**9, max_columns=1000)
    if period == "development":
        frame = frame.loc[: frame.index[-1] - pd.Timedelta(days=DEVELOPMENT_CUT_DAYS)]
    evaluation = evaluate_nested(frame, target, ProcedureSettings(horizons=HORIZONS), origins=origins,
                                 workers=workers)
    return evaluation, prep.calendar, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--period", choices=("final", "development"), default="final")
    parser.add_argument("--origins", type=int, default=52)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", default=None, help="comma-separated series names to run (default: all)")
    parser.add_argument("--json", type=Path, default=None, help="also write every evaluation block to this file")
    args = parser.parse_args(argv)
    if not (args.data_dir / MULTI).exists():
        print(f"benchmark data not found in {args.data_dir} — nothing to measure (pass --data-dir to run it)")
        return 0

    from gasforecast.logs import configure_for_cli

    configure_for_cli()
    chosen = [s for s in SERIES if args.only is None or s[0] in args.only.split(",")]
    heads = " ".join(f"{'h' + str(h):>6}" for h in HORIZONS)
    header = (f"{'series':<12} {'calendar':<9} {heads} {'mean':>6} {'cov80':>6} {'cov95':>6} {'IS÷G':>6} "
              f"{'G80':>6} {'G95':>6} {'secs':>6}  first..last origin")
    print(f"nested evaluation, {args.period} period: {args.origins} origins over two years, horizons "
          f"{'/'.join(map(str, HORIZONS))} steps; MAE ÷ naive per horizon; coverage of our 80/95 % intervals; "
          "IS÷G = interval score ÷ Gaussian naive's; G80/G95 = that baseline's coverage")
    print(header)
    print("-" * len(header))
    rows, blocks = [], {}
    for name, file_name, target in chosen:
        evaluation, calendar, seconds = evaluate_series(args.data_dir / file_name, target, args.period, args.origins,
                                                        args.workers)
        summary = evaluation.summary()
        ratios = evaluation.mae_ratios()
        rows.append({"name": name, "seconds": seconds, **summary})
        blocks[name] = evaluation.to_dict()
        print(f"{name:<12} {calendar:<9} " + " ".join(f"{v:>6.3f}" for v in ratios)
              + f" {summary['mean_mae_ratio']:>6.3f} {summary['coverage_80']:>6.1%} {summary['coverage_95']:>6.1%}"
              f" {summary['interval_score_ratio']:>6.3f} {evaluation.gaussian_coverage(80):>6.1%}"
              f" {evaluation.gaussian_coverage(95):>6.1%} {seconds:>6.1f}  "
              f"{evaluation.origins[0].date()}..{evaluation.origins[-1].date()}", flush=True)
    for row in rows:  # compared as printed: a served naive forecast is exp(log y), equal to y only to ~1e-15
        row["mean_mae_ratio"] = round(row["mean_mae_ratio"], 3)
    worst = max(rows, key=lambda row: row["mean_mae_ratio"])
    median_mae = statistics.median(row["mean_mae_ratio"] for row in rows)
    median_is = statistics.median(row["interval_score_ratio"] for row in rows)
    print(f"\nworst series: {worst['name']} (mean MAE ÷ naive {worst['mean_mae_ratio']:.3f}); "
          f"median over series: MAE ÷ naive {median_mae:.3f}, interval score ÷ Gaussian naive {median_is:.3f}")
    low95, high95 = TARGETS["coverage_95"]
    low80, high80 = TARGETS["coverage_80"]
    checks = [
        (f"every series mean MAE ÷ naive ≤ {TARGETS['every_mae']:.2f} (worst {worst['mean_mae_ratio']:.3f})",
         worst["mean_mae_ratio"] <= TARGETS["every_mae"]),
        (f"median over series ≤ {TARGETS['median_mae']:.2f} ({median_mae:.3f})", median_mae <= TARGETS["median_mae"]),
        (f"every series 95 % coverage in [{low95:.0%}, {high95:.0%}]",
         all(low95 <= row["coverage_95"] <= high95 for row in rows)),
        (f"every series 80 % coverage in [{low80:.0%}, {high80:.0%}]",
         all(low80 <= row["coverage_80"] <= high80 for row in rows)),
        (f"median interval score ≤ {TARGETS['median_interval_score']} × Gaussian naive's ({median_is:.3f})",
         median_is <= TARGETS["median_interval_score"]),
        (f"every series ≤ {TARGETS['seconds']:.0f} s (slowest {max(row['seconds'] for row in rows):.1f} s)",
         all(row["seconds"] <= TARGETS["seconds"] for row in rows)),
    ]
    for text, met in checks:
        print(f"[{'met' if met else 'NOT met'}] {text}")
    if args.json:
        args.json.write_text(json.dumps(blocks, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
