"""The Flask app: the public page, the JSON API v1 and the probes, over the champion cache.

Handlers only read the current snapshot and pick precomputed bodies (see `service.view`); they never
fit, never reach MLflow and never import anything heavy. docs/api.md documents the contract.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime

from flask import Blueprint, Flask, Response, current_app, request

from gasforecast.platform.config import DEFAULT_SERIES, Settings, is_series_id, load_settings
from gasforecast.platform.logs import configure, get_logger
from service import http
from service.champion_cache import ChampionCache, ChampionSource, SeriesSources, Snapshot
from service.openapi import openapi_document
from service.overview import overview_html
from service.page import history_window, no_champion_page
from service.schemas import SeriesList, SeriesSummary
from service.series import SeriesCatalog
from service.view import FORMATS, HISTORY_DAYS_MAX, HTML_TYPE, JSON_TYPE, Body, ChampionView, Format

log = get_logger(__name__)

NO_CHAMPION_RETRY_AFTER = "30"
_DIGITS = re.compile(r"[0-9]{1,6}")  # ASCII only: str.isdigit() also accepts "²", which int() rejects

api = Blueprint("api_v1", __name__, url_prefix="/api/v1")
site = Blueprint("site", __name__)


def _catalog() -> SeriesCatalog[ChampionView]:
    return current_app.extensions["series_catalog"]


def _cache(series: str = DEFAULT_SERIES) -> ChampionCache[ChampionView]:
    """The cache of `series`, or a 404 naming where the served series are listed."""
    cache = _catalog().get(series)
    if cache is None:
        raise http.ApiError(404, _no_such_series(series))
    return cache


def _no_such_series(series: str) -> str:
    """Why `series` is not served; echoes it only when it is a well-formed id (nothing hostile is reflected)."""
    named = repr(series) if is_series_id(series) else "(not a series id: a-z, 0-9 and '-', 2 to 32 characters)"
    return f"no such series {named}; GET /api/v1/series lists the served series"


def _settings() -> Settings:
    return current_app.extensions["gasforecast_settings"]


def _champion(series: str, snapshot: Snapshot[ChampionView] | None = None) -> ChampionView:
    """The view to answer from (of `snapshot`, default the series' current one), or a 503 JSON error
    when no champion has been loaded yet."""
    snapshot = snapshot or _cache(series).current()
    if snapshot.view is None:
        reason = snapshot.last_error or "no model has been promoted to champion yet"
        raise http.ApiError(503, f"no champion model to serve: {reason}", {"Retry-After": NO_CHAMPION_RETRY_AFTER})
    return snapshot.view


def _query(*accepted: str) -> dict[str, str]:
    """The query parameters, each given at most once and all among `accepted`; otherwise 400 naming them.

    Strict on purpose: a misspelt parameter (`?h=14`) silently ignored would answer a different question.
    """
    args = request.args  # parsed once per request; every access through the proxy costs a lookup
    if not args:
        return {}
    listing = ", ".join(accepted) if accepted else "none"
    for name, values in args.lists():
        shown = repr(name[:40])
        if name not in accepted:
            raise http.ApiError(400, f"unknown query parameter {shown}; accepted: {listing}")
        if len(values) > 1:
            raise http.ApiError(400, f"query parameter {shown} given more than once; accepted, once each: {listing}")
    return args.to_dict()


def _int_param(args: dict[str, str], name: str, default: int, upper: int) -> int:
    raw = args.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= upper:
        raise http.ApiError(400, f"{name} must be an integer from 1 to {upper}, got {raw[:40]!r}")
    return int(raw)


def _format_param(args: dict[str, str]) -> Format:
    raw = args.get("format", "json")
    for fmt in FORMATS:
        if raw == fmt:
            return fmt
    raise http.ApiError(400, f"format must be one of {', '.join(FORMATS)}, got {raw[:40]!r}")


def _model_headers(view: ChampionView) -> dict[str, str]:
    return {"X-Model-Version": str(view.version)}


def _send(view: ChampionView, body: Body, name: str) -> Response:
    """A data body with the model version; CSV as a download named after what it holds."""
    headers = _model_headers(view)
    if body.mimetype != JSON_TYPE:
        headers["Content-Disposition"] = f'attachment; filename="{name}-v{view.version}.csv"'
    return http.send_body(body, headers=headers)


# Every data route answers for the default series, and under /series/<series>/ for any served series.
_DEFAULT = {"series": DEFAULT_SERIES}


@api.get("/forecast", defaults=_DEFAULT)
@api.get("/series/<series>/forecast")
def forecast(series: str) -> Response:
    args = _query("horizon", "format")
    settings = _settings()
    snapshot = _cache(series).current()
    # Validate before the 503 so a client learns about its own mistake first.
    upper = snapshot.view.horizon_max if snapshot.view else settings.forecast_horizon_max
    horizon, fmt = _int_param(args, "horizon", upper, upper), _format_param(args)
    view = _champion(series, snapshot)
    return _send(view, view.forecast(horizon, fmt), f"{_file_prefix(series)}forecast-{horizon}")


@api.get("/history", defaults=_DEFAULT)
@api.get("/series/<series>/history")
def history(series: str) -> Response:
    args = _query("days", "format")
    days, fmt = _int_param(args, "days", _settings().history_days_default, HISTORY_DAYS_MAX), _format_param(args)
    view = _champion(series)
    return _send(view, view.history(days, fmt), f"{_file_prefix(series)}history-{days}")


@api.get("/track-record", defaults=_DEFAULT)
@api.get("/series/<series>/track-record")
def track_record(series: str) -> Response:
    fmt = _format_param(_query("format"))
    view = _champion(series)
    return _send(view, view.track_record(fmt), f"{_file_prefix(series)}track-record")


@api.get("/model", defaults=_DEFAULT)
@api.get("/series/<series>/model")
def model(series: str) -> Response:
    _query()
    view = _champion(series)
    return http.send_body(view.model, headers=_model_headers(view))


def _file_prefix(series: str) -> str:
    """Downloads of another series than the default are named after it."""
    return "" if series == DEFAULT_SERIES else f"{series}-"


@api.get("/series")
def series_list() -> Response:
    _query()
    catalog = _catalog()
    summaries = []
    for series in catalog.ids():
        cache = catalog.get(series)
        view = cache.current().view if cache is not None else None
        base = "/api/v1" if series == DEFAULT_SERIES else f"/api/v1/series/{series}"
        summaries.append(SeriesSummary(
            id=series, target=view.target if view else None, unit=view.unit if view else None,
            model_version=view.version if view else None,
            data_last_date=view.data_last_date.isoformat() if view else None,
            page="/" if series == DEFAULT_SERIES else f"/series/{series}", api=base))
    return http.send_json(SeriesList(series=summaries).to_json_dict())


@api.get("/openapi.json")
def openapi() -> Response:
    _query()
    return http.send_body(_openapi_body(), cache_control="public, max-age=300")


def _openapi_body() -> Body:
    """The OpenAPI document of this deployment, built on first request (its schemas are generated from the
    models, which would otherwise add to the cold start) and kept."""
    body = current_app.extensions.get("openapi_body")
    if body is None:
        settings = _settings()
        body = Body.of_json(openapi_document(settings.forecast_horizon_max, settings.history_days_default,
                                             HISTORY_DAYS_MAX, settings.target_label))
        current_app.extensions["openapi_body"] = body  # two threads may both build it: the same bytes
    return body


@site.get("/healthz")
def healthz() -> Response:
    """Liveness: the process answers. Deliberately independent of MLflow and of the champion."""
    return http.send_json({"status": "ok"})


def readiness(snapshot: Snapshot[ChampionView], overdue: bool, today: date,
              stale_after_days: int) -> tuple[dict[str, object], int]:
    """The /readyz answer and its status code (see docs/api.md#readiness for why degraded is 200).

    Stale data does not change the status (the forecast is still the best there is): `data_stale`
    is there for an alert on missing uploads.
    """
    last_success = snapshot.last_success_at.isoformat().replace("+00:00", "Z") if snapshot.last_success_at else None
    last_date = snapshot.view.data_last_date if snapshot.view else None
    age = (today - last_date).days if last_date else None
    body: dict[str, object] = {
        "status": "ready",
        "reason": None,
        "model_version": snapshot.pointer.version if snapshot.pointer else None,
        "run_id": snapshot.pointer.run_id if snapshot.pointer else None,
        "last_success_at": last_success,
        "data_last_date": last_date.isoformat() if last_date else None,
        "data_age_days": age,
        "data_stale": None if age is None else age > stale_after_days,
    }
    if snapshot.view is None:
        body.update(status="unavailable", reason=snapshot.last_error or "no model has been promoted to champion yet")
        return body, 503
    if snapshot.last_error or overdue:
        body.update(status="degraded", reason=snapshot.last_error or "the champion has not been re-checked for too long")
    return body, 200


@site.get("/readyz")
def readyz() -> Response:
    cache = _cache()
    snapshot = cache.current()
    body, status = readiness(snapshot, cache.overdue(snapshot), _today_utc(), _settings().stale_after_days)
    return http.send_json(body, status)


def _today_utc() -> date:
    return datetime.now(UTC).date()


@site.get("/")
def index() -> Response:
    """The default series' page while it is the only one served; the overview of every series otherwise."""
    catalog = _catalog()
    ids = catalog.ids()
    if len(ids) > 1:
        return _overview(catalog, ids)
    return _series_page(DEFAULT_SERIES)


@site.get("/series/<series>")
def series_page(series: str) -> Response:
    if _catalog().get(series) is None:
        raise http.ApiError(404, _no_such_series(series))
    return _series_page(series)


def _overview(catalog: SeriesCatalog[ChampionView], ids: list[str]) -> Response:
    cards = []
    for series in ids:
        cache = catalog.get(series)
        view = cache.current().view if cache is not None else None
        if view is not None:
            cards.append(view.card)
    today = _today_utc()
    key = (today, tuple((card.series, card.version) for card in cards))
    cached = current_app.extensions.get("overview_page")  # one read: another thread may replace it whole
    if cached is None or cached[0] != key:  # rendered again only when a champion or the day changed
        html = overview_html(cards, today, _settings().stale_after_days, "Gas price forecasts")
        cached = (key, Body.of_bytes(html.encode("utf-8"), HTML_TYPE))
        current_app.extensions["overview_page"] = cached
    return http.send_body(cached[1], cache_control=http.PAGE_CACHE, headers={"Content-Security-Policy": http.PAGE_CSP})


def _series_page(series: str) -> Response:
    snapshot = _cache(series).current()
    headers = {"Content-Security-Policy": http.PAGE_CSP}
    if snapshot.view is None:
        html = no_champion_page(_settings(), snapshot.last_error)
        response = Response(html, status=503, mimetype="text/html")
        response.headers.update({**headers, "Cache-Control": http.NO_STORE, "Retry-After": NO_CHAMPION_RETRY_AFTER})
        return response
    window = history_window(request.args.get("window"))  # anything but a known window is the default
    return http.send_body(snapshot.view.page_body(_today_utc(), window), cache_control=http.PAGE_CACHE,
                          headers=headers)


def create_app(
    settings: Settings | None = None,
    champion_source: ChampionSource | None = None,
    *,
    series_sources: SeriesSources | None = None,
    startup_timeout: float = 10.0,
    clock: Callable[[], float] | None = None,
) -> Flask:
    """Build the app and load the default series' champion before returning (bounded by `startup_timeout`
    seconds); the other series are discovered in the background (`service.series`).

    Both sources default to what training publishes in the data bucket (`gasforecast.publication.serving`:
    the service never reaches MLflow); tests inject any object with `pointer()`, `load(pointer)` and
    `fallbacks()` for the default series, and optionally `series_sources` for the others (none
    otherwise). `clock` (monotonic seconds) lets tests move time for the refresh logic.
    """
    configure()  # the app factory is the service's entry point (gunicorn, tests)
    settings = settings or load_settings()
    if champion_source is None:
        from gasforecast.platform.storage import Bucket, make_client
        from gasforecast.publication.serving import PublishedChampions, PublishedSeries

        bucket = Bucket(make_client(settings.project), settings.data_bucket)
        champion_source, series_sources = PublishedChampions(bucket), PublishedSeries(bucket)
    cache_options = {"clock": clock} if clock else {}

    def make_cache(series: str, source: ChampionSource) -> ChampionCache[ChampionView]:
        return ChampionCache(source, build=lambda bundle: ChampionView(bundle, settings, series_id=series),
                             refresh_seconds=settings.champion_refresh_seconds, **cache_options)

    cache = make_cache(DEFAULT_SERIES, champion_source)
    catalog = SeriesCatalog(
        cache, series_sources.list_series if series_sources else None,
        lambda series: make_cache(series, series_sources.source(series)),  # type: ignore[union-attr]
        refresh_seconds=settings.champion_refresh_seconds, max_series=settings.max_series,
        load_timeout=startup_timeout, **cache_options,
    )
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    app.extensions["champion_cache"] = cache
    app.extensions["series_catalog"] = catalog
    app.extensions["gasforecast_settings"] = settings
    app.register_blueprint(api)
    app.register_blueprint(site)
    http.install(app)
    cache.start(startup_timeout)
    catalog.start()
    pointer = cache.peek().pointer
    log.info("service.started", model_version=pointer.version if pointer else None, startup_timeout=startup_timeout)
    return app
