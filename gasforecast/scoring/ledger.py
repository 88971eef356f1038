"""The forecast ledger: every forecast that became the served champion, kept immutable in the data bucket.

Why: the registry keeps models, not what was promised to users on a given day. The ledger is the
record the live track record is scored from (`gasforecast.scoring.track_record`): one JSON object per
promoted version under `forecasts/ledger/`, holding what the page showed — the model version, run,
training key, the last data date (the forecast's origin), the price observed on that date, the
series' calendar and every forecast point with its bands.

At-least-once safe: an entry's name is derived from the bundle alone (data-through date, model
version, run id) and it is written create-only (`if_generation_match=0`), so a redelivered
promotion finds its entry already there and never duplicates or rewrites it.
"""

from __future__ import annotations

import hashlib
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from gasforecast.platform.logs import get_logger
from gasforecast.platform.storage import ObjectStore, PreconditionFailed
from gasforecast.publication.bundle import ForecastBundle
from gasforecast.publication.documents import FirstPrices, LedgerEntry, LedgerPoint

log = get_logger(__name__)

# The ledger and the first prices live under the area `forecasts` of the series (`Settings.area`): the
# default series' is `forecasts/`, another series' `forecasts/series/<id>/`.
FORECASTS_AREA = "forecasts"
LEDGER_PREFIX = f"{FORECASTS_AREA}/ledger/"  # the default series'

ENTRY_SCHEMA_VERSION = 1
_VERSION = re.compile(r"[0-9]{1,12}")
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_READERS = 8  # parallel object reads: the ledger grows by one object per promotion


@dataclass(frozen=True)
class LedgerWrite:
    name: str
    created: bool  # False when the entry was already there (a redelivered promotion)


def _iso_date(text: Any) -> str:
    """`text` if it is an ISO date (YYYY-MM-DD), else ValueError."""
    if not isinstance(text, str) or len(text) != 10:
        raise ValueError(f"not an ISO date: {text!r}")
    return date.fromisoformat(text).isoformat()


def entry_name(data_through: Any, version: Any, run_id: Any, area: str = FORECASTS_AREA) -> str:
    """Where the entry of one promoted version lives; sorts by data-through date, then version.

    Takes any values (they may come from a stored entry) and raises ValueError unless each is valid."""
    if not _VERSION.fullmatch(str(version)):
        raise ValueError(f"model version must be a registry version number, got {version!r}")
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    return f"{area}/ledger/{_iso_date(data_through)}_v{int(version):06d}_{run_id}.json"


def _utc_stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def ledger_entry(bundle: ForecastBundle, training_key: str | None, *,
                 recorded_at: datetime | None = None) -> LedgerEntry:
    """The entry for a promoted bundle (its `version` must be set)."""
    if bundle.version is None:
        raise ValueError("a ledger entry needs the registered model version")
    forecast = bundle.forecast
    history = bundle.history.points
    if not history:
        raise ValueError("the bundle has no history, so the price at the forecast's origin is unknown")
    return LedgerEntry(
        model_version=str(bundle.version),
        run_id=bundle.run_id,
        training_key=training_key,
        model_label=forecast.model.label,
        trained_at=forecast.trained_at,
        recorded_at=_utc_stamp(recorded_at or datetime.now(UTC)),
        target=forecast.target,
        unit=forecast.unit,
        calendar=bundle.calendar,
        data_through=forecast.data.last_date,
        # The "no change" forecast from this origin: the last price known when the forecast was made.
        origin_value=history[-1].value,
        points=[LedgerPoint(step=step, **dict(point.model_copy(update={"quantiles": None})))
                for step, point in enumerate(forecast.points, start=1)],
    )


def record_served_forecast(bucket: ObjectStore, bundle: ForecastBundle, training_key: str | None, *,
                           area: str = FORECASTS_AREA) -> LedgerWrite:
    """Add the promoted `bundle` to the ledger once; a second call (redelivery) leaves the entry as it is.

    Call it after the champion alias points at `bundle.version`. Raises `TransientError` when the
    bucket is unreachable, so the delivery is retried.
    """
    entry = ledger_entry(bundle, training_key)
    name = entry_name(entry.data_through, entry.model_version, entry.run_id, area)
    ids = {"object": bucket.uri(name), "model_version": entry.model_version, "run_id": entry.run_id,
           "training_key": training_key}
    try:
        bucket.write(name, entry.model_dump_json(by_alias=True).encode("utf-8"), content_type="application/json",
                     if_generation_match=0)
    except PreconditionFailed:
        log.info("ledger.already_recorded", **ids)
        return LedgerWrite(name, created=False)
    log.info("ledger.recorded", data_through=entry.data_through, points=len(entry.points), **ids)
    return LedgerWrite(name, created=True)


def parse_entry(data: bytes) -> LedgerEntry:
    """A ledger entry read back, checked field by field (ValueError when it is not one)."""
    try:
        entry = LedgerEntry.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(f"not a ledger entry of schema version 1: {exc.errors()[0]['msg']}") from exc
    for step, point in enumerate(entry.points, start=1):
        if point.step != step:
            raise ValueError(f"point {step} is out of order")
    return entry


def read_ledger(bucket: ObjectStore, area: str = FORECASTS_AREA) -> list[LedgerEntry]:
    """Every readable entry, ordered by data-through date and model version.

    An object that is not a valid entry is skipped with a warning (`ledger.entry_unreadable`): one
    bad object must not stop the track record. Storage errors propagate (`TransientError`).
    """
    names = [name for name in bucket.list_names(f"{area}/ledger/") if name.endswith(".json")]
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        stored = list(pool.map(bucket.read, names))
    entries = []
    for name, item in zip(names, stored, strict=True):
        if item is None:  # deleted between listing and reading
            continue
        try:
            entries.append(parse_entry(item.data))
        except ValueError as exc:
            log.warning("ledger.entry_unreadable", object=bucket.uri(name), error=str(exc)[:200])
    return sorted(entries, key=lambda e: (e.data_through, int(e.model_version)))


# --- first published prices ---------------------------------------------------------------------------

FIRST_PRICES_PREFIX = f"{FORECASTS_AREA}/first-prices/"  # the default series'


def _first_prices_document(data: bytes) -> FirstPrices:
    """A first-prices object read back (ValueError when it is not one)."""
    try:
        return FirstPrices.model_validate_json(data)
    except ValidationError as exc:
        raise ValueError(f"not a first-prices object of schema version 1: {exc.errors()[0]['msg']}") from exc


def read_first_prices(bucket: ObjectStore, target: str, area: str = FORECASTS_AREA) -> dict[str, float]:
    """The first published price of every date recorded for `target`: the earliest record wins."""
    names = [name for name in bucket.list_names(f"{area}/first-prices/") if name.endswith(".json")]
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        stored = list(pool.map(bucket.read, names))
    documents = []
    for name, item in zip(names, stored, strict=True):
        if item is None:
            continue
        try:
            documents.append((name, _first_prices_document(item.data)))
        except ValueError as exc:
            log.warning("ledger.first_prices_unreadable", object=bucket.uri(name), error=str(exc)[:200])
    first: dict[str, float] = {}
    for _, document in sorted(documents, key=lambda item: (item[1].recorded_at, item[0])):
        if document.target == target:
            for day, value in document.prices.items():
                first.setdefault(day, value)
    return first


def record_first_prices(bucket: ObjectStore, prices: dict[str, float], target: str,
                        area: str = FORECASTS_AREA) -> dict[str, float]:
    """Record the prices of dates seen for the first time, immutably; return every first published price.

    Why: the track record must score the forecasts against the price as it was first published, or an
    upload that revises past prices (to the forecasts' own means, say) would rescore the past. The
    record lives beside the ledger under `forecasts/first-prices/`, one create-only object per call
    that saw new dates, named after its content, so a retried training writes nothing twice and
    nothing ever rewrites a recorded price.
    """
    first = read_first_prices(bucket, target, area)
    new = {day: value for day, value in sorted(prices.items()) if day not in first}
    if not new:
        return first
    body = FirstPrices(target=target, recorded_at=_utc_stamp(datetime.now(UTC)), prices=new)
    digest = hashlib.sha256(json.dumps([target, new], sort_keys=True).encode("utf-8")).hexdigest()[:16]
    name = f"{area}/first-prices/{max(new)}_{digest}.json"
    try:
        bucket.write(name, body.model_dump_json().encode("utf-8"), content_type="application/json",
                     if_generation_match=0)
        log.info("ledger.first_prices_recorded", object=bucket.uri(name), dates=len(new), first_date=min(new),
                 last_date=max(new), target=target)
    except PreconditionFailed:
        log.info("ledger.first_prices_already_recorded", object=bucket.uri(name))
    return {**new, **first}
