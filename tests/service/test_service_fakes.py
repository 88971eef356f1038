"""The service's fake bundles have exactly the fields a real training writes, so page and API tests
cannot pass against a shape training no longer produces.

The real side is one training run in process (in-memory bucket and registry) with the real procedure
on the synthetic sample; the comparison is of field paths and value kinds, with maps whose keys are
data (model labels, horizons, decisions) compared by their entries' shape.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from service_fakes import make_bundle

from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.platform.config import Settings
from gasforecast.platform.messaging import RetrainRequest, utc_now_iso
from gasforecast.publication.bundle import FORECAST_ARTIFACT, HISTORY_ARTIFACT
from gasforecast.training.retrain import TrainingPlaces, train
from tests.fake_registry import FakeMlflowClient, MemoryRegistry
from tests.fakes import MemoryBucket

SETTINGS = Settings(nested_origins=2, max_drivers=2, forecast_horizon_max=60)
# Maps keyed by data rather than by field name: their keys differ from bundle to bundle.
KEYED_BY_DATA = {"backtest.metrics", "evaluation.served", "evaluation.decisions", "model.orders"}


def shape(value: Any, path: str = "") -> Any:
    """Field paths and value kinds; keys of `KEYED_BY_DATA` maps and horizon keys ("1", "30") collapse."""
    if isinstance(value, dict):
        if path in KEYED_BY_DATA:
            return {"<key>": _union(shape(v, f"{path}.*") for v in value.values())}
        if value and all(key.isdigit() for key in value):
            return {"<horizon>": _union(shape(v, f"{path}.*") for v in value.values())}
        return {key: shape(v, f"{path}.{key}".lstrip(".")) for key, v in value.items()}
    if isinstance(value, list):
        return [_union(shape(v, f"{path}[]") for v in value)]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return type(value).__name__
    return "number"


def _union(shapes) -> Any:
    distinct = {json.dumps(s, sort_keys=True) for s in shapes}
    return [json.loads(s) for s in sorted(distinct)] if len(distinct) != 1 else json.loads(distinct.pop())


@pytest.fixture(scope="module")
def trained() -> dict[str, Any]:
    """forecast.json and history.json of a real first training on the synthetic sample."""
    curated = dataset.curated_to_bytes(dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11))))
    bucket = MemoryBucket("data")
    bucket.write(SETTINGS.curated_object, curated, content_type="text/csv")
    client = FakeMlflowClient()
    places = TrainingPlaces(bucket, SETTINGS.curated_object, bucket, MemoryRegistry(SETTINGS, client))
    outcome = train(SETTINGS, RetrainRequest("manual", utc_now_iso()), places, message_id="m-1")
    artifacts = client.runs[outcome.run_id].artifacts
    return {name: json.loads(artifacts[name]) for name in (FORECAST_ARTIFACT, HISTORY_ARTIFACT)}


def test_the_fake_bundle_has_the_fields_of_a_real_training(trained):
    real = trained[FORECAST_ARTIFACT]
    # The sample's drivers carry signal, so the first training promotes a model over naive (with a test).
    assert real["promotion"]["decision"] == "promoted", real["promotion"]
    fake = make_bundle(calendar="daily")
    assert shape(fake.forecast.to_json_dict()) == shape(real)
    assert shape(fake.history.to_json_dict()) == shape(trained[HISTORY_ARTIFACT])


def test_the_shape_comparison_catches_a_renamed_or_missing_field(trained):
    real = json.loads(json.dumps(trained[FORECAST_ARTIFACT]))
    real["evaluation"]["coverage_80_share"] = real["evaluation"].pop("coverage_80")
    assert shape(make_bundle(calendar="daily").forecast.to_json_dict()) != shape(real)
    del real["backtest"]["metrics"]["naive"]["1"]["test_ratio"]
    assert shape(make_bundle(calendar="daily").forecast.to_json_dict()) != shape(real)
