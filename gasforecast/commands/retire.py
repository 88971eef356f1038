"""`gasforecast retire-column NAME --reason TEXT`: remove a driver column from the curated dataset.

Why: uploads only ever add columns, and a wider dataset makes every ingest and training slower
(MAX_CURATED_COLUMNS refuses uploads beyond the limit). Retiring a driver drops its values from
`curated/history.csv`, ignores the column in later uploads and asks for a retrain, so the next
champion is trained without it. Logged as `ingest.column_retired`; `--restore` lets uploads add the
column again (its values come back with the next upload that carries them). A refused retirement is
logged as `ingest.retire_refused` and reaches the pipeline's logs as `train.override_refused`.
"""

from __future__ import annotations

import argparse
import sys

from gasforecast.commands.refusals import record_refusal
from gasforecast.platform.config import load_settings
from gasforecast.platform.errors import PermanentError, TransientError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("retire-column", help="remove a driver column from the curated dataset, then retrain")
    parser.add_argument("column", help="the driver column's name, exactly as in the curated dataset")
    parser.add_argument("--reason", required=True, help="why (kept in the log line, e.g. 'feed discontinued')")
    parser.add_argument("--restore", action="store_true", help="let uploads add the column again")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from gasforecast.ingestion.ingest import retire_column
    from gasforecast.platform.messaging import make_publisher
    from gasforecast.platform.storage import Bucket, make_client

    settings = load_settings()
    try:
        data = Bucket(make_client(settings.project), settings.data_bucket)
        done = retire_column(settings, data, make_publisher(), args.column, reason=args.reason, restore=args.restore)
    except PermanentError as exc:
        print(f"gasforecast retire-column: {exc}", file=sys.stderr)
        return record_refusal(settings, "retire-column", exc, column=args.column)
    except TransientError as exc:
        print(f"gasforecast retire-column: {exc} (run the same command again)", file=sys.stderr)
        return 1
    verdicts = {
        "retired": f"retired: {done.cells_removed} values removed from {settings.curated_uri} (generation "
                   f"{done.curated_generation}), retrain message {done.message_id}",
        "already_retired": f"already retired (curated generation {done.curated_generation})",
        "restored": "restored: later uploads may add the column again",
    }
    print(f"{done.column}: {verdicts[done.status]}")
    return 0
