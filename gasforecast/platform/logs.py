"""JSON-line logging that Cloud Logging parses: one line per event, with `severity` and trace ids.

Every line carries the event name plus the ids that let a run be followed from upload to served
forecast (object generation, Pub/Sub message id, MLflow run id, model version). A line logged while
the service answers a request that came with `X-Cloud-Trace-Context` also carries Cloud Logging's
`logging.googleapis.com/trace` (and `spanId`), so the request can be followed in Cloud Logging.

Importing a module never configures logging: each entry point (the functions, the service's app
factory, the CLI) calls `configure()` or `configure_for_cli()` once, so a library user or a test
keeps control of the root logger.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any, TextIO

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"
SAMPLED_FIELD = "logging.googleapis.com/trace_sampled"
# X-Cloud-Trace-Context: TRACE_ID[/SPAN_ID][;o=OPTIONS] (TRACE_ID 32 hex digits, SPAN_ID decimal).
_TRACE_CONTEXT = re.compile(r"(?P<trace>[0-9a-fA-F]{32})(?:/(?P<span>[0-9]{1,20}))?(?:;o=(?P<options>[0-9]+))?")
_request_trace: ContextVar[dict[str, Any] | None] = ContextVar("gasforecast_request_trace", default=None)


def trace_fields(header: str | None, project: str) -> dict[str, Any]:
    """Cloud Logging's trace fields for a request's `X-Cloud-Trace-Context`, so its log lines group under the
    request in Cloud Logging and Cloud Trace; empty when the header is absent or not one (it is client input)."""
    match = _TRACE_CONTEXT.fullmatch((header or "").strip())
    if match is None:
        return {}
    fields: dict[str, Any] = {TRACE_FIELD: f"projects/{project}/traces/{match['trace'].lower()}"}
    if match["span"]:
        # Cloud Logging wants the span id as 16 hex digits; the header carries it in decimal.
        fields[SPAN_FIELD] = f"{int(match['span']) % 2**64:016x}"
    if match["options"] is not None:
        fields[SAMPLED_FIELD] = match["options"] == "1"
    return fields


def start_request_trace(header: str | None, project: str) -> Token[dict[str, Any] | None]:
    """Until `end_request_trace`, every line this thread logs carries the request's trace fields (a context
    variable: each request thread has its own)."""
    return _request_trace.set(trace_fields(header, project) or None)


def end_request_trace(token: Token[dict[str, Any] | None]) -> None:
    _request_trace.reset(token)


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object; structured fields come from `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_request_trace.get() or {})
        entry.update(getattr(record, "fields", {}) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: int = logging.INFO) -> None:
    """Route the root logger to stdout as JSON lines (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonLineFormatter) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLineFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level)


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record is emitted (tests swap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def configure_for_cli() -> None:
    """A command's output owns stdout: event logs go to stderr, warnings and worse only."""
    configure()
    handler = _CurrentStderrHandler()
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


class EventLogger:
    """Logs named events with structured fields: `log.info("ingest.accepted", rows_added=3)`."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _emit(self, level: int, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        self._logger.log(level, event, exc_info=exc_info, extra={"fields": {"event": event, **fields}})

    def debug(self, event: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, False, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._emit(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._emit(logging.WARNING, event, False, fields)

    def error(self, event: str, exc_info: bool = False, **fields: Any) -> None:
        self._emit(logging.ERROR, event, exc_info, fields)


def get_logger(name: str) -> EventLogger:
    """An event logger; no side effect (see the module docstring for who configures output)."""
    return EventLogger(name)
