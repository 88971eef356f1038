"""`gasforecast retrain`: ask for a training run by hand (same message as uploads and the schedule)."""

from __future__ import annotations

import argparse
import sys

from gasforecast.platform.config import load_settings
from gasforecast.platform.errors import TransientError
from gasforecast.platform.messaging import (
    REASONS,
    MalformedMessage,
    RefusedMessage,
    RetrainRequest,
    make_publisher,
    parse_retrain_request,
    publish_retrain,
    require_curated_dataset,
    utc_now_iso,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("retrain", help="publish a retrain request to $RETRAIN_TOPIC")
    parser.add_argument("--force", action="store_true", help="train even if this dataset generation was trained")
    parser.add_argument("--dataset", help="gs:// URI of the dataset: only the curated history is accepted (default)")
    parser.add_argument("--generation", help="GCS generation of --dataset (default: the latest)")
    parser.add_argument("--reason", choices=REASONS, default="manual", help="trigger recorded on the run")
    parser.add_argument("--series", help="the series to train (docs/series.md; default: the default series; "
                                         "--reason schedule without it trains every series)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    request = RetrainRequest(
        reason=args.reason,
        requested_at=utc_now_iso(),
        dataset=args.dataset,
        generation=args.generation,
        force=args.force,
        series=args.series,
    )
    try:
        # The consumer's parser is the contract: refuse locally what train would drop.
        require_curated_dataset(parse_retrain_request(request.to_bytes()), settings.curated_uri)
    except (MalformedMessage, RefusedMessage) as exc:
        print(f"gasforecast retrain: {exc}", file=sys.stderr)
        return 2
    try:
        message_id = publish_retrain(make_publisher(), settings.project, settings.retrain_topic, request)
    except TransientError as exc:
        print(f"gasforecast retrain: {exc}", file=sys.stderr)
        return 1
    print(message_id)
    return 0
