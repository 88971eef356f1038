"""The JSON API v1 through Flask's test client: contract, errors, caching headers, champion changes."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from jsonschema import ValidationError
from openapi_check import validate_response
from service_fakes import FakeSource, make_bundle, rewritten

from gasforecast.platform.config import Settings
from gasforecast.platform.errors import TransientError
from gasforecast.publication.bundle import QUANTILE_FIELDS
from gasforecast.scoring.track_record import POINT_COLUMNS as TRACK_COLUMNS
from service.app import create_app
from service.view import SERIES_COLUMNS


def _error(response, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and body["error"]["status"] == status
    return body["error"]["message"]


@pytest.fixture
def openapi(service_client) -> dict:
    return service_client.get("/api/v1/openapi.json").get_json()


def test_forecast_defaults_to_the_maximum_horizon_and_matches_the_bundle(service_client, fake_source):
    response = service_client.get("/api/v1/forecast")
    body = response.get_json()
    bundle = fake_source.bundles["1"]
    assert response.status_code == 200 and body["horizon"] == 90 and len(body["points"]) == 90
    assert body["points"] == [point.to_json_dict() for point in bundle.points] and set(body["points"][0]["quantiles"]) == set(QUANTILE_FIELDS)
    assert body["model"] == {"name": "uk-gas-price-forecaster", "version": "1", "run_id": "run-aaaa",
                             "trained_at": "2024-12-30T17:00:00Z"}
    assert (body["target"], body["unit"], body["data_last_date"]) == ("uk_gas_price", "pence/therm", "2024-12-30")
    assert response.headers["X-Model-Version"] == "1"


def test_forecast_is_truncated_to_the_horizon(service_client, fake_source):
    body = service_client.get("/api/v1/forecast?horizon=30").get_json()
    assert body["horizon"] == 30 and body["points"] == [p.to_json_dict() for p in fake_source.bundles["1"].points[:30]]


@pytest.mark.parametrize("value", ["0", "91", "abc", "-1", "1.5", "", "1e2", "²", "9" * 5000])
def test_bad_horizon_is_a_400_that_says_what_is_allowed(service_client, value):
    message = _error(service_client.get(f"/api/v1/forecast?horizon={value}"), 400)
    assert "horizon must be an integer from 1 to 90" in message


def test_horizon_limit_follows_the_setting():
    app = create_app(Settings(forecast_horizon_max=30), champion_source=FakeSource(make_bundle()))
    client = app.test_client()
    assert len(client.get("/api/v1/forecast").get_json()["points"]) == 30
    assert "from 1 to 30" in _error(client.get("/api/v1/forecast?horizon=31"), 400)


def test_history_counts_calendar_days_back_from_the_last_observation(service_client):
    default = service_client.get("/api/v1/history").get_json()
    assert default["days"] == 365 and len(default["points"]) == 365
    three = service_client.get("/api/v1/history?days=3").get_json()
    assert [p["date"] for p in three["points"]] == ["2024-12-28", "2024-12-29", "2024-12-30"]
    everything = service_client.get("/api/v1/history?days=3000").get_json()
    assert len(everything["points"]) == 400
    assert "days must be an integer" in _error(service_client.get("/api/v1/history?days=0"), 400)
    assert "days must be an integer" in _error(service_client.get("/api/v1/history?days=99999"), 400)


def test_model_card_carries_the_champion_its_accuracy_and_the_gate_that_chose_it(service_client, fake_source):
    card = service_client.get("/api/v1/model").get_json()
    assert card["model"]["class"] == "VAR" and card["model"]["orders"] == {"lags": 3}
    assert card["model"]["drivers"] == ["ttf_price", "hdd"] and card["model"]["version"] == "1"
    assert card["data"]["last_date"] == "2024-12-30" and card["horizon_max"] == 90
    forecast = fake_source.bundles["1"].forecast.to_json_dict()
    for name in ("evaluation", "backtest", "promotion", "sanity"):  # as training recorded them
        assert card[name] == forecast[name], name
    assert card["evaluation"]["kind"] == "nested" and card["backtest"]["kind"] == "stretch"
    assert card["promotion"]["served"] == card["model"]["label"] and card["sanity"]["servable"] is True
    assert set(card["backtest"]["metrics"]["naive"]["30"]) == {"selection_ratio", "test_ratio"}


@pytest.mark.parametrize("options", [{"decision": "naive", "evaluation": False}, {"decision": "kept_champion_config"}],
                         ids=["naive-without-evaluation", "kept"])
def test_every_kind_of_model_card_matches_the_openapi_document(openapi, options):
    client = create_app(Settings(), champion_source=FakeSource(make_bundle(**options))).test_client()
    validate_response(openapi, "/api/v1/model", 200, client.get("/api/v1/model").get_json())


@pytest.mark.parametrize(
    "path", ["/api/v1/forecast", "/api/v1/forecast?horizon=7", "/api/v1/history?days=30", "/api/v1/model",
             "/api/v1/track-record", "/healthz", "/readyz"]
)
def test_responses_match_the_openapi_document(service_client, openapi, path):
    response = service_client.get(path)
    validate_response(openapi, path.split("?")[0], response.status_code, response.get_json())


def test_the_openapi_check_rejects_a_response_that_breaks_the_contract(service_client, openapi):
    body = service_client.get("/api/v1/forecast?horizon=2").get_json()
    del body["points"][0]["upper_95"]
    with pytest.raises(ValidationError):
        validate_response(openapi, "/api/v1/forecast", 200, body)


def test_openapi_document_declares_the_deployment_limits(openapi):
    assert openapi["openapi"].startswith("3.1")
    horizon = openapi["paths"]["/api/v1/forecast"]["get"]["parameters"][0]
    assert horizon["schema"]["maximum"] == 90 and horizon["schema"]["default"] == 90


def test_etag_revalidation_answers_304_without_a_body(service_client):
    first = service_client.get("/api/v1/forecast?horizon=30")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"].startswith("public, max-age=")
    again = service_client.get("/api/v1/forecast?horizon=30", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    weak = service_client.get("/api/v1/forecast?horizon=30", headers={"If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304
    other = service_client.get("/api/v1/forecast?horizon=29", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["ETag"] != etag


def test_unknown_paths_and_wrong_methods_are_json_errors(service_client):
    assert "/nowhere" in _error(service_client.get("/nowhere"), 404)
    assert "/api/v1/nowhere" in _error(service_client.get("/api/v1/nowhere"), 404)
    response = service_client.post("/api/v1/forecast")
    assert "POST" in _error(response, 405)
    assert "GET" in response.headers["Allow"]
    assert _error(service_client.delete("/"), 405)


def test_unexpected_exceptions_are_json_errors_without_a_traceback(unit_settings):
    app = create_app(unit_settings, champion_source=FakeSource(make_bundle()))

    def explode():
        raise RuntimeError("secret internals")

    app.add_url_rule("/explode", view_func=explode)
    response = app.test_client().get("/explode")
    message = _error(response, 500)
    assert "secret" not in message and b"Traceback" not in response.data


def test_head_requests_are_answered(service_client):
    response = service_client.head("/api/v1/forecast?horizon=5")
    assert response.status_code == 200 and response.headers["ETag"]


def test_without_a_champion_data_endpoints_answer_503_with_a_reason(unit_settings):
    source = FakeSource(make_bundle())
    source.alias = None
    client = create_app(unit_settings, champion_source=source).test_client()
    openapi = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/forecast", "/api/v1/history", "/api/v1/model", "/api/v1/track-record"):
        response = client.get(path)
        assert "no champion" in _error(response, 503)
        assert response.headers["Retry-After"] == "30"
        validate_response(openapi, path, 503, response.get_json())
    assert "horizon must be" in _error(client.get("/api/v1/forecast?horizon=0"), 400)
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["status"] == "unavailable"
    validate_response(openapi, "/readyz", 503, ready.get_json())
    assert client.get("/healthz").status_code == 200


def test_registry_outage_keeps_serving_and_readyz_says_degraded(service_app, service_client, fake_source, manual_clock):
    assert service_client.get("/readyz").get_json()["status"] == "ready"
    fake_source.failure = TransientError("MLflow alias lookup failed")
    manual_clock.advance(20)
    service_client.get("/api/v1/forecast")  # due: starts the refresh, which fails
    assert service_app.extensions["champion_cache"].wait_idle(5)
    ready = service_client.get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 200 and body["status"] == "degraded" and "TransientError" in body["reason"]
    assert body["model_version"] == "1"
    assert service_client.get("/api/v1/forecast?horizon=3").status_code == 200


def test_a_new_champion_is_served_without_restart(service_app, service_client, fake_source, manual_clock):
    old_etag = service_client.get("/api/v1/forecast?horizon=10").headers["ETag"]
    fake_source.promote(make_bundle("2", "run-bbbb", level=150.0, seed=2))
    manual_clock.advance(15)
    service_client.get("/healthz")  # liveness does not touch the champion
    assert service_app.extensions["champion_cache"].wait_idle(5)
    assert fake_source.pointer_calls == 1
    service_client.get("/api/v1/model")
    assert service_app.extensions["champion_cache"].wait_idle(5)
    response = service_client.get("/api/v1/forecast?horizon=10", headers={"If-None-Match": old_etag})
    assert response.status_code == 200 and response.get_json()["model"]["version"] == "2"
    assert json.loads(service_client.get("/readyz").data)["model_version"] == "2"


def test_track_record_serves_the_shipped_record_with_the_versions_that_made_each_forecast(service_client, openapi,
                                                                                         fake_source):
    response = service_client.get("/api/v1/track-record")
    body = response.get_json()
    validate_response(openapi, "/api/v1/track-record", 200, body)
    shipped = fake_source.bundles["1"].track_record.to_json_dict()
    assert body["status"] == shipped["status"] and body["summary"] == shipped["summary"]
    assert body["points"] == [{**p, "revised_after_scoring": False} for p in shipped["points"]]
    assert {p["horizon"] for p in body["points"]} == {1, 7, 14, 30}
    assert {p["model_version"] for p in body["points"]} > {"1"}  # made by earlier versions, not the champion
    assert body["model"]["version"] == "1" and response.headers["X-Model-Version"] == "1"


def test_a_champion_without_a_track_record_answers_an_empty_one(unit_settings, openapi):
    client = create_app(unit_settings, champion_source=FakeSource(make_bundle(track_record=False))).test_client()
    body = client.get("/api/v1/track-record").get_json()
    validate_response(openapi, "/api/v1/track-record", 200, body)
    assert body["status"] == "no_track_record" and body["points"] == [] and body["summary"] == []
    csv_text = client.get("/api/v1/track-record?format=csv").get_data(as_text=True)
    assert csv_text.splitlines() == [",".join((*TRACK_COLUMNS, *SERIES_COLUMNS))]


def _csv(response):
    import io

    import pandas as pd

    assert response.status_code == 200 and response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    return pd.read_csv(io.BytesIO(response.data), keep_default_na=True)


@pytest.mark.parametrize("path, columns", [
    ("/api/v1/forecast?horizon=30", ["date", "mean", "lower_80", "upper_80", "lower_95", "upper_95", *QUANTILE_FIELDS]),
    ("/api/v1/history?days=60", ["date", "value"]),
    ("/api/v1/track-record", None),
])
def test_csv_downloads_parse_with_pandas_and_match_the_json(service_client, path, columns):
    body = service_client.get(path).get_json()
    records = body["points"]
    joiner = "&" if "?" in path else "?"
    response = service_client.get(f"{path}{joiner}format=csv")
    frame = _csv(response)
    assert list(frame.columns) == [*(columns or TRACK_COLUMNS), *SERIES_COLUMNS] and len(frame) == len(records) > 0
    # The CSV's columns: the grid flattened; the track record's derived revised_after_scoring is revised_actual's
    # cell; then, on every row, what the series is (as the JSON's `series` says).
    flat = [{**{k: v for k, v in record.items() if k not in ("quantiles", "revised_after_scoring")},
             **record.get("quantiles", {}), **body["series"]} for record in records]
    frame = frame.astype(object).where(frame.notna(), None)  # an empty cell is JSON's null (revised_actual)
    assert frame.to_dict(orient="records") == [
        {k: int(v) if k == "model_version" else v for k, v in record.items()} for record in flat]
    assert response.headers["X-Model-Version"] == "1"
    again = service_client.get(f"{path}{joiner}format=csv", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_forecast_says_which_calendar_its_steps_count(unit_settings):
    business = make_bundle(calendar="business", last_date=date(2024, 12, 27))
    client = create_app(unit_settings, champion_source=FakeSource(business)).test_client()
    body = client.get("/api/v1/forecast?horizon=2").get_json()
    assert all(list(p["quantiles"].values()) == sorted(p["quantiles"].values()) for p in body["points"])
    assert body["calendar"] == "business" and [p["date"] for p in body["points"]] == ["2024-12-30", "2024-12-31"]


@pytest.mark.parametrize("path, accepted", [
    ("/api/v1/forecast?h=14", "accepted: horizon, format"),
    ("/api/v1/forecast?horizon=14&hrizon=3", "accepted: horizon, format"),
    ("/api/v1/history?day=3", "accepted: days, format"),
    ("/api/v1/track-record?horizon=7", "accepted: format"),
    ("/api/v1/model?verbose=1", "accepted: none"),
    ("/api/v1/openapi.json?v=2", "accepted: none"),
])
def test_unknown_query_parameters_are_a_400_listing_the_accepted_ones(service_client, path, accepted):
    message = _error(service_client.get(path), 400)
    assert message.startswith("unknown query parameter") and accepted in message


@pytest.mark.parametrize("path", ["/api/v1/forecast?horizon=14&horizon=3", "/api/v1/history?days=3&days=3",
                                  "/api/v1/track-record?format=csv&format=json"])
def test_repeated_query_parameters_are_a_400(service_client, path):
    assert "given more than once" in _error(service_client.get(path), 400)


def test_an_unknown_format_is_a_400(service_client):
    assert "format must be one of json, csv" in _error(service_client.get("/api/v1/forecast?format=xml"), 400)


def test_query_mistakes_are_reported_before_a_missing_champion(unit_settings):
    source = FakeSource(make_bundle())
    source.alias = None
    client = create_app(unit_settings, champion_source=source).test_client()
    for path in ("/api/v1/forecast?h=1", "/api/v1/track-record?format=pdf", "/api/v1/model?x=1"):
        assert client.get(path).status_code == 400, path
    assert client.get("/api/v1/track-record").status_code == 503


def test_readyz_reports_how_old_the_data_is(service_client, openapi):
    body = service_client.get("/readyz").get_json()
    validate_response(openapi, "/readyz", 200, body)
    age = (datetime.now(UTC).date() - date(2024, 12, 30)).days
    assert (body["data_last_date"], body["data_age_days"], body["data_stale"]) == ("2024-12-30", age, age > 7)


def test_readiness_turns_stale_after_the_configured_days(service_app):
    from service.app import readiness

    snapshot = service_app.extensions["champion_cache"].current()
    fresh, _ = readiness(snapshot, False, date(2025, 1, 6), stale_after_days=7)
    stale, status = readiness(snapshot, False, date(2025, 1, 7), stale_after_days=7)
    assert (fresh["data_age_days"], fresh["data_stale"]) == (7, False)
    assert (stale["data_age_days"], stale["data_stale"], stale["status"], status) == (8, True, "ready", 200)


def test_an_older_bundle_without_the_quantile_grid_still_serves_its_bands(unit_settings):
    def without_grid(forecast):
        for point in forecast["points"]:
            del point["quantiles"]

    bundle = rewritten(make_bundle(), without_grid)
    client = create_app(unit_settings, champion_source=FakeSource(bundle)).test_client()
    body = client.get("/api/v1/forecast?horizon=3").get_json()
    assert set(body["points"][0]) == {"date", "mean", "lower_80", "upper_80", "lower_95", "upper_95"}
    header = client.get("/api/v1/forecast?horizon=3&format=csv").get_data(as_text=True).splitlines()[0]
    assert header == "date,mean,lower_80,upper_80,lower_95,upper_95," + ",".join(SERIES_COLUMNS)
