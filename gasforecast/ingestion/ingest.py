"""Ingest one uploaded CSV: validate it, then reject, hold or merge it, archive it, ask for a retrain.

Uploads arrive in the uploads bucket; everything ingest writes goes to the data bucket (curated,
archive, rejected, held). Delivery is at least once and uploads arrive concurrently, so every step
is safe to repeat:
- the curated dataset is replaced only with a generation precondition (a lost race is re-checked and
  re-merged), and its metadata records the last uploads applied, so a redelivered upload is never
  merged twice;
- the report object written beside the archived, rejected or held copy is the receipt: it is
  created only if absent, so one delivery claims the upload; others see the receipt and stop;
- a bad, implausible or no-op file is a permanent outcome (reported, acknowledged); storage or
  Pub/Sub trouble raises `TransientError` so that the event is redelivered.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import pandas as pd

from gasforecast.ingestion.contract import ERROR_HINTS, Problem, ValidationResult, validate_csv
from gasforecast.ingestion.dataset import MergeReport, curated_to_bytes, read_curated, training_frame, upsert
from gasforecast.ingestion.plausibility import RULE_HINTS, Suspicion, suspicious_cells
from gasforecast.ingestion.revisions import RULE_HINTS as REVISION_HINTS
from gasforecast.ingestion.revisions import RevisionFinding, RevisionLimits, judge_revisions
from gasforecast.ingestion.series import UndeclaredSeries, series_settings
from gasforecast.ingestion.upload_names import (
    is_csv_name,
    report_name,
    series_folder,
    stored_name,
    unsafe_name_reason,
    upload_id,
)
from gasforecast.platform.config import DEFAULT_SERIES, Settings, is_series_id
from gasforecast.platform.errors import PermanentError, TransientError
from gasforecast.platform.events import ObjectRef
from gasforecast.platform.logs import get_logger
from gasforecast.platform.messaging import Publisher, RetrainRequest, publish_retrain, utc_now_iso
from gasforecast.platform.storage import ObjectStore, PreconditionFailed

log = get_logger("gasforecast.ingestion.ingest")

ARCHIVE_PREFIX = "archive"
REJECTED_PREFIX = "rejected"
HELD_PREFIX = "held"
APPLIED_METADATA_KEY = "applied-uploads"
APPLIED_KEEP = 200  # upload ids remembered in the curated object's metadata (≈3.4 KB of the 8 KB limit)
RETIRED_METADATA_KEY = "retired-columns"  # JSON list of retired driver columns, ignored in later uploads
RETIRED_KEEP = 40  # names remembered (at most 64 characters each: ≈2.7 KB of the 8 KB limit)
MERGE_ATTEMPTS = 20

# Refusals decided from the object's name or size, before its content is read (docs list each code).
OBJECT_HINTS: dict[str, str] = {
    "unsafe_object_name": "Upload the file again under a plain name: no '.' or '..' path segments, no empty "
                          "segments (leading, trailing or doubled '/'), no control characters.",
    "not_csv": "Only objects named *.csv are ingested: export the data as CSV and upload it with a .csv name.",
    "too_large": ERROR_HINTS["too_large"],
    "unsafe_series_id": "Upload into a folder named by a series id (lower-case letters, digits and '-', 2 to 32 "
                        "characters, a letter first), or at the bucket's root for the default series.",
    "undeclared_series": "Declare the series first (gasforecast series add ID …), then upload the file again; "
                         "gasforecast series list shows the declared ones.",
}

# Refusals decided against the curated dataset, after the file passed the contract (docs list each code).
MERGE_HINTS: dict[str, str] = {
    "too_many_curated_columns": "Upload only the columns already curated, or retire drivers that are no longer "
                                "needed first (gasforecast retire-column NAME); MAX_CURATED_COLUMNS sets the limit.",
}

Status = Literal["accepted", "unchanged", "held", "rejected", "duplicate", "ignored"]


@dataclass
class IngestOutcome:
    status: Status
    object_name: str
    generation: int | None
    message_id: str | None = None
    report: dict[str, Any] = field(default_factory=dict)


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False, default=str).encode("utf-8")


def _read_json(bucket: ObjectStore, name: str) -> tuple[dict[str, Any], int] | None:
    stored = bucket.read(name)
    return None if stored is None else (json.loads(stored.data), stored.generation)


def _seconds_since(iso: str | None) -> float:
    if not iso:
        return float("inf")
    return (datetime.now(UTC) - datetime.fromisoformat(iso.replace("Z", "+00:00"))).total_seconds()


def _message_series(settings: Settings) -> str | None:
    """The retrain message's `series`: absent for the default series, as before series existed."""
    return None if settings.series == DEFAULT_SERIES else settings.series


def _create_once(bucket: ObjectStore, name: str, data: bytes, content_type: str) -> bool:
    """Create an object only if absent; False when an earlier delivery already wrote it."""
    try:
        bucket.write(name, data, content_type=content_type, if_generation_match=0)
    except PreconditionFailed:
        return False
    return True


class _Upload:
    """One delivery of one upload version, with the names and log fields all steps share.

    `uploads` is None when the content comes from elsewhere (an accepted held copy): there is then
    no upload object to remove.
    """

    def __init__(self, settings: Settings, data: ObjectStore, uploads: ObjectStore | None, object_name: str,
                 generation: int, event_id: str | None):
        self.settings = settings
        self.bucket = data
        self.uploads = uploads
        self.name = object_name
        self.generation = generation
        self.id = upload_id(object_name, generation)
        self.archive = stored_name(settings.area(ARCHIVE_PREFIX), object_name, generation)
        self.rejected = stored_name(settings.area(REJECTED_PREFIX), object_name, generation)
        self.held = stored_name(settings.area(HELD_PREFIX), object_name, generation)
        self.source = f"gs://{settings.uploads_bucket}/{object_name}"
        self.context: dict[str, Any] = {"object": object_name, "generation": generation, "event_id": event_id}
        self.event_id = event_id

    def outcome(self, status: Status, report: dict[str, Any], message_id: str | None = None) -> IngestOutcome:
        return IngestOutcome(status, self.name, self.generation, message_id, report)

    def header(self) -> dict[str, Any]:
        return {"object": self.name, "generation": self.generation, "event_id": self.event_id,
                "source": self.source, "upload_id": self.id}


def _remove_upload(upload: _Upload) -> None:
    """Delete the processed upload, never a newer upload of the same name.

    The live generation is checked first as well, because fake-gcs-server ignores
    `if_generation_match` on delete (GCS honours it).
    """
    uploads, name, generation = upload.uploads, upload.name, upload.generation
    if uploads is not None and uploads.generation(name) == generation and \
            uploads.delete(name, if_generation_match=generation):
        log.info("ingest.upload_removed", **upload.context)


def _finished_receipt(upload: _Upload) -> dict[str, Any] | None:
    """The receipt of an earlier delivery that finished (published, unchanged, rejected or held), if any."""
    accepted = _read_json(upload.bucket, report_name(upload.archive))
    if accepted and (accepted[0].get("message_id") or accepted[0].get("status") == "unchanged"):
        return accepted[0]
    for stored in (upload.rejected, upload.held):
        found = _read_json(upload.bucket, report_name(stored))
        if found:
            return found[0]
    return None


def _settle(upload: _Upload, status: Status, stored: str, report: dict[str, Any], *, data: bytes | None,
            **log_fields: Any) -> IngestOutcome:
    """Finish an upload that asks for no retrain (rejected, held, unchanged).

    The copy first (when the content was read), then the report, created once: it is the receipt, so
    a redelivery that finds it stops. Only then does the upload leave the uploads bucket (an object
    that was not read stays). Logged as `ingest.<status>`.
    """
    bucket = upload.bucket
    if data is not None:
        if stored == upload.archive:
            _archive(upload, data)
        else:
            _create_once(bucket, stored, data, "application/octet-stream")
    report_uri = bucket.uri(report_name(stored))
    if not _create_once(bucket, report_name(stored), _json_bytes(report), "application/json"):
        log.info("ingest.duplicate", report_uri=report_uri, **upload.context)
        return upload.outcome("duplicate", report)
    if data is not None:
        _remove_upload(upload)
    emit = log.info if status == "unchanged" else log.warning
    emit(f"ingest.{status}", report_uri=report_uri, **log_fields, **upload.context)
    return upload.outcome(status, report)


def _refuse_object(upload: _Upload, code: str, message: str) -> IngestOutcome:
    """Report an object ingest will not read (unsafe name, not a CSV, too large); it is left where it is."""
    problem = Problem(code, message, hint=OBJECT_HINTS[code])
    report = {**upload.header(), "status": "rejected", "stored_as": None, "rejected_at": utc_now_iso(),
              "ok": False, "errors": [problem.to_dict()], "warnings": [], "left_in_uploads": True,
              "note": "the object was not read, copied or deleted: it is still in the uploads bucket"}
    return _settle(upload, "rejected", upload.rejected, report, data=None, errors=1, first_error=str(problem))


def _reject(upload: _Upload, data: bytes, result: ValidationResult) -> IngestOutcome:
    """Quarantine the whole file (never served as HTML) with its report; nothing is merged or published."""
    report = {**upload.header(), "status": "rejected", "stored_as": upload.bucket.uri(upload.rejected),
              "rejected_at": utc_now_iso(), **result.to_dict()}
    first = str(result.problems[0]) if result.problems else None
    return _settle(upload, "rejected", upload.rejected, report, data=data, errors=len(result.problems),
                   first_error=first)


def _suspicion_entry(suspicion: Suspicion, result: ValidationResult) -> dict[str, Any]:
    line = result.line_of(pd.Timestamp(suspicion.date))
    return {"line": line, **suspicion.to_dict(), "hint": RULE_HINTS[suspicion.rule]}


def _describe_suspicion(entry: dict[str, Any]) -> str:
    where = f"line {entry['line']}, " if entry.get("line") else ""
    return f"{where}column {entry['column']!r}, {entry['date']}: {entry['why']}"


def _revision_entry(finding: RevisionFinding) -> dict[str, Any]:
    return {**finding.to_dict(), "hint": REVISION_HINTS[finding.rule]}


def _describe_revision(entry: dict[str, Any]) -> str:
    return f"column {entry['column']!r} is revised ({entry['rule']}): {entry['why']}"


def _hold(upload: _Upload, data: bytes, result: ValidationResult, suspicions: list[Suspicion],
          revisions: list[RevisionFinding]) -> IngestOutcome:
    """Keep an implausible file, or one that rewrites curated history, aside with a report naming each
    suspicious cell and each revision rule broken; nothing is merged."""
    cells = [_suspicion_entry(suspicion, result) for suspicion in suspicions]
    revised = [_revision_entry(finding) for finding in revisions]
    held_uri = upload.bucket.uri(upload.held)
    first = _describe_suspicion(cells[0]) if cells else _describe_revision(revised[0])
    report = {
        **upload.header(), "status": "held", "stored_as": held_uri, "held_at": utc_now_iso(),
        "suspicious": cells,
        "revisions": revised,
        "accept": {"command": f"gasforecast accept {held_uri}",
                   "effect": "merges this file without the plausibility and revision checks (every other check "
                             "still applies) and asks for a retrain; logged as ingest.accept_override"},
        "fix": "if a value is wrong, upload a corrected file instead (any name); this one then stays held",
        **result.to_dict(),
    }
    return _settle(upload, "held", upload.held, report, data=data, errors=len(cells) + len(revised),
                   first_error=first, held_uri=held_uri, revisions=len(revised))


@dataclass
class _Merge:
    """Where an upload stands against the curated dataset after one merge attempt loop."""

    status: Literal["merged", "already_merged", "unchanged", "held", "refused"]
    generation: int | None = None
    report: MergeReport | None = None
    frame: pd.DataFrame | None = None
    suspicions: list[Suspicion] = field(default_factory=list)
    revisions: list[RevisionFinding] = field(default_factory=list)
    refusal: Problem | None = None  # status "refused": a limit of the curated dataset (MERGE_HINTS)
    ignored: list[str] = field(default_factory=list)  # retired columns the upload carried


def retired_columns(metadata: dict[str, str]) -> list[str]:
    """The retired driver columns recorded on the curated object (oldest first)."""
    try:
        names = json.loads(metadata.get(RETIRED_METADATA_KEY) or "[]")
    except json.JSONDecodeError:
        return []
    return [name for name in names if isinstance(name, str)] if isinstance(names, list) else []


def _curated_metadata(metadata: dict[str, str], **changes: str) -> dict[str, str]:
    """The curated object's metadata with `changes` (keys spelled with '-'), keeping everything else."""
    return {**metadata, **{key.replace("_", "-"): value for key, value in changes.items()}}


def _too_many_columns(settings: Settings, curated: pd.DataFrame | None, incoming: pd.DataFrame) -> Problem | None:
    """Refuse an upload whose new columns would take the curated dataset past MAX_CURATED_COLUMNS.

    Only new columns are refused: a dataset already past the limit (the limit was lowered) keeps
    taking its own columns' values until an operator retires some."""
    have = list(curated.columns) if curated is not None else []
    new = [name for name in incoming.dropna(axis=1, how="all").columns if name not in have]
    if not new or len(have) + len(new) <= settings.max_curated_columns:
        return None
    listed = ", ".join(repr(name) for name in new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
    return Problem("too_many_curated_columns",
                   f"the curated dataset has {len(have)} value columns and this file adds {len(new)} ({listed}); "
                   f"the limit is {settings.max_curated_columns}", row=1, hint=MERGE_HINTS["too_many_curated_columns"])


def _changes_nothing(report: MergeReport) -> bool:
    return not (report.rows_added or report.cells_revised or report.cells_filled or report.columns_added)


def _merge(upload: _Upload, incoming: pd.DataFrame, *, judge: bool = True) -> _Merge:
    """Bound, judge (plausibility, revisions) and upsert the upload against the curated version it is
    merged into, under a generation precondition; a lost race is judged and merged again on the fresh
    version. `judge` is False only for an operator's explicit accept; the growth limits always apply."""
    settings, bucket = upload.settings, upload.bucket
    for attempt in range(MERGE_ATTEMPTS):
        current = bucket.read(settings.curated_object)
        metadata = current.metadata if current else {}
        applied = metadata.get(APPLIED_METADATA_KEY, "").split()
        curated = read_curated(current.data) if current else None
        if current is not None and upload.id in applied:
            log.info("ingest.already_merged", curated_generation=current.generation, **upload.context)
            return _Merge("already_merged", current.generation, None, curated)
        ignored = [name for name in retired_columns(metadata) if name in incoming.columns]
        kept = incoming.drop(columns=ignored)
        refusal = _too_many_columns(settings, curated, kept)
        if refusal is not None:
            return _Merge("refused", refusal=refusal)
        if judge:
            suspicions = suspicious_cells(curated, kept)
            revisions = judge_revisions(curated, kept, RevisionLimits.from_settings(settings))
            if suspicions or revisions:
                return _Merge("held", suspicions=suspicions, revisions=revisions)
        merged, report = upsert(curated, kept, settings.target_column)
        if current is not None and _changes_nothing(report):
            return _Merge("unchanged", current.generation, report, curated, ignored=ignored)
        written = _curated_metadata(metadata, applied_uploads=" ".join([*applied, upload.id][-APPLIED_KEEP:]),
                                    target=settings.target_column, last_date=str(report.last_date))
        try:
            generation = bucket.write(settings.curated_object, curated_to_bytes(merged), content_type="text/csv",
                                      if_generation_match=current.generation if current else 0, metadata=written)
        except PreconditionFailed:
            log.info("ingest.merge_conflict", attempt=attempt + 1, **upload.context)
            time.sleep(min(1.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))
            continue
        log.info("ingest.merged", curated_generation=generation, columns_ignored=ignored, **report.to_dict(),
                 **upload.context)
        return _Merge("merged", generation, report, merged, ignored=ignored)
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


def _archive(upload: _Upload, data: bytes) -> None:
    if _create_once(upload.bucket, upload.archive, data, "text/csv"):
        log.info("ingest.archived", archive_uri=upload.bucket.uri(upload.archive), **upload.context)


def _unchanged(upload: _Upload, data: bytes, result: ValidationResult, merge: _Merge) -> IngestOutcome:
    """A file that changes nothing: archived with an "unchanged" receipt; no new generation, no retrain."""
    settings = upload.settings
    receipt = {**upload.header(), "status": "unchanged", "archived_as": upload.bucket.uri(upload.archive),
               "finished_at": utc_now_iso(), "message_id": None,
               "curated": {"uri": settings.curated_uri, "generation": merge.generation},
               "summary": "every value is already in the curated dataset: nothing merged, no retrain",
               "validation": result.to_dict()}
    return _settle(upload, "unchanged", upload.archive, receipt, data=data,
                   curated_generation=merge.generation)


def _publish(upload: _Upload, data: bytes, result: ValidationResult, merge: _Merge, publisher: Publisher,
             claim_lease_seconds: float, extra: dict[str, Any]) -> IngestOutcome:
    settings, bucket = upload.settings, upload.bucket
    _, prep = training_frame(merge.frame, settings.target_column)
    _archive(upload, data)
    receipt = {
        **upload.header(), "status": "accepted", "archived_as": bucket.uri(upload.archive),
        "claimed_at": utc_now_iso(), "message_id": None,
        "curated": {"uri": settings.curated_uri, "generation": merge.generation},
        "merge": merge.report.to_dict() if merge.report else {"already_merged": True},
        "columns_ignored": merge.ignored,
        "preparation": prep.to_dict(), "validation": result.to_dict(), **extra,
    }
    claim_generation = _claim(upload, receipt, claim_lease_seconds)
    if claim_generation is None:
        log.info("ingest.duplicate", **upload.context)
        _remove_upload(upload)
        return upload.outcome("duplicate", receipt)
    request = RetrainRequest(reason="upload", requested_at=utc_now_iso(), dataset=settings.curated_uri,
                             series=_message_series(settings),
                             generation=str(merge.generation), source=upload.source,
                             override="accept" if "override" in extra else None)
    try:
        message_id = publish_retrain(publisher, settings.project, settings.retrain_topic, request)
    except TransientError:
        bucket.delete(report_name(upload.archive), if_generation_match=claim_generation)
        log.error("ingest.publish_failed", **upload.context)
        raise
    log.info("ingest.published", message_id=message_id, curated_generation=merge.generation, **upload.context)
    receipt.update(message_id=message_id, published_at=utc_now_iso())
    try:
        bucket.write(report_name(upload.archive), _json_bytes(receipt), content_type="application/json",
                     if_generation_match=claim_generation)
    except (PreconditionFailed, TransientError) as exc:
        # Published already: acknowledging is right; a later redelivery may publish once more (at least once).
        log.error("ingest.receipt_not_updated", message_id=message_id, error=str(exc), **upload.context)
    _remove_upload(upload)
    log.info("ingest.accepted", message_id=message_id, summary=_summary(merge.report, receipt["preparation"]),
             report_uri=bucket.uri(report_name(upload.archive)), **upload.context)
    return upload.outcome("accepted", receipt, message_id)


def _ingest_valid(upload: _Upload, data: bytes, result: ValidationResult, publisher: Publisher, claim_lease_seconds: float,
                  *, judge: bool = True, extra: dict[str, Any] | None = None) -> IngestOutcome:
    merge = _merge(upload, result.frame, judge=judge)
    if merge.status == "refused" and merge.refusal is not None:
        if not judge:  # an operator's accept: the held copy stays, the command says why
            raise PermanentError(f"the held file cannot be merged: {merge.refusal}")
        return _reject(upload, data, dataclasses.replace(result, ok=False, problems=[merge.refusal]))
    if merge.status == "held":
        return _hold(upload, data, result, merge.suspicions, merge.revisions)
    if merge.status == "unchanged":
        return _unchanged(upload, data, result, merge)
    return _publish(upload, data, result, merge, publisher, claim_lease_seconds, extra or {})


def _validate(settings: Settings, data: bytes, upload: _Upload) -> ValidationResult:
    result = validate_csv(data, target=settings.target_column, max_bytes=settings.max_upload_bytes,
                          max_columns=settings.max_columns, earliest_date=settings.earliest)
    log.info("ingest.validated", ok=result.ok, rows=result.rows, errors=len(result.problems),
             warnings=len(result.warnings), **upload.context)
    return result


def handle_object(settings: Settings, uploads: ObjectStore, data: ObjectStore, publisher: Publisher, ref: ObjectRef,
                  *, claim_lease_seconds: float = 600.0) -> IngestOutcome:
    """Process one object finalized in the uploads bucket (any number of times, concurrently).

    The event's `ref.size` (bytes) lets an oversized object be refused without downloading it.
    """
    object_name, generation, event_id, size = ref.name, ref.generation, ref.event_id, ref.size
    context = {"object": object_name, "generation": generation, "event_id": event_id}
    unsafe = unsafe_name_reason(object_name)
    if unsafe is not None:  # never read, write or delete under this name (see upload_names)
        upload = _Upload(settings, data, None, object_name, generation or 0, event_id)
        return _refuse_object(upload, "unsafe_object_name", f"{unsafe}; ingest does not touch such objects")
    if generation is None:
        generation = uploads.generation(object_name)
        if generation is None:
            log.info("ingest.ignored", reason="object does not exist", **context)
            return IngestOutcome("ignored", object_name, None)
    folder = series_folder(object_name)
    try:
        settings = series_settings(data, settings, folder)
    except UndeclaredSeries as exc:  # reported under the default series' rejected/; the object stays
        code = "undeclared_series" if is_series_id(folder) else "unsafe_series_id"
        return _refuse_object(_Upload(settings, data, None, object_name, generation, event_id), code, str(exc))
    upload = _Upload(settings, data, uploads, object_name, generation, event_id)
    log.info("ingest.received", size=size, **upload.context)
    finished = _finished_receipt(upload)
    if finished is not None:
        log.info("ingest.duplicate", previous_status=finished.get("status"), **upload.context)
        if not finished.get("left_in_uploads"):  # a copy exists, so the upload may go
            _remove_upload(upload)
        return upload.outcome("duplicate", finished, finished.get("message_id"))
    if not is_csv_name(object_name):
        return _refuse_object(upload, "not_csv", "the object's name does not end in .csv")
    if size is not None and size > settings.max_upload_bytes:
        return _refuse_object(upload, "too_large", f"the file has {size:,} bytes; the limit is "
                                                   f"{settings.max_upload_bytes:,} bytes")
    stored = uploads.read(object_name, generation=generation)
    if stored is None:
        log.info("ingest.ignored", reason="this generation no longer exists (deleted or replaced)", **upload.context)
        return upload.outcome("ignored", {})
    result = _validate(settings, stored.data, upload)
    if not result.ok:
        return _reject(upload, stored.data, result)
    return _ingest_valid(upload, stored.data, result, publisher, claim_lease_seconds)


class NotHeld(PermanentError):
    """The named object is not a held upload (or was accepted already and cleaned up)."""


def held_object_name(settings: Settings, uri: str) -> str:
    """`gs://<data bucket>/held/….csv` (or its `.report.json`, or a series' `held/series/<id>/….csv`) →
    the held CSV's object name."""
    prefix = f"gs://{settings.data_bucket}/{HELD_PREFIX}/"
    name = uri.removesuffix(".report.json")
    if not name.startswith(prefix) or not name.endswith(".csv"):
        raise NotHeld(f"{uri!r} is not a held upload: expected {prefix}<yyyy>/<mm>/<dd>/<file>.csv")
    return name.removeprefix(f"gs://{settings.data_bucket}/")


def accept_held(settings: Settings, data: ObjectStore, publisher: Publisher, held_name: str, *,
                claim_lease_seconds: float = 600.0) -> IngestOutcome:
    """Merge a held upload without the plausibility and revision checks (an operator's explicit decision).

    Every other contract check runs again. Safe to repeat: the upload keeps its identity (original
    name and generation), so it is merged and published once; the held copy and report are removed
    only after the archive receipt is final.
    """
    found = _read_json(data, report_name(held_name))
    if found is None:
        raise NotHeld(f"no report {data.uri(report_name(held_name))}: not held, or accepted already "
                      f"(see {ARCHIVE_PREFIX}/)")
    held = found[0]
    if not isinstance(held.get("object"), str) or not isinstance(held.get("generation"), int):
        raise NotHeld(f"{data.uri(report_name(held_name))} does not name the held upload")
    # The series is the held upload's folder; its copy must be exactly where that series holds it.
    settings = series_settings(data, settings, series_folder(held["object"]))
    upload = _Upload(settings, data, None, held["object"], held["generation"], None)
    if upload.held != held_name:
        raise NotHeld(f"{data.uri(held_name)} is not where series {settings.series!r} holds "
                      f"{held['object']!r} ({data.uri(upload.held)})")
    finished = _finished_receipt(upload)
    if finished is not None and finished.get("status") != "held":
        outcome = upload.outcome("duplicate", finished, finished.get("message_id"))
    else:
        stored = data.read(held_name)
        if stored is None:
            raise NotHeld(f"{data.uri(held_name)} does not exist")
        result = _validate(settings, stored.data, upload)
        if not result.ok:
            raise PermanentError("the held file no longer passes the data contract: "
                                 + "; ".join(str(problem) for problem in result.problems[:5]))
        outcome = _ingest_valid(upload, stored.data, result, publisher, claim_lease_seconds, judge=False,
                                extra={"override": {"skipped": ["plausibility", "revisions"],
                                                    "held_as": data.uri(held_name),
                                                    "suspicious": held.get("suspicious", []),
                                                    "revisions": held.get("revisions", [])}})
        log.warning("ingest.accept_override", status=outcome.status, message_id=outcome.message_id,
                    held_uri=data.uri(held_name), suspicious=len(held.get("suspicious", [])), **upload.context)
    data.delete(held_name)
    data.delete(report_name(held_name))
    return outcome


@dataclass
class Retirement:
    """What `retire_column` did: `status` is "retired", "already_retired" or "restored"."""

    status: Literal["retired", "already_retired", "restored"]
    column: str
    curated_generation: int | None
    message_id: str | None = None
    cells_removed: int = 0


def retire_column(settings: Settings, data: ObjectStore, publisher: Publisher, column: str, *, reason: str,
                  restore: bool = False) -> Retirement:
    """Remove a driver column from the curated dataset for good (an operator's decision), and ask for a
    retrain so the next champion is trained without it; `restore` lets later uploads add it again.

    Why: the curated dataset only grows by upserts, so without this nothing could ever shrink it. The
    name is recorded on the curated object (`retired-columns`) and ignored in later uploads, or the
    next full-history upload would bring the column straight back. The values stay recoverable from
    `archive/` and the bucket's noncurrent versions. Written under a generation precondition like
    every merge; logged as `ingest.column_retired` / `ingest.column_restored` (warnings: overrides).
    """
    if column == settings.target_column:
        raise PermanentError(f"{column!r} is the target column: it cannot be retired")
    for attempt in range(MERGE_ATTEMPTS):
        current = data.read(settings.curated_object)
        if current is None:
            raise PermanentError(f"there is no curated dataset at {settings.curated_uri}")
        retired = retired_columns(current.metadata)
        curated = read_curated(current.data)
        if restore:
            if column not in retired:
                raise PermanentError(f"{column!r} is not retired (retired: {', '.join(retired) or 'none'})")
            retired.remove(column)
            frame, cells = curated, 0
        elif column in curated.columns:
            frame, cells = curated.drop(columns=[column]), int(curated[column].notna().sum())
            retired = [name for name in retired if name != column][-(RETIRED_KEEP - 1):] + [column]
        elif column in retired:
            log.info("ingest.column_already_retired", column=column, curated_generation=current.generation)
            return Retirement("already_retired", column, current.generation)
        else:
            raise PermanentError(f"the curated dataset has no column {column!r} "
                                 f"(columns: {', '.join(map(str, curated.columns))})")
        metadata = _curated_metadata(current.metadata, retired_columns=json.dumps(retired, ensure_ascii=False))
        try:
            generation = data.write(settings.curated_object, curated_to_bytes(frame), content_type="text/csv",
                                    if_generation_match=current.generation, metadata=metadata)
        except PreconditionFailed:
            time.sleep(min(1.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.0))
            continue
        break
    else:
        raise TransientError(f"{settings.curated_uri} kept changing: {MERGE_ATTEMPTS} attempts lost the race")
    fields = {"column": column, "reason": reason, "curated_generation": generation, "previous_generation":
              current.generation, "retired_columns": retired}
    if restore:
        log.warning("ingest.column_restored", **fields)
        return Retirement("restored", column, generation)
    request = RetrainRequest(reason="manual", requested_at=utc_now_iso(), dataset=settings.curated_uri,
                             series=_message_series(settings),
                             generation=str(generation), override="retire-column")
    message_id = publish_retrain(publisher, settings.project, settings.retrain_topic, request)
    log.warning("ingest.column_retired", cells_removed=cells, message_id=message_id, **fields)
    return Retirement("retired", column, generation, message_id, cells)
