"""Ingest one uploaded CSV: validate it, quarantine or merge it, archive it, ask for a retrain.

Delivery is at least once and uploads arrive concurrently, so every step is safe to repeat:
- the curated dataset is replaced only with a generation precondition (a lost race is re-merged), and
  its metadata records the last uploads applied, so a redelivered upload is never merged twice;
- the report object written beside the archived (or rejected) copy is the receipt: it is created only
  if absent, so one delivery claims the upload and publishes; others see the receipt and stop;
- a bad file is a permanent outcome (quarantined, acknowledged); storage or Pub/Sub trouble raises
  `TransientError` so that the event is redelivered.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from gasforecast.config import Settings
from gasforecast.contract import ValidationResult, validate_csv
from gasforecast.dataset import MergeReport, curated_to_bytes, read_curated, training_frame, upsert
from gasforecast.errors import TransientError
from gasforecast.logs import get_logger
from gasforecast.messaging import RetrainRequest, publish_retrain, utc_now_iso
from gasforecast.storage import Bucket, PreconditionFailed

log = get_logger("gasforecast.ingest")

INCOMING_PREFIX = "incoming/"
ARCHIVE_PREFIX = "archive"
REJECTED_PREFIX = "rejected"
APPLIED_METADATA_KEY = "applied-uploads"
APPLIED_KEEP = 200  # upload ids remembered in the curated object's metadata (≈3.4 KB of the 8 KB limit)
MERGE_ATTEMPTS = 20
SAFE_STEM_LENGTH = 60
_YEAR_2000, _YEAR_2100 = 946_684_800, 4_102_444_800  # epoch seconds


@dataclass
class IngestOutcome:
    status: str  # "accepted" | "rejected" | "duplicate" | "ignored"
    object_name: str
    generation: int | None
    message_id: str | None = None
    report: dict[str, Any] = field(default_factory=dict)


def upload_id(object_name: str, generation: int) -> str:
    """A short, fixed-length id for one version of one upload (names can be 1 KB of unicode)."""
    return hashlib.sha256(f"{object_name}#{generation}".encode()).hexdigest()[:16]


def safe_stem(object_name: str) -> str:
    """A readable, harmless file stem: ASCII letters, digits, `._-`, no `..`, bounded length."""
    stem = object_name.removeprefix(INCOMING_PREFIX)
    if stem.lower().endswith(".csv"):
        stem = stem[:-4]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip("._-")
    return cleaned[:SAFE_STEM_LENGTH].rstrip("._-") or "upload"


def stored_name(prefix: str, object_name: str, generation: int) -> str:
    """Where a copy of this upload version lives: deterministic, so any redelivery finds its receipt.

    GCS generations are microseconds since the epoch, so the date folder is the upload date; a
    generation that is not a plausible timestamp (years 2000-2100) goes to `undated/`.
    """
    seconds = generation / 1_000_000
    plausible = _YEAR_2000 < seconds < _YEAR_2100
    day = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y/%m/%d") if plausible else "undated"
    digest = hashlib.sha256(object_name.encode()).hexdigest()[:8]
    return f"{prefix}/{day}/{generation}-{safe_stem(object_name)}-{digest}.csv"


def report_name(stored: str) -> str:
    return f"{stored}.report.json"


def is_upload(object_name: str) -> bool:
    return object_name.startswith(INCOMING_PREFIX) and object_name.lower().endswith(".csv")


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8")


def _read_json(bucket: Bucket, name: str) -> tuple[dict[str, Any], int] | None:
    stored = bucket.read(name)
    return None if stored is None else (json.loads(stored.data), stored.generation)


def _seconds_since(iso: str | None) -> float:
    if not iso:
        return float("inf")
    return (datetime.now(timezone.utc) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()


def _create_once(bucket: Bucket, name: str, data: bytes, content_type: str) -> bool:
    """Create an object only if absent; False when an earlier delivery already wrote it."""
    try:
        bucket.write(name, data, content_type=content_type, if_generation_match=0)
    except PreconditionFailed:
        return False
    return True


class _Upload:
    """One delivery of one upload version, with the names and log fields all steps share."""

    def __init__(self, settings: Settings, bucket: Bucket, object_name: str, generation: int, event_id: str | None):
        self.settings = settings
        self.bucket = bucket
        self.name = object_name
        self.generation = generation
        self.id = upload_id(object_name, generation)
        self.archive = stored_name(ARCHIVE_PREFIX, object_name, generation)
        self.rejected = stored_name(REJECTED_PREFIX, object_name, generation)
        self.context = {"object": object_name, "generation": generation, "event_id": event_id}
        self.event_id = event_id

    def outcome(self, status: str, report: dict[str, Any], message_id: str | None = None) -> IngestOutcome:
        return IngestOutcome(status, self.name, self.generation, message_id, report)

    def header(self) -> dict[str, Any]:
        return {"object": self.name, "generation": self.generation, "event_id": self.event_id,
                "source": self.bucket.uri(self.name), "upload_id": self.id}


def _remove_incoming(upload: _Upload) -> None:
    """Delete the processed upload, never a newer upload of the same name.

    The live generation is checked first as well, because fake-gcs-server ignores
    `if_generation_match` on delete (GCS honours it).
    """
    bucket, name, generation = upload.bucket, upload.name, upload.generation
    if bucket.generation(name) == generation and bucket.delete(name, if_generation_match=generation):
        log.info("ingest.incoming_removed", **upload.context)


def _finished_receipt(upload: _Upload) -> dict[str, Any] | None:
    """The receipt of an earlier delivery that finished (published, or rejected), if any."""
    accepted = _read_json(upload.bucket, report_name(upload.archive))
    if accepted and accepted[0].get("message_id"):
        return accepted[0]
    rejected = _read_json(upload.bucket, report_name(upload.rejected))
    return rejected[0] if rejected else None


def _reject(upload: _Upload, data: bytes, result: ValidationResult) -> IngestOutcome:
    """Quarantine the whole file with its report; nothing is merged or published."""
    bucket = upload.bucket
    _create_once(bucket, upload.rejected, data, "application/octet-stream")  # never served as HTML
    report = {**upload.header(), "status": "rejected", "stored_as": bucket.uri(upload.rejected),
              "rejected_at": utc_now_iso(), **result.to_dict()}
    report_uri = bucket.uri(report_name(upload.rejected))
    if not _create_once(bucket, report_name(upload.rejected), _json_bytes(report), "application/json"):
        log.info("ingest.duplicate", report_uri=report_uri, **upload.context)
        return upload.outcome("duplicate", report)
    _remove_incoming(upload)
    first = result.problems[0] if result.problems else None
    log.warning("ingest.rejected", report_uri=report_uri, errors=len(result.problems),
                first_error=str(first) if first else None, **upload.context)
    return upload.outcome("rejected", report)


def _merge(upload: _Upload, incoming) -> tuple[int, MergeReport | None, Any]:
    """Upsert into the curated dataset under a generation precondition, retrying lost races.

    Returns the curated generation holding this upload, the merge report (None when an earlier delivery
    already merged it) and the merged frame.
    """
    settings, bucket = upload.settings, upload.bucket
    for attempt in range(MERGE_ATTEMPTS):
        current = bucket.read(settings.curated_object)
        applied = current.metadata.get(APPLIED_METADATA_KEY, "").split() if current else []
        curated = read_curated(current.data) if current else None
        if upload.id in applied:
            log.info("ingest.already_merged", curated_generation=current.generation, **upload.context)
            return current.generation, None, curated
        merged, report = upsert(curated, incoming, settings.target_column)
        metadata = {APPLIED_METADATA_KEY: " ".join([*applied, upload.id][-APPLIED_KEEP:]),
                    "target": settings.target_column, "last-date": str(report.last_date)}
        try:
            generation = bucket.write(settings.curated_object, curated_to_bytes(merged), content_type="text/csv",
                                      if_generation_match=current.generation if current else 0, metadata=metadata)
        except PreconditionFailed:
            log.info("ingest.merge_conflict", attempt=attempt + 1, **upload.context)
            time.sleep(min(1.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))
            continue
        log.info("ingest.merged", curated_generation=generation, **report.to_dict(), **upload.context)
        return generation, report, merged
    raise TransientError(f"{settings.curated_uri} kept changing: {MERGE_ATTEMPTS} merge attempts lost the race")


def _claim(upload: _Upload, receipt: dict[str, Any], claim_lease_seconds: float) -> int | None:
    """Create the receipt; None when another delivery already published this upload.

    A claim without a message id belongs to a delivery still publishing (retry later) or to one that
    died (older than the lease: take it over).
    """
    bucket, name = upload.bucket, report_name(upload.archive)
    try:
        return bucket.write(name, _json_bytes(receipt), content_type="application/json", if_generation_match=0)
    except PreconditionFailed:
        existing = _read_json(bucket, name)
    if existing is None:
        raise TransientError(f"receipt {bucket.uri(name)} vanished while claiming; retry")
    previous, generation = existing
    if previous.get("message_id"):
        return None
    if _seconds_since(previous.get("claimed_at")) < claim_lease_seconds:
        raise TransientError(f"another delivery of {upload.name} is publishing; retry later")
    log.warning("ingest.claim_taken_over", previous_event_id=previous.get("event_id"), **upload.context)
    try:
        return bucket.write(name, _json_bytes(receipt), content_type="application/json",
                            if_generation_match=generation)
    except PreconditionFailed as exc:
        raise TransientError(f"receipt {bucket.uri(name)} changed while taking over; retry") from exc


def _summary(merge: MergeReport | None, prep: dict[str, Any]) -> str:
    if merge is None:
        return "already merged by an earlier delivery"
    return (f"{merge.rows_added} rows added, {merge.rows_updated} rows updated ({merge.cells_revised} cells revised, "
            f"{merge.cells_filled} filled), columns added: {merge.columns_added or 'none'}; "
            f"{prep['gaps_filled']} short gaps carried forward, {len(prep['long_gaps'])} long target gaps")


def _accept(upload: _Upload, data: bytes, result: ValidationResult, publisher,
            claim_lease_seconds: float) -> IngestOutcome:
    settings, bucket = upload.settings, upload.bucket
    curated_generation, merge, merged = _merge(upload, result.frame)
    _, prep = training_frame(merged, settings.target_column)
    if _create_once(bucket, upload.archive, data, "text/csv"):
        log.info("ingest.archived", archive_uri=bucket.uri(upload.archive), **upload.context)
    receipt = {
        **upload.header(), "status": "accepted", "archived_as": bucket.uri(upload.archive),
        "claimed_at": utc_now_iso(), "message_id": None,
        "curated": {"uri": settings.curated_uri, "generation": curated_generation},
        "merge": merge.to_dict() if merge else {"already_merged": True},
        "preparation": prep.to_dict(), "validation": result.to_dict(),
    }
    claim_generation = _claim(upload, receipt, claim_lease_seconds)
    if claim_generation is None:
        log.info("ingest.duplicate", **upload.context)
        _remove_incoming(upload)
        return upload.outcome("duplicate", receipt)
    request = RetrainRequest(reason="upload", requested_at=utc_now_iso(), dataset=settings.curated_uri,
                             generation=str(curated_generation), source=bucket.uri(upload.name))
    try:
        message_id = publish_retrain(publisher, settings.project, settings.retrain_topic, request)
    except TransientError:
        bucket.delete(report_name(upload.archive), if_generation_match=claim_generation)
        log.error("ingest.publish_failed", **upload.context)
        raise
    log.info("ingest.published", message_id=message_id, curated_generation=curated_generation, **upload.context)
    receipt.update(message_id=message_id, published_at=utc_now_iso())
    try:
        bucket.write(report_name(upload.archive), _json_bytes(receipt), content_type="application/json",
                     if_generation_match=claim_generation)
    except (PreconditionFailed, TransientError) as exc:
        # Published already: acknowledging is right; a later redelivery may publish once more (at least once).
        log.error("ingest.receipt_not_updated", message_id=message_id, error=str(exc), **upload.context)
    _remove_incoming(upload)
    log.info("ingest.accepted", message_id=message_id, summary=_summary(merge, receipt["preparation"]),
             report_uri=bucket.uri(report_name(upload.archive)), **upload.context)
    return upload.outcome("accepted", receipt, message_id)


def handle_object(settings: Settings, data_bucket: Bucket, publisher, *, object_name: str,
                  generation: int | None, event_id: str | None = None,
                  claim_lease_seconds: float = 600.0) -> IngestOutcome:
    """Process one finalized object in the data bucket (any number of times, concurrently)."""
    context = {"object": object_name, "generation": generation, "event_id": event_id}
    if not is_upload(object_name):
        log.info("ingest.ignored", reason="not an incoming/*.csv object", **context)
        return IngestOutcome("ignored", object_name, generation)
    if generation is None:
        generation = data_bucket.generation(object_name)
        if generation is None:
            log.info("ingest.ignored", reason="object does not exist", **context)
            return IngestOutcome("ignored", object_name, None)
    upload = _Upload(settings, data_bucket, object_name, generation, event_id)
    log.info("ingest.received", **upload.context)
    finished = _finished_receipt(upload)
    if finished is not None:
        log.info("ingest.duplicate", previous_status=finished.get("status"), **upload.context)
        _remove_incoming(upload)
        return upload.outcome("duplicate", finished, finished.get("message_id"))
    stored = data_bucket.read(object_name, generation=generation)
    if stored is None:
        log.info("ingest.ignored", reason="this generation no longer exists (deleted or replaced)", **upload.context)
        return upload.outcome("ignored", {})
    result = validate_csv(stored.data, target=settings.target_column, max_bytes=settings.max_upload_bytes,
                          max_columns=settings.max_columns)
    log.info("ingest.validated", ok=result.ok, rows=result.rows, errors=len(result.problems),
             warnings=len(result.warnings), **upload.context)
    if not result.ok:
        return _reject(upload, stored.data, result)
    return _accept(upload, stored.data, result, publisher, claim_lease_seconds)
