"""What the promotion benchmarks (sanity_bands.py, level_shift.py) share: the real history, read as
training reads it, and the forecast training would serve from a slice of it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

DEFAULT_CSV = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "uk_gas_multivariate_nbp.csv")
DEFAULT_TARGET = "nbp_front_month_p_per_therm"


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every promotion benchmark takes; add its own before parsing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("csv", nargs="?", default=DEFAULT_CSV)
    parser.add_argument("--target", default=DEFAULT_TARGET)
    parser.add_argument("--step-days", type=int, default=14)
    return parser


def load(args: argparse.Namespace) -> tuple[Any, Any] | None:
    """(curated history, the procedure settings training runs), or None with a message when the file is absent."""
    if not os.path.exists(args.csv):
        print(f"benchmark data not found: {args.csv} — nothing to measure (pass a CSV path to run it)")
        return None
    from gasforecast.ingestion import dataset
    from gasforecast.platform.config import Settings
    from gasforecast.training.retrain import procedure_settings

    with open(args.csv, "rb") as handle:
        curated = dataset.read_curated(handle.read())
    return curated, procedure_settings(Settings(target_column=args.target))


def served(history: Any, target: str, procedure: Any, horizon: int) -> tuple[Any, Any]:
    """(the fitted forecast training would serve from `history`, the target column of its training frame)."""
    from gasforecast.forecasting import run_procedure
    from gasforecast.ingestion import dataset

    frame = dataset.training_frame(history, target)[0][[target]]
    return run_procedure(frame, target, procedure, horizon=horizon, evaluate=False).forecast, frame[target]
