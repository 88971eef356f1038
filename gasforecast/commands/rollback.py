"""`gasforecast rollback VERSION`: serve an earlier registered version again (alias and serving pointer)."""

from __future__ import annotations

import argparse
import sys

from gasforecast.platform.config import load_settings
from gasforecast.platform.errors import TransientError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "rollback", help="point the champion alias and the service's serving pointer at an earlier version")
    parser.add_argument("version", help="the registered model version to serve, e.g. 7")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mlflow.exceptions import MlflowException

    from gasforecast.platform.storage import Bucket, make_client
    from gasforecast.training.registry import Registry
    from gasforecast.training.retrain import roll_back

    settings = load_settings()
    try:
        target = roll_back(settings, Bucket(make_client(settings.project), settings.data_bucket), Registry(settings),
                           args.version)
    except (TransientError, MlflowException, ValueError) as exc:
        print(f"gasforecast rollback: {exc}", file=sys.stderr)
        return 1
    print(f"serving version {target.version} (run {target.run_id})")
    return 0
