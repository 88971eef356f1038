"""Benchmark: how often the plausibility rule would hold real data, uploaded month by month.

Each CSV is first uploaded whole (no curated history yet), then replayed as a sequence of monthly
increments merged into a growing curated history, exactly as ingest does (`plausibility.suspicious_cells`
then `dataset.upsert`). A held increment is counted, then merged as if an operator had accepted it.
Normal data should be held never or almost never; every hold is listed so a person can judge it.
Exits 0 with a message when no data file is found.
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

DEFAULT_GLOB = "/work/shared/data/*.csv"


def replay(path: Path) -> tuple[list, int, int, list, float]:
    """(suspicions of the whole-file upload, monthly increments, held increments, their suspicions,
    seconds spent in the rule for the increments)."""
    import pandas as pd

    from gasforecast.ingestion.dataset import upsert
    from gasforecast.ingestion.plausibility import suspicious_cells

    frame = pd.read_csv(path, dtype={"date": str})
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("date"), format="%Y-%m-%d"), name="date")
    frame = frame.astype("float64")
    target = frame.columns[0]
    whole = suspicious_cells(None, frame)
    curated, held, found, spent, months = None, 0, [], 0.0, 0
    for _, increment in frame.groupby(frame.index.to_period("M")):
        months += 1
        started = time.perf_counter()
        suspicions = suspicious_cells(curated, increment)
        spent += time.perf_counter() - started
        if suspicions:
            held += 1
            found += suspicions
        curated, _ = upsert(curated, increment, target)
    return whole, months, held, found, spent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="*", help=f"CSV files in the data contract's shape (default {DEFAULT_GLOB})")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in (args.csv or sorted(glob.glob(DEFAULT_GLOB)))]
    if not paths:
        print(f"no data files ({DEFAULT_GLOB}) — nothing to measure (pass CSV paths to run it)")
        return 0
    for path in paths:
        whole, months, held, found, spent = replay(path)
        print(f"{path.name}: whole file {'HELD' if whole else 'accepted'}; {months} monthly increments, "
              f"{held} held ({spent:.2f} s in the rule)")
        for kind, suspicions in (("whole file", whole), ("increment", found)):
            for suspicion in suspicions:
                print(f"  {kind}: {suspicion.column} {suspicion.date} = {suspicion.value:g} [{suspicion.rule}]: "
                      f"{suspicion.why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
