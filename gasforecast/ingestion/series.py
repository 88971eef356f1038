"""Declared series (docs/series.md): one document per series at `gs://DATA_BUCKET/series/<id>.json`.

The deployment's own settings are the default series, which needs no document. An operator declares
any other series once (`gasforecast series add`); ingest and training read the definition when a
message or an upload names the series, so adding one needs no redeploy. `Settings.for_series` turns a
definition into that series' settings, so every series runs the same code path.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from gasforecast.platform.config import DEFAULT_SERIES, SERIES_ID, SERIES_OVERRIDES, Settings, is_series_id, parse_lags
from gasforecast.platform.errors import PermanentError
from gasforecast.platform.storage import ObjectStore, PreconditionFailed

DEFINITIONS_PREFIX = "series/"
MAX_DEFINITION_BYTES = 16 * 1024


class UndeclaredSeries(PermanentError):
    """No definition exists for the series (or it cannot be read as one): nothing is done for it."""


class SeriesExists(PermanentError):
    """`series add` without `--replace` for a series that is declared already."""


def _lags(text: str) -> str:
    parse_lags(text)
    return text


def _series_id(text: str) -> str:
    if text == DEFAULT_SERIES:
        raise ValueError(f"{DEFAULT_SERIES!r} is the deployment's own series; it needs no declaration")
    return text


class SeriesDefinition(BaseModel):
    """One declared series: what it forecasts and the few settings it may set apart from the deployment's
    (`SERIES_OVERRIDES`; unset means the deployment's value)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    id: Annotated[str, Field(pattern=SERIES_ID.pattern), AfterValidator(_series_id)]
    target_column: Annotated[str, Field(min_length=1, max_length=64)]
    label: Annotated[str, Field(min_length=1, max_length=80)]
    unit: Annotated[str, Field(min_length=1, max_length=40)]
    product: Annotated[str, Field(max_length=80)] = ""  # the contract or product, e.g. day-ahead or front-month
    source: Annotated[str, Field(max_length=500)] = ""  # a free-text note: where the data comes from
    synthetic: bool = False  # made-up data (a demo): shown as such wherever the series appears
    earliest_date: date | None = None
    max_drivers: Annotated[int, Field(ge=0, le=10)] | None = None
    driver_publication_lags: Annotated[str, Field(max_length=500), AfterValidator(_lags)] | None = None
    revision_max_change: Annotated[float, Field(gt=0, le=10)] | None = None
    revision_max_age_days: Annotated[int, Field(ge=0, le=3660)] | None = None

    def overrides(self) -> dict[str, Any]:
        """The settings this series sets apart from the deployment's, in `Settings` terms."""
        values = {name: getattr(self, name) for name in SERIES_OVERRIDES if getattr(self, name) is not None}
        if "earliest_date" in values:
            values["earliest_date"] = values["earliest_date"].isoformat()
        return values

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False).encode()


def definition_name(series_id: str) -> str:
    if not is_series_id(series_id) or series_id == DEFAULT_SERIES:
        raise ValueError(f"{series_id!r} is not a declarable series id")
    return f"{DEFINITIONS_PREFIX}{series_id}.json"


def parse_definition(data: bytes) -> SeriesDefinition:
    """A stored definition, validated (JSON mode: dates as ISO text)."""
    if len(data) > MAX_DEFINITION_BYTES:
        raise ValueError(f"the definition has {len(data):,} bytes; the limit is {MAX_DEFINITION_BYTES:,}")
    return SeriesDefinition.model_validate_json(data, strict=False)


def read_definition(store: ObjectStore, series_id: str) -> SeriesDefinition:
    """The declared definition of `series_id`; `UndeclaredSeries` when there is none or it is not valid."""
    if not is_series_id(series_id) or series_id == DEFAULT_SERIES:
        raise UndeclaredSeries(f"{series_id[:40]!r} is not a series id (a slug: {SERIES_ID.pattern})")
    stored = store.read(definition_name(series_id))
    if stored is None:
        raise UndeclaredSeries(f"series {series_id!r} is not declared (no {store.uri(definition_name(series_id))})")
    try:
        definition = parse_definition(stored.data)
    except (ValidationError, ValueError) as exc:
        raise UndeclaredSeries(f"the definition of series {series_id!r} is not valid: {exc}") from exc
    if definition.id != series_id:
        raise UndeclaredSeries(f"{store.uri(definition_name(series_id))} declares {definition.id!r}, not {series_id!r}")
    return definition


def series_settings(store: ObjectStore, settings: Settings, series_id: str | None) -> Settings:
    """The settings of `series_id` (None or `default`: the deployment's own); `UndeclaredSeries` otherwise."""
    if series_id in (None, DEFAULT_SERIES):
        return settings
    return settings.for_series(read_definition(store, series_id))


def declared_ids(store: ObjectStore) -> list[str]:
    """The ids of every declared series (by object name; a broken definition shows when it is read)."""
    names = (name.removeprefix(DEFINITIONS_PREFIX).removesuffix(".json") for name in store.list_names(DEFINITIONS_PREFIX)
             if name.endswith(".json"))
    return sorted(name for name in names if is_series_id(name) and name != DEFAULT_SERIES)


def write_definition(store: ObjectStore, definition: SeriesDefinition, *, replace: bool = False) -> int:
    """Store a definition: created only if absent (a generation precondition), unless `replace`."""
    name = definition_name(definition.id)
    try:
        return store.write(name, definition.to_bytes(), content_type="application/json",
                           if_generation_match=None if replace else 0)
    except PreconditionFailed as exc:
        raise SeriesExists(f"series {definition.id!r} is declared already ({store.uri(name)}); "
                           "use --replace to change it") from exc
