"""Validate an HTTP answer against the service's own OpenAPI document (JSON Schema 2020-12)."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator, FormatChecker


def response_schema(document: dict[str, Any], path: str, status: int) -> dict[str, Any]:
    """The schema the document declares for `GET path` answering `status` (KeyError if undeclared)."""
    response = document["paths"][path]["get"]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


def validate_response(document: dict[str, Any], path: str, status: int, body: Any) -> None:
    """Raise `jsonschema.ValidationError` unless `body` matches what the document promises."""
    schema = {**response_schema(document, path, status), "components": document["components"]}
    Draft202012Validator.check_schema(schema)
    Draft202012Validator(schema, format_checker=FormatChecker()).validate(body)
