"""`gasforecast accept gs://<data bucket>/held/…csv`: merge an upload that plausibility held.

An operator's explicit decision that the suspicious values are genuine (a real price spike): the file
is merged without the plausibility check (every other check of the data contract still applies), a
retrain is requested (its message says `override: "accept"`, so the train function logs
`train.override`), and the override is logged as `ingest.accept_override`. A refused accept is logged
as `ingest.accept_refused` and published as a record the train function logs as
`train.override_refused`, so it reaches the pipeline's logs too. Safe to run again.
"""

from __future__ import annotations

import argparse
import sys

from gasforecast.commands.refusals import record_refusal
from gasforecast.platform.config import load_settings
from gasforecast.platform.errors import PermanentError, TransientError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("accept", help="merge a held upload without the plausibility check, then retrain")
    parser.add_argument("held", help="gs://<data bucket>/held/<yyyy>/<mm>/<dd>/<file>.csv (or its .report.json)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gasforecast.ingestion.ingest import accept_held, held_object_name
    from gasforecast.platform.messaging import make_publisher
    from gasforecast.platform.storage import Bucket, make_client

    settings = load_settings()
    try:
        name = held_object_name(settings, args.held)
        data = Bucket(make_client(settings.project), settings.data_bucket)
        outcome = accept_held(settings, data, make_publisher(), name)
    except PermanentError as exc:
        print(f"gasforecast accept: {exc}", file=sys.stderr)
        return record_refusal(settings, "accept", exc, held=args.held)
    except TransientError as exc:
        print(f"gasforecast accept: {exc} (nothing is lost: run the same command again)", file=sys.stderr)
        return 1
    verdicts = {
        "accepted": f"accepted: merged into {settings.curated_uri}, retrain message {outcome.message_id}",
        "unchanged": "accepted: every value was already in the curated dataset; nothing merged, no retrain",
        "duplicate": "already accepted earlier; the held copy is cleaned up",
    }
    print(f"{outcome.object_name} (generation {outcome.generation}): {verdicts[outcome.status]}")
    return 0
