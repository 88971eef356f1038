"""`gasforecast replay-dead-letters`: send dead-lettered retrain messages back to $RETRAIN_TOPIC."""

from __future__ import annotations

import argparse
import sys

from gasforecast.platform.config import load_settings
from gasforecast.platform.dead_letters import Replay, ReplayOutcome, replay_dead_letters
from gasforecast.platform.errors import PermanentError, TransientError
from gasforecast.platform.messaging import make_publisher, make_subscriber


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay-dead-letters", help="republish dead-lettered retrain messages, then acknowledge them"
    )
    parser.add_argument(
        "--subscription",
        help="dead-letter subscription (default: $RETRAIN_TOPIC-dead-letter-sub)",
    )
    parser.add_argument("--max", type=_positive_int, default=100, help="at most this many messages (default 100)")
    parser.add_argument("--dry-run", action="store_true", help="list the messages and leave them in place")
    parser.add_argument("--discard-invalid", action="store_true",
                        help="acknowledge (drop) messages the train function would refuse instead of leaving them")
    parser.add_argument(
        "--wait", type=float, default=5.0, help="seconds a pull waits for messages before the run ends (default 5)"
    )
    parser.set_defaults(func=run)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def describe(outcome: ReplayOutcome) -> str:
    """One line per message, e.g. `replayed 12 -> 40 reason=upload {"reason": ...}`."""
    reason = outcome.attributes.get("reason", "-")
    data = outcome.data[:300].decode("utf-8", errors="replace")
    if outcome.status in ("invalid", "discarded"):
        kept = "discarded" if outcome.discarded else "left on the subscription"
        return f"not replayed {outcome.message_id} ({kept}): the train function would refuse it: {outcome.invalid}"
    if outcome.status == "replayed":
        return f"replayed {outcome.message_id} -> {outcome.replayed_as} reason={reason} {data}"
    if outcome.status == "failed":
        return f"failed {outcome.message_id} reason={reason} (left on the subscription): {outcome.error}"
    return f"would replay {outcome.message_id} reason={reason} {data}"


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    subscription = args.subscription or f"{settings.retrain_topic}-dead-letter-sub"
    try:
        replay = Replay(settings.project, subscription, settings.retrain_topic, max_messages=args.max,
                        dry_run=args.dry_run, pull_timeout=args.wait, curated_uri=settings.curated_uri,
                        discard_invalid=args.discard_invalid)
        outcomes = replay_dead_letters(make_subscriber(), make_publisher(), replay)
    except (PermanentError, TransientError) as exc:
        print(f"gasforecast replay-dead-letters: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(describe(outcome))
    if not outcomes:
        print(f"no messages on {subscription}")
    return 1 if any(o.status == "failed" for o in outcomes) else 0
