"""Replaying retrain messages that Pub/Sub gave up on (the `$RETRAIN_TOPIC-dead-letter` topic).

After the train function has failed a message five times Pub/Sub moves it to the dead-letter topic.
Once the cause is fixed, an operator sends those messages back to the retrain topic unchanged
(data and attributes) so the normal at-least-once path handles them. A message is acknowledged on
the dead-letter subscription only after its copy is published, so a failed replay loses nothing.
A message the train function would refuse or find malformed is never replayed: it is reported, and
left on the subscription unless the operator asks to discard such messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gasforecast.platform.errors import PermanentError, TransientError
from gasforecast.platform.logs import get_logger
from gasforecast.platform.messaging import (
    MalformedMessage,
    Publisher,
    RefusedMessage,
    Subscriber,
    parse_retrain_request,
    publish,
    require_curated_dataset,
)

# Pub/Sub adds these when it dead-letters a message; they describe the failed delivery, not the request.
DEAD_LETTER_ATTRIBUTE_PREFIX = "CloudPubSubDeadLetterSource"

log = get_logger(__name__)


@dataclass(frozen=True)
class ReplayOutcome:
    """What happened to one dead-lettered message: replayed, failed, or only listed (dry run)."""

    message_id: str
    data: bytes
    attributes: dict[str, str]
    replayed_as: str | None = None
    error: str | None = None
    invalid: str | None = None  # why the train function would refuse it (never replayed)
    discarded: bool = False

    @property
    def status(self) -> str:
        if self.invalid is not None:
            return "discarded" if self.discarded else "invalid"
        if self.error is not None:
            return "failed"
        return "replayed" if self.replayed_as is not None else "listed"


@dataclass(frozen=True)
class Replay:
    """One replay run: from which subscription to which topic, how many messages and how.

    With `curated_uri`, a message the train function would refuse (malformed, or naming another
    dataset) is not replayed: it is handed back, or acknowledged (dropped) with `discard_invalid`.
    """

    project: str
    subscription: str
    topic: str
    max_messages: int = 100
    dry_run: bool = False
    pull_timeout: float = 10.0
    curated_uri: str | None = None
    discard_invalid: bool = False


def refusal(data: bytes, curated_uri: str) -> str | None:
    """Why the train function would acknowledge this data without training, or None."""
    try:
        require_curated_dataset(parse_retrain_request(data), curated_uri)
    except (MalformedMessage, RefusedMessage) as exc:
        return str(exc)
    return None


def republishable_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """The message's own attributes, without the ones Pub/Sub added when dead-lettering it."""
    return {k: v for k, v in attributes.items() if not k.startswith(DEAD_LETTER_ATTRIBUTE_PREFIX)}


def _pull_batch(subscriber: Subscriber, subscription_path: str, max_messages: int, timeout: float) -> list[Any]:
    from google.api_core import exceptions as gexc

    try:
        response = subscriber.pull(subscription=subscription_path, max_messages=max_messages, timeout=timeout)
    except gexc.DeadlineExceeded:
        return []
    except gexc.NotFound as exc:
        raise PermanentError(f"subscription {subscription_path} does not exist") from exc
    except gexc.GoogleAPICallError as exc:
        raise TransientError(f"pulling from {subscription_path}: {exc}") from exc
    return list(response.received_messages)


def replay_dead_letters(subscriber: Subscriber, publisher: Publisher, replay: Replay) -> list[ReplayOutcome]:
    """Move up to `replay.max_messages` messages from its subscription back to its topic, in pull order.

    Each message is acknowledged only once its copy is published. Messages that failed to publish,
    and every message of a dry run, are handed back (ack deadline 0) at the end, so they are
    neither lost nor pulled twice within one run; so are the messages the train function would refuse
    (see `Replay`), unless they are discarded.
    """
    subscription_path = subscriber.subscription_path(replay.project, replay.subscription)
    outcomes: list[ReplayOutcome] = []
    seen: set[str] = set()
    handed_back: list[str] = []
    try:
        while len(outcomes) < replay.max_messages:
            batch = _pull_batch(subscriber, subscription_path, replay.max_messages - len(outcomes), replay.pull_timeout)
            fresh = [m for m in batch if m.message.message_id not in seen]
            handed_back.extend(m.ack_id for m in batch if m.message.message_id in seen)
            if not fresh:
                break
            for received in fresh:
                seen.add(received.message.message_id)
                outcome = _replay_one(publisher, replay, received)
                if outcome.status in ("replayed", "discarded"):
                    _acknowledge(subscriber, subscription_path, received.ack_id)
                else:
                    handed_back.append(received.ack_id)
                outcomes.append(outcome)
    finally:
        _hand_back(subscriber, subscription_path, handed_back)
    counts = {status: sum(o.status == status for o in outcomes)
              for status in ("replayed", "failed", "listed", "invalid", "discarded")}
    log.info("dead_letters.replay_finished", subscription=replay.subscription, topic=replay.topic,
             dry_run=replay.dry_run, **counts)
    return outcomes


def _replay_one(publisher: Publisher, replay: Replay, received: Any) -> ReplayOutcome:
    message = received.message
    attributes = republishable_attributes(message.attributes)
    outcome = ReplayOutcome(message_id=message.message_id, data=bytes(message.data), attributes=attributes)
    invalid = refusal(outcome.data, replay.curated_uri) if replay.curated_uri is not None else None
    if invalid is not None:
        log.warning("dead_letters.not_replayed", message_id=message.message_id, reason=invalid)
        return replace(outcome, invalid=invalid, discarded=replay.discard_invalid and not replay.dry_run)
    if replay.dry_run:
        return outcome
    try:
        new_id = publish(publisher, replay.project, replay.topic, outcome.data, attributes)
    except TransientError as exc:
        log.warning("dead_letters.replay_failed", message_id=message.message_id, topic=replay.topic, error=str(exc))
        return replace(outcome, error=str(exc))
    return replace(outcome, replayed_as=new_id)


def _acknowledge(subscriber: Subscriber, subscription_path: str, ack_id: str) -> None:
    from google.api_core import exceptions as gexc

    try:
        subscriber.acknowledge(subscription=subscription_path, ack_ids=[ack_id])
    except gexc.GoogleAPICallError as exc:
        # The copy is already published: stopping here means at worst one duplicate on the next
        # replay, which training tolerates (it is keyed by dataset generation).
        raise TransientError(f"acknowledging on {subscription_path}: {exc}") from exc


def _hand_back(subscriber: Subscriber, subscription_path: str, ack_ids: list[str]) -> None:
    """Make unreplayed messages deliverable again now rather than when their ack deadline expires."""
    from google.api_core import exceptions as gexc

    if not ack_ids:
        return
    try:
        subscriber.modify_ack_deadline(subscription=subscription_path, ack_ids=ack_ids, ack_deadline_seconds=0)
    except gexc.GoogleAPICallError as exc:
        # Harmless: the messages come back by themselves once their ack deadline passes.
        log.warning("dead_letters.hand_back_failed", subscription=subscription_path, error=str(exc))
