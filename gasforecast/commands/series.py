"""`gasforecast series add|list|show`: declare the price series this deployment forecasts (docs/series.md).

Why a command: a series is declared once, where the functions read it (`gs://DATA_BUCKET/series/<id>.json`),
so adding one needs no redeploy. `add` validates the definition and creates it only if absent (a
generation precondition: two operators cannot overwrite each other); `add --replace` changes one.
The deployment's own settings are the series `default`, which needs no definition.
"""

from __future__ import annotations

import argparse
import json
import sys

from gasforecast.platform.config import DEFAULT_SERIES, Settings, load_settings
from gasforecast.platform.errors import PermanentError, TransientError
from gasforecast.platform.storage import ObjectStore


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("series", help="declare, list and show the series this deployment forecasts")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION", help="add, list or show")
    add = actions.add_parser("add", help="declare a series (create-only; --replace to change one)")
    add.add_argument("id", help="a slug: lower-case letters, digits and '-', 2 to 32 characters, a letter first")
    add.add_argument("--target-column", required=True, help="the uploaded files' column with this series' price")
    add.add_argument("--label", required=True, help="what the page calls it, e.g. 'TTF front-month'")
    add.add_argument("--unit", required=True, help="e.g. 'EUR/MWh'")
    add.add_argument("--product", default="", help="the contract or product, e.g. 'day-ahead' or 'front-month'")
    add.add_argument("--source", default="", help="a note on where the data comes from")
    add.add_argument("--synthetic", action="store_true", help="the data is made up (a demo); shown as such")
    add.add_argument("--earliest-date", help="overrides EARLIEST_DATE for this series")
    add.add_argument("--max-drivers", type=int, help="overrides MAX_DRIVERS for this series")
    add.add_argument("--driver-publication-lags", help="overrides DRIVER_PUBLICATION_LAGS for this series")
    add.add_argument("--revision-max-change", type=float, help="overrides REVISION_MAX_CHANGE for this series")
    add.add_argument("--revision-max-age-days", type=int, help="overrides REVISION_MAX_AGE_DAYS for this series")
    add.add_argument("--replace", action="store_true", help="replace the definition of a declared series")
    actions.add_parser("list", help="every series: the default and the declared ones")
    show = actions.add_parser("show", help="one series' definition as JSON")
    show.add_argument("id")
    parser.set_defaults(func=run)


def data_bucket(settings: Settings) -> ObjectStore:
    from gasforecast.platform.storage import Bucket, make_client

    return Bucket(make_client(settings.project), settings.data_bucket)


def _add(args: argparse.Namespace, store: ObjectStore) -> str:
    from gasforecast.ingestion.series import SeriesDefinition, definition_name, write_definition

    fields = {name: getattr(args, name) for name in ("id", "target_column", "label", "unit", "product", "source",
                                                      "synthetic", "earliest_date", "max_drivers", "driver_publication_lags",
                                                      "revision_max_change", "revision_max_age_days")}
    definition = SeriesDefinition.model_validate({k: v for k, v in fields.items() if v is not None}, strict=False)
    write_definition(store, definition, replace=args.replace)
    return f"{'replaced' if args.replace else 'declared'}: {definition.id} ({store.uri(definition_name(definition.id))})"


def _default(settings: Settings) -> dict[str, object]:
    return {"id": DEFAULT_SERIES, "target_column": settings.target_column, "label": settings.target_label,
            "unit": settings.target_unit, "product": settings.target_product, "source": settings.data_source,
            "synthetic": settings.data_synthetic}


def _list(settings: Settings, store: ObjectStore) -> str:
    from gasforecast.ingestion.series import UndeclaredSeries, declared_ids, read_definition

    lines = [f"{DEFAULT_SERIES}\t{settings.target_column}\t{settings.target_label} ({settings.target_unit})"]
    for series_id in declared_ids(store):
        try:
            found = read_definition(store, series_id)
        except UndeclaredSeries as exc:
            lines.append(f"{series_id}\t-\tNOT VALID: {exc}")
            continue
        synthetic = ", synthetic" if found.synthetic else ""
        lines.append(f"{found.id}\t{found.target_column}\t{found.label} ({found.unit}{synthetic})")
    return "\n".join(lines)


def _show(settings: Settings, store: ObjectStore, series_id: str) -> str:
    from gasforecast.ingestion.series import read_definition

    shown = _default(settings) if series_id == DEFAULT_SERIES else \
        read_definition(store, series_id).model_dump(mode="json", exclude_none=True)
    return json.dumps(shown, indent=2, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    settings = load_settings()
    store = data_bucket(settings)
    try:
        if args.action == "add":
            print(_add(args, store))
        elif args.action == "list":
            print(_list(settings, store))
        else:
            print(_show(settings, store, args.id))
    except (PermanentError, ValidationError) as exc:
        print(f"gasforecast series {args.action}: {exc}", file=sys.stderr)
        return 2
    except TransientError as exc:
        print(f"gasforecast series {args.action}: {exc} (run the same command again)", file=sys.stderr)
        return 1
    return 0
