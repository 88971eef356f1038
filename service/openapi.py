"""The OpenAPI 3.1 description of the public API (served at /api/v1/openapi.json).

Schemas are JSON Schema 2020-12 (what OpenAPI 3.1 uses), generated from the typed answers in
`service.schemas` (themselves built from the bundle documents, `gasforecast.publication.documents`), so a field is
declared once; this module keeps the paths, parameters and descriptions. The tests validate real
responses against the document with `jsonschema`.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic.json_schema import models_json_schema

from gasforecast.platform.config import Settings
from service.schemas import RESPONSES
from service.view import FORMATS

API_VERSION = "1.0.0"
_COMPONENT = "#/components/schemas/{model}"


@functools.cache
def components() -> dict[str, Any]:
    """Every answer's schema and the schemas they refer to, generated from `service.schemas` (as the
    answers are serialised: aliases such as `class` and `q2.5`, fields a writer leaves out not required).
    Generated when first asked for, not at import: it is not on the service's cold start."""
    _, document = models_json_schema([(model, "serialization") for model in RESPONSES], ref_template=_COMPONENT)
    return document["$defs"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _COMPONENT.format(model=name)}


def _json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


_ETAG_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "changes when the body changes"},
    "Cache-Control": {"schema": {"type": "string"}},
}
_NOT_MODIFIED = {"description": "the client's copy (If-None-Match) is current"}
_IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}}
_NO_CHAMPION = _json("Error", "no champion model has been promoted yet (Retry-After says when to try again)")
_BAD_REQUEST = _json("Error", "a query parameter is not valid, unknown or repeated (the message lists the accepted ones)")
_NO_SERIES = _json("Error", "no such series is served (GET /api/v1/series lists them)")
_SERIES = {"name": "series", "in": "path", "required": True, "description": "a series id, from /api/v1/series",
           "schema": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,31}$"}}
_FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "json, or csv for a table with a header row (a download)",
    "schema": {"enum": list(FORMATS), "default": "json"},
}


_SERIES_CELLS = ("; then, on every row, label,unit,product,source,synthetic: what the series is (SeriesDeclaration; "
                 "synthetic is true for generated prices)")


def _data_operation(summary: str, schema: str, parameters: list[dict[str, Any]], csv: str | None = None) -> dict[str, Any]:
    """A champion-data GET; `csv` describes the table `?format=csv` answers with, when it has one."""
    ok = _json(schema, summary, _ETAG_HEADERS)
    if csv:
        ok["content"]["text/csv"] = {"schema": {"type": "string", "description": csv + _SERIES_CELLS}}
    return {
        "get": {
            "summary": summary,
            "parameters": parameters + ([_FORMAT] if csv else []) + [_IF_NONE_MATCH],
            "responses": {"200": ok, "304": _NOT_MODIFIED, "400": _BAD_REQUEST, "503": _NO_CHAMPION},
        }
    }


def _of_series(operation: dict[str, Any]) -> dict[str, Any]:
    """The same operation for one named series (`/api/v1/series/{series}/…`)."""
    get = operation["get"]
    return {"get": {**get, "summary": f"{get['summary']}, for one series", "parameters": [_SERIES, *get["parameters"]],
                    "responses": {**get["responses"], "404": _NO_SERIES}}}


def _int_query(name: str, description: str, maximum: int, default: int) -> dict[str, Any]:
    """An optional integer query parameter from 1 to `maximum`."""
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "integer", "minimum": 1, "maximum": maximum, "default": default},
    }


def openapi_document(horizon_max: int, history_days_default: int, history_days_max: int,
                     target_label: str = Settings().target_label) -> dict[str, Any]:
    """The document, with the limits and the series name of this deployment filled in."""
    horizon = _int_query("horizon", f"steps ahead in the series' calendar, 1 to {horizon_max}; default {horizon_max}",
                         horizon_max, horizon_max)
    days = _int_query("days", f"calendar days of history up to the last observation, 1 to {history_days_max}",
                      history_days_max, history_days_default)
    data_paths = {
        "forecast": _data_operation("The champion's forecast with 80 % and 95 % intervals", "Forecast", [horizon],
                                    csv="date,mean,lower_80,upper_80,lower_95,upper_95 then q2.5 … q97.5 (when the model serves the quantile grid): the points"),
        "history": _data_operation("Observed prices the champion was trained on", "History", [days],
                                   csv="date,value: the points"),
        "track-record": _data_operation(
            "How the forecasts served before did: per-horizon scores and every matured point", "TrackRecord", [],
            csv="the matured points, one row each, with the columns of TrackRecordPoint"),
        "model": _data_operation("The champion's card, out-of-sample accuracy and how it was chosen", "ModelCard", []),
    }
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": f"{target_label} forecast API",
            "version": API_VERSION,
            "description": f"Forecasts of the {target_label} by the current champion model, and how the forecasts "
                           "it served did. See docs/api.md.",
        },
        "paths": {
            **{f"/api/v1/{name}": operation for name, operation in data_paths.items()},
            "/api/v1/series": {"get": {"summary": "The served series, the default first", "responses": {
                "200": _json("SeriesList", "every series this deployment serves"), "400": _BAD_REQUEST}}},
            **{f"/api/v1/series/{{series}}/{name}": _of_series(operation) for name, operation in data_paths.items()},
            "/healthz": {"get": {"summary": "The process is alive", "responses": {"200": _json("Health", "alive")}}},
            "/readyz": {
                "get": {
                    "summary": "Whether a champion is served and current",
                    "responses": {
                        "200": _json("Readiness", "ready, or degraded: serving the cached champion while refreshes fail"),
                        "503": _json("Readiness", "no champion to serve yet"),
                    },
                }
            },
            "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {
                "200": {"description": "OpenAPI 3.1"}, "400": _BAD_REQUEST}}},
        },
        "components": {"schemas": components()},
    }
