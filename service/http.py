"""HTTP plumbing shared by every route: cached bodies with ETags, JSON errors, security headers.

Every error, including unknown paths, wrong methods and unexpected exceptions, leaves as
`{"error": {"status": N, "message": "..."}}` so that API clients never have to parse HTML.
"""

from __future__ import annotations

import json

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from gasforecast.platform.logs import end_request_trace, get_logger, start_request_trace
from service.view import JSON_TYPE, Body

log = get_logger(__name__)

NO_STORE = "no-store"
# Data changes only when a new champion is promoted (at most hourly) and is picked up within a minute;
# clients and caches may reuse it briefly and then revalidate cheaply with If-None-Match.
DATA_CACHE = "public, max-age=15"
PAGE_CACHE = "no-cache"  # always revalidate: the freshness line changes daily
PAGE_CSP = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'"


class ApiError(HTTPException):
    """An error with a client-facing message and optional extra headers (e.g. Retry-After)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(description=message)
        self.code = status
        self.extra_headers = headers or {}


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    payload = {"error": {"status": status, "message": message}}
    response = Response(json.dumps(payload), status=status, mimetype=JSON_TYPE)
    response.headers["Cache-Control"] = NO_STORE
    response.headers.update(headers or {})
    return response


def send_body(body: Body, *, cache_control: str = DATA_CACHE, headers: dict[str, str] | None = None) -> Response:
    """Answer with a precomputed body, or 304 when the client already has it (If-None-Match)."""
    # Most requests carry no If-None-Match: skip parsing an absent header.
    not_modified = "HTTP_IF_NONE_MATCH" in request.environ and request.if_none_match.contains_weak(body.etag.strip('"'))
    response = Response(b"" if not_modified else body.data, status=304 if not_modified else 200,
                        content_type=body.mimetype)
    response.headers["ETag"] = body.etag
    response.headers["Cache-Control"] = cache_control
    response.headers.update(headers or {})
    return response


def send_json(payload: object, status: int = 200, cache_control: str = NO_STORE) -> Response:
    """A small dynamic JSON answer (probes), never cached."""
    response = Response(json.dumps(payload, separators=(",", ":")), status=status, mimetype=JSON_TYPE)
    response.headers["Cache-Control"] = cache_control
    return response


def _http_error(error: HTTPException) -> Response:
    headers = dict(getattr(error, "extra_headers", {}))
    if error.code == 405:
        headers["Allow"] = ", ".join(getattr(error, "valid_methods", None) or [])
    message = error.description or error.name
    if error.code == 404 and not isinstance(error, ApiError):
        message = f"no such resource: {request.path} (see /api/v1/openapi.json)"
    elif error.code == 405:
        message = f"method {request.method} is not allowed on {request.path}; allowed: {headers['Allow']}"
    return json_error(error.code or 500, message, headers)


def _unexpected_error(error: Exception) -> Response:
    log.error("service.unhandled_error", exc_info=True, path=request.path, error=type(error).__name__)
    return json_error(500, "internal error; it has been logged")


def _security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


TRACE_HEADER = "X-Cloud-Trace-Context"


def _start_trace() -> None:
    """Log lines of this request carry its Cloud Trace id (`gasforecast.platform.logs.trace_fields`)."""
    settings = current_app.extensions["gasforecast_settings"]
    g.gasforecast_trace = start_request_trace(request.headers.get(TRACE_HEADER), settings.project)


def _end_trace(_error: BaseException | None) -> None:
    token = g.pop("gasforecast_trace", None)
    if token is not None:
        end_request_trace(token)


def install(app: Flask) -> None:
    """Register the JSON error handlers, the request's trace context for logs and the headers every
    response carries."""
    app.before_request(_start_trace)
    app.teardown_request(_end_trace)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.after_request(_security_headers)
