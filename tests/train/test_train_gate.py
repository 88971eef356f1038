"""The promotion gate through the real MLflow server (PostgreSQL backend): a challenger without a
significant edge never replaces a champion that still earns its place.

The gate itself (`forecasting.procedure.gate`) is unit-tested in tests/forecasting; here it runs in
an isolated model name, experiment and data bucket so the shared champion is not touched.
"""

from __future__ import annotations

import json

import pytest

from gasforecast.forecasting import ModelConfig, ProcedureSettings, assess
from gasforecast.forecasting.procedure import serve
from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.platform.messaging import RetrainRequest, utc_now_iso
from gasforecast.platform.storage import Bucket
from gasforecast.training.registry import Registry
from gasforecast.training.retrain import handle_retrain
from tests.stack_helpers import isolated_settings

TARGET = "uk_gas_price"
LEADING_DRIVER = ModelConfig(kind="var", drivers=("ttf_price",))  # the sample's NBP follows TTF by a day
NAIVE = ModelConfig(kind="naive")


@pytest.fixture(scope="module")
def frame():
    history = dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11)))
    return dataset.training_frame(history, TARGET)[0]


def _seed_champion(settings, frame, config: ModelConfig, tmp_path) -> str:
    """Register `config` as the champion through the real registry, as an earlier training would."""
    registry = Registry(settings)
    horizon = settings.forecast_horizon_max
    assessment = assess(frame, TARGET, ProcedureSettings(), horizon, extra=[config])
    fitted, _ = serve(frame, TARGET, assessment, config.label, horizon, ProcedureSettings())
    forecast_path = tmp_path / "forecast.json"
    forecast_path.write_text(json.dumps({"points": fitted.points.astype({"date": str}).to_dict("records")}))
    run_id = registry.start_run("seeded-by-test", None, RetrainRequest("manual", utc_now_iso()), "seed")
    model = registry.log_model(run_id, fitted.model, forecast_path)
    version = registry.register(run_id, model, "seeded-by-test", None, config.to_dict())
    registry.promote(version.version)
    registry.finish_run(run_id, "registered", version.version)
    registry.mark_promoted(version.version)
    return version.version


def _train(settings, gcs_emulator, frame) -> tuple:
    client = gcs_emulator.client
    Bucket(client, settings.data_bucket).write(settings.curated_object, dataset.curated_to_bytes(frame),
                                               content_type="text/csv")
    outcome = handle_retrain(settings, RetrainRequest("manual", utc_now_iso()), client, message_id="gate-test")
    run = Registry(settings).client.get_run(outcome.run_id)
    return outcome, ModelConfig.from_dict(json.loads(run.data.tags[Registry.CONFIG_TAG]))


def test_gate_through_mlflow_refuses_a_worse_challenger(settings, gcs_emulator, frame, tmp_path):
    gated = isolated_settings(settings, gcs_emulator, max_drivers=0)  # the challenger search sees no driver
    seeded = _seed_champion(gated, frame, LEADING_DRIVER, tmp_path)
    outcome, served_config = _train(gated, gcs_emulator, frame)
    assert outcome.decision == "kept_champion_config"
    assert served_config == LEADING_DRIVER
    assert int(Registry(gated).champion().version) == int(seeded) + 1  # refitted on the new data


def test_gate_through_mlflow_promotes_a_better_challenger(settings, gcs_emulator, frame, tmp_path):
    gated = isolated_settings(settings, gcs_emulator)
    _seed_champion(gated, frame, NAIVE, tmp_path)
    outcome, served_config = _train(gated, gcs_emulator, frame)
    assert outcome.decision == "promoted"
    assert served_config != NAIVE and "ttf_price" in served_config.drivers
    run = Registry(gated).client.get_run(outcome.run_id)
    assert run.data.metrics["gate.p_value"] < 0.01 and "score.challenger" in run.data.metrics
    assert run.data.metrics["nested.mean_mae_ratio"] > 0 and "nested.h1.coverage_95" in run.data.metrics
