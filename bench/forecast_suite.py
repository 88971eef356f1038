"""Generalisation suite: nested evaluation of the training procedure and its predictive distribution on every
real gas price series, against the strongest simple baselines.

    .venv/bin/python bench/forecast_suite.py [--data-dir DIR] [--period final|development]
                                             [--ends-years-before 2,4,6] [--origins 150] [--only NBP,TTF]

Series: NBP, TTF, JKM and Henry Hub (each in turn the target of `uk_gas_multivariate_nbp.csv`, every
other column a candidate driver) and the calendar-daily German gas spot index
(`de_gas_vhp_index_daily.csv`). A **window** is named by how many years before the end of the file
it ends: the file is cut k × 365 days before its last date and `--origins` origins over the two years
before the cut are scored, a step apart that shares no factor with 5 or 7, so they fall on every
weekday (`--period final` is k = 0, the last two years; `--period development` is k = 2). At each
origin the whole procedure runs on the rows before it; its forecast and predictive distribution are
scored at horizons 1/2/5/7/14/30 steps against four baselines (trailing-year Gaussian, RiskMetrics
EWMA, historical simulation, GARCH(1,1)-t refitted at each origin). Prints per series the per-horizon
table, then coverage pooled across series per horizon with block-bootstrap intervals, the h = 1
calibration tests and the targets of issue 19. A series whose file starts too late for a window is
skipped there. Exits 0 with a message when the data directory is absent.
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
HORIZONS = (1, 2, 5, 7, 14, 30)
TARGETS = {"median_crps": 0.97, "every_crps": 1.00, "every_mae": 1.00, "coverage_80": (0.77, 0.83),
           "coverage_95": (0.93, 0.97), "kupiec_p": 0.05, "seconds": 180.0}
PERIODS = {"final": 0, "development": 2}
DAYS_PER_YEAR_OF_CUT = 365


def window_name(years_before: float) -> str:
    return "final" if years_before == 0 else f"-{years_before:g}y"


def evaluate_series(path: Path, target: str, years_before: float, origins: int, workers: int | None):
    """The nested evaluation of one series in one window, or None when its history starts too late for it."""
    import pandas as pd

    from gasforecast.forecasting import InsufficientHistory, ProcedureSettings, evaluate_nested
    from gasforecast.ingestion.dataset import frame_from_csv

    started = time.perf_counter()
    frame, prep = frame_from_csv(path.read_bytes(), target, max_bytes=10**9, max_columns=1000)
    if years_before:
        frame = frame.loc[: frame.index[-1] - pd.Timedelta(days=round(DAYS_PER_YEAR_OF_CUT * years_before))]
    try:
        evaluation = evaluate_nested(frame, target, ProcedureSettings(), origins=origins, workers=workers,
                                     horizons=HORIZONS)
    except InsufficientHistory:
        return None
    if len(evaluation.origins) < origins:
        return None
    return evaluation, prep.calendar, time.perf_counter() - started


def pooled(evaluations: list) -> list[str]:
    """Coverage pooled across series per horizon, with block-bootstrap intervals, and the h = 1 tests."""
    import numpy as np

    from gasforecast.forecasting.metrics import block_bootstrap_interval, christoffersen_p_value, kupiec_p_value

    lines = [f"{'pooled over ' + str(len(evaluations)) + ' series':<26} " + " ".join(f"{'h' + str(h):>19}" for h in HORIZONS)]
    for level in (80, 95):
        cells = []
        for j, h in enumerate(HORIZONS):
            samples = [ev.hits(level)[:, j].astype(float) for ev in evaluations]
            low, high = block_bootstrap_interval(samples, block=max(5, h))
            cells.append(f"{np.mean(np.concatenate(samples)):>6.1%} [{low:.1%},{high:.1%}]")
        lines.append(f"{'coverage ' + str(level) + ' % [95 % CI]':<26} " + " ".join(f"{c:>19}" for c in cells))
    for level in (80, 95):
        hits = [ev.hits(level)[:, 0] for ev in evaluations]
        lines.append(f"h = 1, {level} % band: Kupiec p = {kupiec_p_value(np.concatenate(hits), level / 100):.3f} "
                     f"(pooled), Christoffersen p per series: "
                     + ", ".join(f"{christoffersen_p_value(x):.2f}" for x in hits))
    return lines


def checks(rows: list[dict], evaluations: list) -> list[tuple[str, bool]]:
    """The targets of issue 19 on these rows (one per series and window)."""
    import numpy as np

    from gasforecast.forecasting.metrics import block_bootstrap_interval, kupiec_p_value

    worst_crps = max(rows, key=lambda row: row["crps_ratio"])
    worst_mae = max(rows, key=lambda row: row["mean_mae_ratio"])
    median_crps = statistics.median(row["crps_ratio"] for row in rows)
    out = [
        (f"CRPS ÷ best baseline, median over series ≤ {TARGETS['median_crps']:.2f} ({median_crps:.3f})",
         median_crps <= TARGETS["median_crps"]),
        (f"CRPS ÷ best baseline, every series ≤ {TARGETS['every_crps']:.2f} (worst {worst_crps['crps_ratio']:.3f}, "
         f"{worst_crps['name']})", worst_crps["crps_ratio"] <= TARGETS["every_crps"]),
        (f"point MAE ÷ naive, every series ≤ {TARGETS['every_mae']:.2f} (worst {worst_mae['mean_mae_ratio']:.3f}, "
         f"{worst_mae['name']})", worst_mae["mean_mae_ratio"] <= TARGETS["every_mae"]),
    ]
    for level, key in ((80, "coverage_80"), (95, "coverage_95")):
        low_t, high_t = TARGETS[key]
        misses = []
        for j, h in enumerate(HORIZONS):
            samples = [ev.hits(level)[:, j].astype(float) for ev in evaluations]
            share = float(np.mean(np.concatenate(samples)))
            low, high = block_bootstrap_interval(samples, block=max(5, h))
            if not (low_t <= share <= high_t and low <= level / 100 <= high):
                misses.append(f"h{h} {share:.1%}")
        out.append((f"pooled {level} % coverage in [{low_t:.0%}, {high_t:.0%}] at every horizon, its interval "
                    f"holding {level} %" + (f" (missed: {', '.join(misses)})" if misses else ""), not misses))
    kupiec = kupiec_p_value(np.concatenate([ev.hits(80)[:, 0] for ev in evaluations]), 0.80)
    out.append((f"h = 1 pooled Kupiec p > {TARGETS['kupiec_p']} for the 80 % band ({kupiec:.3f})",
                kupiec > TARGETS["kupiec_p"]))
    crossings = sum(row["crossings"] for row in rows)
    out.append((f"0 quantile crossings ({crossings})", crossings == 0))
    slowest = max(row["seconds"] for row in rows)
    out.append((f"every series ≤ {TARGETS['seconds']:.0f} s (slowest {slowest:.1f} s)", slowest <= TARGETS["seconds"]))
    return out


def print_grid(rows: list[dict], windows: list[str]) -> None:
    """Series × window: coverage 80/95, mean MAE ÷ naive, CRPS ÷ the best baseline."""
    names = list(dict.fromkeys(row["name"] for row in rows))
    cell = {(row["name"], row["window"]): row for row in rows}
    print("\ngrid (cells: cov80/cov95  MAE÷naive  CRPS÷best)")
    print(f"{'series':<12} " + " ".join(f"{w:<24}" for w in windows))
    for name in names:
        cells = []
        for w in windows:
            row = cell.get((name, w))
            cells.append(f"{'—':<24}" if row is None else
                         f"{row['coverage_80']:.1%}/{row['coverage_95']:.1%} {row['mean_mae_ratio']:.3f} "
                         f"{row['crps_ratio']:.3f}")
        print(f"{name:<12} " + " ".join(f"{c:<24}" for c in cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--period", choices=tuple(PERIODS), default="final")
    parser.add_argument("--ends-years-before", default=None,
                        help="comma-separated windows, each named by the years before the end of the file at which "
                             "it ends (overrides --period; 0 is the final period)")
    parser.add_argument("--origins", type=int, default=150)
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

    from gasforecast.platform.logs import configure_for_cli

    configure_for_cli()
    chosen = [s for s in SERIES if args.only is None or s[0] in args.only.split(",")]
    header = (f"{'series':<12} {'calendar':<9} {'best baseline':<22} {'CRPS÷b':>7} {'IS÷b':>7} {'MAE÷n':>7} "
              f"{'cov80':>6} {'cov95':>6} {'secs':>6}  first..last origin")
    rows, blocks, all_evaluations = [], {}, []
    for years_before in cuts:
        window = window_name(years_before)
        where = "the last two years" if years_before == 0 else f"the two years before a cut {years_before:g} years before the end"
        print(f"\nnested evaluation, window {window} ({where}): {args.origins} origins on every weekday, horizons "
              f"{'/'.join(map(str, HORIZONS))} steps; CRPS and interval score ÷ the series' best baseline (lowest "
              "CRPS over the horizons); MAE ÷ naive; coverage of our 80/95 % bands", flush=True)
        window_rows, evaluations = [], []
        for name, file_name, target in chosen:
            outcome = evaluate_series(args.data_dir / file_name, target, years_before, args.origins, args.workers)
            if outcome is None:
                print(f"{name:<12} skipped: the file starts too late for this window", flush=True)
                continue
            evaluation, calendar, seconds = outcome
            summary = evaluation.summary()
            print(f"\n{name}: " + evaluation.table(), flush=True)
            window_rows.append({"name": name, "window": window, "seconds": seconds, "calendar": calendar,
                                "best": evaluation.best_baseline(),
                                "crossings": evaluation.calibration()["quantile_crossings"],
                                "first": evaluation.origins[0].date(), "last": evaluation.origins[-1].date(),
                                **summary, "mean_mae_ratio": round(summary["mean_mae_ratio"], 3)})
            evaluations.append(evaluation)
            blocks[f"{name} {window}"] = evaluation.to_dict()
        if not window_rows:
            continue
        print(f"\nwindow {window}\n{header}\n" + "-" * len(header))
        for row in window_rows:
            print(f"{row['name']:<12} {row['calendar']:<9} {row['best']:<22} {row['crps_ratio']:>7.3f} "
                  f"{row['interval_score_ratio']:>7.3f} {row['mean_mae_ratio']:>7.3f} {row['coverage_80']:>6.1%} "
                  f"{row['coverage_95']:>6.1%} {row['seconds']:>6.1f}  {row['first']}..{row['last']}")
        print()
        for line in pooled(evaluations):
            print(line)
        for text, met in checks(window_rows, evaluations):
            print(f"[{'met' if met else 'NOT met'}] {text}")
        rows += window_rows
        all_evaluations += evaluations
    if len(cuts) > 1 and rows:
        print_grid(rows, [window_name(k) for k in cuts])
    if args.json:
        args.json.write_text(json.dumps(blocks, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
