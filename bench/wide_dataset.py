"""Benchmark: training and a one-row ingest on the widest curated dataset the limits allow (issue 20.4).

    .venv/bin/python bench/wide_dataset.py [--years 10] [--columns 50]

Issue 20 grew `curated/history.csv` to 352 columns: training went from 10–14 s to 250 s (its budget
is 180 s) and a one-row ingest took 14.6 s with a 779 MB worker. MAX_CURATED_COLUMNS (50) now bounds
the width and EARLIEST_DATE the length; this measures what remains at those bounds against the usual
size (the target and three drivers), on the same ~10 years of daily rows (synthetic: the demo's
history, plus drivers that are noisy copies of its TTF price or random walks, so selection has
plausible candidates to screen). Each figure comes from a fresh process (`--one`): wall time of the
operation alone (imports excluded) and the process' peak RSS, which includes the imports.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from gasforecast.platform.events import ObjectRef

TARGET = "uk_gas_price"
ROOT = Path(__file__).resolve().parents[1]


def curated_frame(years: float, columns: int):
    """The demo's synthetic history over `years`, widened to `columns` value columns."""
    import numpy as np
    import pandas as pd

    from gasforecast.ingestion.sample import synthetic_history

    days = int(years * 365.25)
    start = (pd.Timestamp.today().normalize() - pd.Timedelta(days=days)).strftime("%Y-%m-%d")  # ends yesterday
    frame = synthetic_history(days, start=start, seed=20, target=TARGET).set_index("date")
    frame.index = pd.to_datetime(frame.index)
    rng = np.random.default_rng(20)
    rows = len(frame)
    for i in range(columns - frame.shape[1]):
        if i % 2 == 0:  # a noisy copy of the continental price: a candidate selection may keep
            values = frame["ttf_price"].to_numpy() * np.exp(rng.normal(0, 0.05 + 0.01 * i, rows))
        else:  # an unrelated positive random walk
            values = 50 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
        frame[f"driver_{i:02d}"] = values.round(4)
    frame.index.name = "date"
    return frame


def measure_training(frame, args: argparse.Namespace) -> dict:
    from gasforecast.ingestion import dataset
    from gasforecast.platform.config import Settings
    from gasforecast.training.retrain import run_forecasting

    settings = Settings(target_column=TARGET, training_window_years=args.window_years,
                        max_training_years=args.max_training_years)
    body = dataset.curated_to_bytes(frame)
    started = time.perf_counter()
    training_frame, _ = dataset.training_frame(dataset.read_curated(body), TARGET,
                                               max_years=settings.max_training_years)
    result = run_forecasting(settings, training_frame, None)
    return {"seconds": time.perf_counter() - started, "drivers": list(result.winner.drivers)}


def measure_ingest(frame, args: argparse.Namespace) -> dict:
    """A one-row upload (the next day, every column a file may carry) merged into `frame` as the curated dataset."""
    sys.path.insert(0, str(ROOT))
    from gasforecast.ingestion import dataset, ingest
    from gasforecast.platform.config import Settings
    from tests.fakes import FakePublisher, MemoryBucket  # the in-memory stores the unit tests trust

    settings = Settings(target_column=TARGET)
    uploads, data = MemoryBucket("uploads"), MemoryBucket("data")
    data.write(settings.curated_object, dataset.curated_to_bytes(frame), content_type="text/csv")
    row = frame.iloc[-1:, : settings.max_columns - 1].copy()  # as many columns as one file may carry
    row.index = row.index + (row.index[-1] - frame.index[-2])
    generation = uploads.write("one-row.csv", dataset.curated_to_bytes(row), content_type="text/csv")
    started = time.perf_counter()
    outcome = ingest.handle_object(settings, uploads, data, FakePublisher(),
                                   ObjectRef(settings.uploads_bucket, "one-row.csv", generation, None))
    return {"seconds": time.perf_counter() - started, "status": outcome.status}


def one(args: argparse.Namespace) -> None:
    """Measure one operation in this process and print its figures as JSON."""
    import logging

    logging.disable(logging.CRITICAL)  # the pipeline's JSON lines would bury the figures
    frame = curated_frame(args.years, args.width)
    figures = (measure_training if args.one == "training" else measure_ingest)(frame, args)
    figures.update(rows=len(frame), columns=frame.shape[1],
                   csv_mb=len(frame.to_csv().encode()) / 1e6,
                   peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(figures))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=10.0)
    parser.add_argument("--columns", type=int, default=50, help="value columns of the wide dataset (the limit)")
    parser.add_argument("--window-years", type=float, default=0.0, help="TRAINING_WINDOW_YEARS (0: all history)")
    parser.add_argument("--max-training-years", type=float, default=None,
                        help="MAX_TRAINING_YEARS (default: the setting's default; 0: the whole history)")
    parser.add_argument("--one", choices=("training", "ingest"), help=argparse.SUPPRESS)
    parser.add_argument("--width", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.max_training_years is None:
        from gasforecast.platform.config import Settings

        args.max_training_years = Settings().max_training_years
    if args.one:
        one(args)
        return 0
    print(f"{'dataset':<28} {'operation':<16} {'wall s':>8} {'peak RSS MB':>12}  notes")
    for label, width in (("usual (target + 3 drivers)", 4), (f"wide ({args.columns} columns)", args.columns)):
        for kind in ("ingest", "training"):
            done = subprocess.run([sys.executable, __file__, "--one", kind, "--years", str(args.years),
                                   "--width", str(width), "--window-years", str(args.window_years),
                                   "--max-training-years", str(args.max_training_years)],
                                  capture_output=True, text=True, check=True, cwd=ROOT)
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            note = f"{figures['rows']} rows, {figures['csv_mb']:.1f} MB CSV"
            note += f", status {figures['status']}" if kind == "ingest" else f", drivers {figures['drivers']}"
            print(f"{label:<28} {kind + (' (1 row)' if kind == 'ingest' else ''):<16} {figures['seconds']:>8.2f} "
                  f"{figures['peak_rss_mb']:>12.0f}  {note}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
