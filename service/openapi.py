"""The OpenAPI 3.1 description of the public API (served at /api/v1/openapi.json).

Schemas are JSON Schema 2020-12 (what OpenAPI 3.1 uses), so the tests validate real responses
against them with `jsonschema` directly. Change a response, change its schema here and docs/api.md.
"""

from __future__ import annotations

from typing import Any

from gasforecast.bundle import CALENDARS, QUANTILE_FIELDS
from gasforecast.track_record import STATUSES, WINDOW_NAMES
from service.view import FORMATS

API_VERSION = "1.0.0"

_NUMBER = {"type": "number"}
_NUMBER_OR_NULL = {"type": ["number", "null"]}
_SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_DATE = {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
_DATE_OR_NULL = {"type": ["string", "null"], "format": "date"}
_TEXT = {"type": "string"}
_CALENDAR = {"enum": list(CALENDARS),
             "description": "business: steps and dates are trading days (Monday to Friday); daily: calendar days"}
_HORIZON = {"type": "integer", "minimum": 1}
_BY_HORIZON = {"type": "object", "additionalProperties": _NUMBER_OR_NULL, "description": "horizon (as a string) → value"}


def _object(properties: dict[str, Any], required: list[str] | None = None, extra: bool = False) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": extra,
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_MODEL_REFERENCE = {
    "name": _TEXT,
    "version": {"type": ["string", "null"], "description": "registry version of the champion"},
    "run_id": _TEXT,
    "trained_at": {"type": "string", "format": "date-time"},
}

SCHEMAS: dict[str, Any] = {
    "ModelReference": _object(_MODEL_REFERENCE),
    "ForecastPoint": _object(
        {"date": _DATE, "mean": _NUMBER, "lower_80": _NUMBER, "upper_80": _NUMBER, "lower_95": _NUMBER, "upper_95": _NUMBER,
         "quantiles": {**_object({name: _NUMBER for name in QUANTILE_FIELDS}),
                       "description": "the predictive distribution: q2.5 … q97.5 are its 2.5 % … 97.5 % quantiles, "
                                      "never crossing; lower/upper_80 are q10/q90, lower/upper_95 q2.5/q97.5 (absent "
                                      "from models trained before the grid was served)"}},
        required=["date", "mean", "lower_80", "upper_80", "lower_95", "upper_95"],
    ),
    "Forecast": _object(
        {
            "model": _ref("ModelReference"),
            "target": _TEXT,
            "unit": _TEXT,
            "data_last_date": _DATE,
            "calendar": _CALENDAR,
            "horizon": _HORIZON,
            "points": {"type": "array", "items": _ref("ForecastPoint"), "minItems": 1},
        }
    ),
    "HistoryPoint": _object({"date": _DATE, "value": _NUMBER}),
    "History": _object(
        {
            "model": _ref("ModelReference"),
            "target": _TEXT,
            "unit": _TEXT,
            "days": {"type": "integer", "minimum": 1},
            "points": {"type": "array", "items": _ref("HistoryPoint")},
        }
    ),
    "ModelCard": _object(
        {
            "model": _object(
                {
                    **_MODEL_REFERENCE,
                    "class": {"type": "string", "description": "statsmodels model class, e.g. VAR, VECM, ARIMA"},
                    "label": _TEXT,
                    "orders": {"type": "object", "description": "chosen orders, e.g. {\"lags\": 3}"},
                    "drivers": {"type": "array", "items": _TEXT},
                    "transforms": {"type": ["string", "null"]},
                    "config": {"type": "object"},
                }
            ),
            "target": _TEXT,
            "unit": _TEXT,
            "data": {
                "type": "object",
                "required": ["uri", "first_date", "last_date", "rows"],
                "properties": {
                    "uri": _TEXT,
                    "generation": {"type": ["string", "null"]},
                    "sha256": {"type": ["string", "null"]},
                    "first_date": _DATE,
                    "last_date": _DATE,
                    "rows": {"type": "integer", "minimum": 1},
                    "calendar": _CALENDAR,
                },
            },
            "training_window": _object({"start": _DATE, "end": _DATE}),
            "horizon_max": {"type": "integer", "minimum": 1},
            "evaluation": {
                "oneOf": [{"type": "null"}, _ref("Evaluation")],
                "description": "the headline accuracy: the whole training procedure re-run at past origins on the data "
                               "before each, and scored (null when training ran none)",
            },
            "backtest": _ref("Backtest"),
            "promotion": {"oneOf": [{"type": "null"}, _ref("Promotion")]},
            "sanity": {"type": ["object", "null"],
                       "description": "promotion sanity figures: servable, reasons, band_ratio, max_band_ratio, …"},
        },
        required=["model", "target", "unit", "data", "training_window", "horizon_max", "evaluation", "backtest",
                  "promotion", "sanity"],
    ),
    "Evaluation": _object(
        {
            "kind": {"const": "nested"},
            "origins": {"type": "integer", "minimum": 1},
            "first_origin": _DATE,
            "last_origin": _DATE,
            "step_rows": {"type": "integer", "minimum": 1, "description": "steps of the calendar between origins"},
            "horizons": {"type": "array", "items": _HORIZON},
            "mae_ratio_to_naive": _BY_HORIZON,
            "mean_mae_ratio": _NUMBER_OR_NULL,
            "coverage_80": _BY_HORIZON,
            "coverage_95": _BY_HORIZON,
            "interval_score_ratio": {**_BY_HORIZON,
                                     "description": "mean 80 %/95 % Winkler score ÷ the strongest baseline's "
                                                    "(`baseline`); bundles trained before it: ÷ a full-history "
                                                    "Gaussian random walk's"},
            "crps_ratio": {**_BY_HORIZON, "description": "CRPS on the quantile grid ÷ the strongest baseline's"},
            "baseline": {"type": "string", "description": "the strongest baseline on this series: the lowest CRPS "
                                                          "over the horizons (docs/model.md#baselines)"},
            "baselines": {"type": "object", "description": "every baseline: crps_ratio, interval_score_ratio, "
                                                           "coverage_80, coverage_95 per horizon"},
            "calibration": {"type": "object", "description": "h = 1 Kupiec and Christoffersen p-values per band, "
                                                             "PIT deciles at the first and last horizon, quantile "
                                                             "crossings"},
            "served": {"type": "object", "additionalProperties": {"type": "integer"},
                       "description": "model label → origins at which the procedure served it"},
        },
        required=["kind", "origins", "first_origin", "last_origin", "horizons", "mae_ratio_to_naive",
                  "mean_mae_ratio", "coverage_80", "coverage_95", "interval_score_ratio"],
        extra=True,
    ),
    "Backtest": _object(
        {
            "kind": {"const": "stretch", "description": "absent in bundles trained before the evaluation stretch"},
            "horizons": {"type": "array", "items": _HORIZON},
            "origins": {"type": "integer", "minimum": 0},
            "first_origin": _DATE,
            "last_origin": _DATE,
            "stretch": {"type": "object", "properties": {"first_origin": _DATE, "test_from": _DATE,
                                                         "last_origin": _DATE, "origins": {"type": "integer"},
                                                         "refits": {"type": "integer"}}},
            "selected": {**_TEXT, "description": "label of the served configuration"},
            "challenger": {**_TEXT, "description": "the best candidate on the selection half"},
            "baseline": _TEXT,
            "metrics": {
                "type": "object",
                "description": "candidate label → horizon (as a string) → {selection_ratio, test_ratio}: mean |log "
                               "error| ÷ the naive forecast's on each half of the stretch",
                "additionalProperties": {"type": "object", "additionalProperties": {
                    "type": "object", "additionalProperties": _NUMBER_OR_NULL}},
            },
        },
        required=["horizons", "origins", "selected", "baseline", "metrics"],
        extra=True,
    ),
    "Promotion": _object(
        {
            "decision": {"type": "string",
                         "description": "promoted | kept_champion_config | naive (older bundles: other values)"},
            "served": _TEXT,
            "reason": _TEXT,
            "challenger": _TEXT,
            "champion": {"type": ["string", "null"]},
            "incumbent": _TEXT,
            "challenger_score": _NUMBER_OR_NULL,
            "champion_score": _NUMBER_OR_NULL,
            "test": {"oneOf": [{"type": "null"}, _object(
                {"mean_difference": _NUMBER_OR_NULL, "statistic": _NUMBER_OR_NULL, "p_value": _NUMBER_OR_NULL,
                 "origins": {"type": "integer"}})],
                     "description": "one-sided Diebold–Mariano test of the challenger against the incumbent"},
            "significance": {**_NUMBER_OR_NULL,
                             "description": "the level the test's p-value had to be below (older bundles: absent)"},
        },
        required=["decision", "reason"],
        extra=True,
    ),
    "TrackRecordSummary": _object(
        {
            "horizon": _HORIZON,
            "window": {"enum": list(WINDOW_NAMES), "description": "the last N matured points, or all"},
            "points": {"type": "integer", "minimum": 0},
            "mae": _NUMBER_OR_NULL,
            "naive_mae": _NUMBER_OR_NULL,
            "mae_ratio": {**_NUMBER_OR_NULL, "description": "MAE ÷ the naive (no change) forecast's MAE; below 1 is better"},
            "closer_than_naive": {**_SHARE, "description": "share of forecasts closer to the price than no change"},
            "coverage_80": _SHARE,
            "coverage_95": _SHARE,
        }
    ),
    "TrackRecordPoint": _object(
        {
            "forecast_date": {**_DATE, "description": "last data date of the forecast (its origin)"},
            "target_date": _DATE,
            "horizon": {**_HORIZON, "description": "steps after forecast_date, in the series' calendar"},
            "mean": _NUMBER,
            "lower_80": _NUMBER,
            "upper_80": _NUMBER,
            "lower_95": _NUMBER,
            "upper_95": _NUMBER,
            "actual": {**_NUMBER, "description": "the price first published for target_date: what the point is "
                                                 "scored against"},
            "naive": {**_NUMBER, "description": "the no-change forecast: the price observed on forecast_date"},
            "abs_error": _NUMBER,
            "naive_abs_error": _NUMBER,
            "inside_80": {"type": "boolean"},
            "inside_95": {"type": "boolean"},
            "closer_than_naive": {"type": "boolean"},
            "model_version": {**_TEXT, "description": "registry version that made the forecast"},
            "run_id": _TEXT,
            "revised_actual": {**_NUMBER_OR_NULL, "description": "the price the curated data holds for target_date "
                                                                "now, when it was revised after it was first "
                                                                "published (the score keeps using actual); else null"},
        }
    ),
    "TrackRecord": _object(
        {
            "model": _ref("ModelReference"),
            "target": _TEXT,
            "unit": _TEXT,
            "calendar": _CALENDAR,
            "status": {"enum": ["no_track_record", *STATUSES]},
            "computed_at": {"type": ["string", "null"], "format": "date-time"},
            "data_through": _DATE_OR_NULL,
            "forecasts": {"type": "integer", "minimum": 0, "description": "served forecasts in the ledger"},
            "horizons": {"type": "array", "items": _HORIZON},
            "windows": {"type": "array", "items": _TEXT},
            "thresholds": {"type": "object", "additionalProperties": _NUMBER},
            "breaches": {"type": "array", "items": _object(
                {"horizon": _HORIZON, "window": _TEXT, "measure": _TEXT, "value": _NUMBER, "threshold": _NUMBER,
                 "points": {"type": "integer"}})},
            "summary": {"type": "array", "items": _ref("TrackRecordSummary")},
            "points": {"type": "array", "items": _ref("TrackRecordPoint")},
        }
    ),
    "Health": _object({"status": {"const": "ok"}}),
    "Readiness": _object(
        {
            "status": {"enum": ["ready", "degraded", "unavailable"]},
            "reason": {"type": ["string", "null"]},
            "model_version": {"type": ["string", "null"]},
            "run_id": {"type": ["string", "null"]},
            "last_success_at": {"type": ["string", "null"], "format": "date-time"},
            "data_last_date": _DATE_OR_NULL,
            "data_age_days": {"type": ["integer", "null"]},
            "data_stale": {"type": ["boolean", "null"], "description": "data older than STALE_AFTER_DAYS"},
        }
    ),
    "Error": _object(
        {
            "error": _object(
                {"status": {"type": "integer", "minimum": 400, "maximum": 599}, "message": {"type": "string", "minLength": 1}}
            )
        }
    ),
}


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
_FORMAT = {
    "name": "format",
    "in": "query",
    "required": False,
    "description": "json, or csv for a table with a header row (a download)",
    "schema": {"enum": list(FORMATS), "default": "json"},
}


def _data_operation(summary: str, schema: str, parameters: list[dict[str, Any]], csv: str | None = None) -> dict[str, Any]:
    """A champion-data GET; `csv` describes the table `?format=csv` answers with, when it has one."""
    ok = _json(schema, summary, _ETAG_HEADERS)
    if csv:
        ok["content"]["text/csv"] = {"schema": {"type": "string", "description": csv}}
    return {
        "get": {
            "summary": summary,
            "parameters": parameters + ([_FORMAT] if csv else []) + [_IF_NONE_MATCH],
            "responses": {"200": ok, "304": _NOT_MODIFIED, "400": _BAD_REQUEST, "503": _NO_CHAMPION},
        }
    }


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
                     target_label: str = "UK gas price") -> dict[str, Any]:
    """The document, with the limits and the series name of this deployment filled in."""
    horizon = _int_query("horizon", f"steps ahead in the series' calendar, 1 to {horizon_max}; default {horizon_max}",
                         horizon_max, horizon_max)
    days = _int_query("days", f"calendar days of history up to the last observation, 1 to {history_days_max}",
                      history_days_max, history_days_default)
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
            "/api/v1/forecast": _data_operation("The champion's forecast with 80 % and 95 % intervals", "Forecast", [horizon],
                                                csv="date,mean,lower_80,upper_80,lower_95,upper_95 then q2.5 … q97.5 (when the model serves the quantile grid): the points"),
            "/api/v1/history": _data_operation("Observed prices the champion was trained on", "History", [days],
                                               csv="date,value: the points"),
            "/api/v1/track-record": _data_operation(
                "How the forecasts served before did: per-horizon scores and every matured point", "TrackRecord", [],
                csv="the matured points, one row each, with the columns of TrackRecordPoint"),
            "/api/v1/model": _data_operation("The champion's card, out-of-sample accuracy and how it was chosen", "ModelCard", []),
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
        "components": {"schemas": SCHEMAS},
    }
