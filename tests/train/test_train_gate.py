"""The promotion gate: a worse challenger never replaces a better configuration.

Unit level on a real backtest report, then through the real MLflow server (PostgreSQL backend),
in an isolated model name, experiment and data bucket so the shared champion is not touched.
"""

from __future__ import annotations

import json

import pytest

from gasforecast import dataset, registry_rest
from gasforecast.forecasting import BacktestSettings, ModelConfig, compare_configs, fit_forecast
from gasforecast.messaging import RetrainRequest, utc_now_iso
from gasforecast.sample import synthetic_history, to_csv_bytes
from gasforecast.storage import Bucket
from gasforecast.registry import Registry
from gasforecast.training import decide_promotion, handle_retrain
from tests.stack_helpers import isolated_settings

TARGET = "uk_gas_price"
LEADING_DRIVER = ModelConfig(kind="var", drivers=("ttf_price",))  # the sample's NBP follows TTF by a day
UNIVARIATE = ModelConfig(kind="ar")
NAIVE = ModelConfig(kind="naive")


@pytest.fixture(scope="module")
def frame():
    history = dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11)))
    return dataset.training_frame(history, TARGET)[0]


@pytest.fixture(scope="module")
def report(frame):
    return compare_configs(frame, TARGET, [LEADING_DRIVER, UNIVARIATE], BacktestSettings(origins=12, step_days=14))


def test_a_worse_challenger_keeps_the_champions_configuration(report):
    assert report.score(UNIVARIATE.label) > report.score(LEADING_DRIVER.label)
    winner, decision = decide_promotion(UNIVARIATE, LEADING_DRIVER, report)
    assert winner == LEADING_DRIVER and decision["decision"] == "kept_champion_config"
    assert decision["champion_score"] < decision["challenger_score"]


def test_a_better_challenger_is_promoted(report):
    winner, decision = decide_promotion(LEADING_DRIVER, UNIVARIATE, report)
    assert winner == LEADING_DRIVER and decision["decision"] == "promoted"


def test_the_first_model_becomes_champion(report):
    winner, decision = decide_promotion(UNIVARIATE, None, report)
    assert winner == UNIVARIATE and decision["decision"] == "first_champion"


def _seed_champion(settings, frame, config: ModelConfig, tmp_path) -> str:
    """Register `config` as the champion through the real registry, as an earlier training would."""
    registry = Registry(settings)
    fitted = fit_forecast(frame, TARGET, config, settings.forecast_horizon_max)
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
    assert int(registry_rest.champion_pointer(gated).version) == int(seeded) + 1  # refitted on the new data


def test_gate_through_mlflow_promotes_a_better_challenger(settings, gcs_emulator, frame, tmp_path):
    gated = isolated_settings(settings, gcs_emulator)
    _seed_champion(gated, frame, NAIVE, tmp_path)
    outcome, served_config = _train(gated, gcs_emulator, frame)
    assert outcome.decision == "promoted"
    assert served_config != NAIVE and "ttf_price" in served_config.drivers
    run = Registry(gated).client.get_run(outcome.run_id)
    assert run.data.metrics["champion_config.h1.mae"] > 0 and "score.naive" in run.data.metrics
