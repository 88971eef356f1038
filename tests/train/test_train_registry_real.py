"""The registry seam through the real MLflow server (PostgreSQL backend) and the serving pointer in
the GCS emulator: exactly once after a crash, hostile column names, and the service's fallback to an
older published version when the champion is unservable.

Each test trains in-process in its own bucket, experiment and model name (tests.stack_helpers
.isolated_settings), so the shared champion is never touched. The fast versions of these checks are
test_train_exactly_once.py and test_train_names.py on the in-memory fakes.
"""

from __future__ import annotations

import json

import pytest

from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.platform.messaging import RetrainRequest, utc_now_iso
from gasforecast.platform.storage import Bucket
from gasforecast.publication import serving
from gasforecast.publication.bundle import ForecastBundle
from gasforecast.scoring.ledger import read_ledger
from gasforecast.training.registry import Registry, safe_name
from gasforecast.training.retrain import LEASE_OBJECT, handle_retrain
from service.champion_cache import ChampionCache
from tests.fake_registry import InjectedCrash
from tests.stack_helpers import isolated_settings, model_versions
from tests.train.test_train_names import HOSTILE, hostile_history


class CrashRightAfter:
    """An MlflowClient whose `call` reaches the server, then the trainer dies before the answer is used."""

    def __init__(self, client, call: str) -> None:
        self._client, self._call = client, call

    def __getattr__(self, name: str):
        attribute = getattr(self._client, name)
        if name != self._call:
            return attribute

        def crashing(*args, **kwargs):
            attribute(*args, **kwargs)
            raise InjectedCrash(f"crashed right after {name}")
        return crashing


def _curated(settings, gcs_emulator, data: bytes) -> None:
    Bucket(gcs_emulator.client, settings.data_bucket).write(settings.curated_object, data, content_type="text/csv")


def _deliver(settings, gcs_emulator, registry: Registry | None = None):
    return handle_retrain(settings, RetrainRequest("manual", utc_now_iso()), gcs_emulator.client, message_id="real-1",
                          registry=registry)


@pytest.fixture(scope="module")
def resumed(settings, gcs_emulator):
    """A training that crashed right after registering its version, then the retry of its message."""
    isolated = isolated_settings(settings, gcs_emulator)
    _curated(isolated, gcs_emulator,
             dataset.curated_to_bytes(dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11)))))
    crashing = Registry(isolated)
    crashing._client = CrashRightAfter(crashing.client, "create_model_version")
    with pytest.raises(InjectedCrash):
        _deliver(isolated, gcs_emulator, crashing)
    orphans = model_versions(isolated)
    # The killed trainer's lease stays behind; it has expired by the time the redelivery comes.
    Bucket(gcs_emulator.client, isolated.data_bucket).write(
        LEASE_OBJECT, json.dumps({"holder": "killed", "expires_at": 0}).encode(), content_type="application/json")
    return isolated, orphans, _deliver(isolated, gcs_emulator)


def test_a_crash_right_after_registration_is_promoted_by_the_retry_with_one_version_per_key(resumed, gcs_emulator):
    settings, orphans, outcome = resumed
    assert orphans == [1], "the crashed delivery had registered its version"
    assert outcome.status == "resumed" and outcome.version == "1"
    assert model_versions(settings) == [1]
    client = Registry(settings).client
    (version,) = client.search_model_versions(f"name = '{settings.model_name}'")
    assert version.tags[Registry.KEY_TAG] == outcome.key and version.tags[Registry.STATE_TAG] == "promoted"
    run = client.get_run(version.run_id)
    assert run.info.status == "FINISHED" and run.data.tags[Registry.VERSION_TAG] == "1"
    # The resumed promotion published the version for the service too.
    published = serving.PublishedChampions(Bucket(gcs_emulator.client, settings.data_bucket))
    assert published.pointer() == serving.ChampionPointer("1", version.run_id)
    again = _deliver(settings, gcs_emulator)
    assert again.status == "duplicate" and model_versions(settings) == [1]
    # The resumed promotion recorded the version's stored forecast in the ledger, once.
    (entry,) = read_ledger(Bucket(gcs_emulator.client, settings.data_bucket))
    assert (entry.model_version, entry.run_id, entry.training_key) == ("1", version.run_id, outcome.key)


def test_a_fresh_service_instance_falls_back_to_the_newest_servable_version(resumed, gcs_emulator):
    settings, _, _ = resumed
    bucket = Bucket(gcs_emulator.client, settings.data_bucket)
    published = serving.PublishedChampions(bucket)
    good = published.pointer()
    bundle = published.load(good)
    assert bundle.track_record is not None and bundle.track_record.status == "no_scores"
    forecast = bundle.forecast.to_json_dict()
    forecast["points"][4]["lower_95"] = -1.0  # parses, and promotion sanity refuses it (a non-positive price)
    unservable = ForecastBundle.from_files(json.dumps(forecast), json.dumps(bundle.history.to_json_dict()))
    bad = serving.ChampionPointer(str(int(good.version) + 1), "unservable-run")
    assert serving.publish(bucket, unservable, bad)
    assert published.pointer() == bad
    assert published.load(bad).track_record is None, "a bundle without track_record.json (older runs) still loads"

    cache = ChampionCache(published, build=lambda b: b.version, refresh_seconds=60)
    assert cache.start(timeout=60), "a fresh instance serves something"
    snapshot = cache.current()
    assert snapshot.view == good.version and snapshot.degraded
    assert f"version {bad.version} failed promotion sanity" in snapshot.last_error

    for name in bucket.list_names(f"serving/versions/{good.version}/"):  # nothing servable is left
        bucket.delete(name)
    empty = ChampionCache(published, build=lambda b: b.version, refresh_seconds=60)
    assert not empty.start(timeout=60)
    assert empty.current().view is None and "no published version passes" in empty.current().last_error


def test_a_300_character_column_name_trains_through_the_real_server(settings, gcs_emulator):
    isolated = isolated_settings(settings, gcs_emulator)
    _curated(isolated, gcs_emulator, hostile_history())
    outcome = _deliver(isolated, gcs_emulator)
    assert outcome.status == "trained"
    run = Registry(isolated).client.get_run(outcome.run_id)
    assert run.data.params["drivers"] == HOSTILE
    assert f"candidate.{safe_name(f'var[{HOSTILE}]')}.h1.test_ratio" in run.data.metrics
