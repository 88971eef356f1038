"""The retrain message contract (docs/messages.md) and its publisher.

Every producer (ingest, the Composer DAG, the CLI) and the consumer (train) agree through
`RetrainRequest`; parsing is strict because a malformed message must be acknowledged, not retried.
Anyone allowed to publish to the topic is treated as hostile: the data is bounded in size and JSON
nesting before it is parsed (a 200 KB `[[[[…` must not reach the recursive parser), and a message
may only ask to train on the configured curated dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from gasforecast.platform.config import DEFAULT_SERIES, in_series, is_series_id
from gasforecast.platform.errors import PermanentError, TransientError

REASONS = ("upload", "schedule", "manual")
# An operator's override behind the request, logged by the train function as `train.override`, so the
# decision shows in the pipeline's own logs (the CLI that made it runs on the operator's machine).
OVERRIDES = ("accept", "retire-column")
_FIELDS = {"reason", "requested_at", "dataset", "generation", "source", "force", "override", "refused", "series"}
MAX_REFUSED_CHARS = 1000  # why an override was refused: an error message, cut to this length
MAX_MESSAGE_BYTES = 8192  # a real request is about 300 bytes; object names add at most 2 KB
MAX_JSON_DEPTH = 2  # the contract is one flat object


class MalformedMessage(PermanentError):
    """The message does not follow the retrain contract; redelivery cannot fix it."""


class RefusedMessage(PermanentError):
    """A well-formed message asking for what training never does (another dataset); acknowledged."""


@dataclass(frozen=True)
class RetrainRequest:
    reason: str
    requested_at: str
    dataset: str | None = None
    generation: str | None = None
    source: str | None = None
    force: bool = False
    override: str | None = None  # one of OVERRIDES
    # Why the operator's `override` was refused: the message is then a record, not a request; the train
    # function logs it as `train.override_refused` and trains nothing.
    refused: str | None = None
    # The series to train (docs/series.md); absent means the default series, except that an hourly
    # `schedule` message without it is fanned out by the train function into one message per series.
    series: str | None = None

    @property
    def fans_out(self) -> bool:
        return self.series is None and self.reason == "schedule" and self.refused is None

    def to_bytes(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps(body, sort_keys=True).encode("utf-8")

    def attributes(self) -> dict[str, str]:
        attrs = {"reason": self.reason}
        if self.series:
            attrs["series"] = self.series
        if self.generation:
            attrs["generation"] = self.generation
        return attrs


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_timestamp(text: str) -> None:
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedMessage(f"requested_at is not an ISO 8601 timestamp: {text!r}") from exc
    if stamp.tzinfo is None:
        raise MalformedMessage(f"requested_at must carry a time zone (UTC): {text!r}")


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON text, counted without parsing it (no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for character in text:
        if in_string:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth -= 1
    return deepest


def _bounded_text(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_MESSAGE_BYTES:
        raise MalformedMessage(f"message data has {len(raw):,} bytes; the limit is {MAX_MESSAGE_BYTES:,}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"message data is not UTF-8 JSON: {exc}") from exc
    depth = json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise MalformedMessage(f"message data nests {depth} levels deep; the limit is {MAX_JSON_DEPTH}")
    return text


def parse_retrain_request(data: bytes | str) -> RetrainRequest:
    """Parse and check a message body against the contract; raise `MalformedMessage` if it breaks it."""
    text = _bounded_text(data)
    try:
        body: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedMessage(f"message data is not UTF-8 JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MalformedMessage("message data must be a JSON object")
    unknown = set(body) - _FIELDS
    if unknown:
        raise MalformedMessage(f"unknown fields: {sorted(unknown)}")
    reason = body.get("reason")
    if reason not in REASONS:
        raise MalformedMessage(f"reason must be one of {list(REASONS)}, got {reason!r}")
    requested_at = body.get("requested_at")
    if not isinstance(requested_at, str):
        raise MalformedMessage("requested_at must be an ISO 8601 string")
    _parse_timestamp(requested_at)
    for name in ("dataset", "generation", "source"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise MalformedMessage(f"{name} must be a string")
    dataset = body.get("dataset")
    if dataset is not None and not dataset.startswith("gs://"):
        raise MalformedMessage(f"dataset must be a gs:// URI, got {dataset!r}")
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise MalformedMessage("force must be true or false")
    override = body.get("override")
    if override is not None and override not in OVERRIDES:
        raise MalformedMessage(f"override must be one of {list(OVERRIDES)}, got {override!r}")
    refused = body.get("refused")
    if refused is not None and (not isinstance(refused, str) or override is None
                                or len(refused) > MAX_REFUSED_CHARS):
        raise MalformedMessage(f"refused must be a string of at most {MAX_REFUSED_CHARS} characters, "
                               "beside an override")
    series = body.get("series")
    if series is not None and not is_series_id(series):
        raise MalformedMessage("series must be a series id (a slug: lower-case letters, digits and '-', "
                               "2 to 32 characters, a letter first)")
    return RetrainRequest(
        series=series,
        reason=reason,
        requested_at=requested_at,
        dataset=dataset,
        generation=body.get("generation"),
        source=body.get("source"),
        force=force,
        override=override,
        refused=refused,
    )


def require_curated_dataset(request: RetrainRequest, curated_uri: str) -> None:
    """Refuse a request naming any dataset but the configured curated one of its series (`curated_uri`
    is the default series'): whoever can publish must not choose what the public forecast is trained on."""
    bucket_uri, _, curated_object = curated_uri.removeprefix("gs://").partition("/")
    curated_uri = f"gs://{bucket_uri}/{in_series(curated_object, request.series or DEFAULT_SERIES)}"
    if request.dataset is not None and request.dataset != curated_uri:
        shown = request.dataset if len(request.dataset) <= 200 else request.dataset[:200] + "…"
        raise RefusedMessage(f"dataset {shown!r} is not the configured curated dataset {curated_uri}")


class PublishFuture(Protocol):
    def result(self, timeout: float | None = None) -> str: ...


class Publisher(Protocol):
    """What the pipeline uses of `pubsub_v1.PublisherClient` (the tests' fakes implement the same)."""

    def topic_path(self, project: str, topic: str) -> str: ...

    def publish(self, topic: str, data: bytes, **attributes: str) -> PublishFuture: ...


class Subscriber(Protocol):
    """What the dead-letter replay uses of `pubsub_v1.SubscriberClient`."""

    def subscription_path(self, project: str, subscription: str) -> str: ...

    def pull(self, *, subscription: str, max_messages: int, timeout: float) -> Any: ...

    def acknowledge(self, *, subscription: str, ack_ids: list[str]) -> None: ...

    def modify_ack_deadline(self, *, subscription: str, ack_ids: list[str], ack_deadline_seconds: int) -> None: ...


def _pubsub_client(kind: str) -> Any:
    """A Pub/Sub client; anonymous against the emulator (`PUBSUB_EMULATOR_HOST`), so no credential
    lookup leaves the machine."""
    from google.cloud import pubsub_v1

    client_class = getattr(pubsub_v1, kind)
    if os.environ.get("PUBSUB_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return client_class(credentials=AnonymousCredentials())
    return client_class()


def make_publisher() -> Publisher:
    return _pubsub_client("PublisherClient")


def make_subscriber() -> Subscriber:
    return _pubsub_client("SubscriberClient")


def publish(publisher: Publisher, project: str, topic: str, data: bytes, attributes: dict[str, str], timeout: float = 30.0) -> str:
    """Publish one message and wait for its id; failures are transient (the caller is retried)."""
    from google.api_core import exceptions as gexc

    path = publisher.topic_path(project, topic)
    try:
        return publisher.publish(path, data, **attributes).result(timeout=timeout)
    except gexc.NotFound as exc:
        raise TransientError(f"topic {path} does not exist") from exc
    except Exception as exc:  # the publish future surfaces any transport error here
        raise TransientError(f"publishing to {path}: {exc}") from exc


def publish_retrain(publisher: Publisher, project: str, topic: str, request: RetrainRequest) -> str:
    return publish(publisher, project, topic, request.to_bytes(), request.attributes())


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REFUSED_CHARS else text[: MAX_REFUSED_CHARS - 1] + "…"


def publish_refused_override(publisher: Publisher, project: str, topic: str, override: str, why: str,
                             source: str | None = None) -> str:
    """Record an operator's refused override in the pipeline's own logs: the CLI that refused it runs on
    the operator's machine, so it publishes a message that trains nothing and that the train function
    logs as `train.override_refused` (counted by the alert metric like the accepted overrides)."""
    request = RetrainRequest(reason="manual", requested_at=utc_now_iso(), source=_cut(source) if source else None,
                             override=override, refused=_cut(why))
    return publish_retrain(publisher, project, topic, request)
