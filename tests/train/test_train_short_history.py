"""A dataset too short to backtest is acknowledged, not retried into the dead-letter topic."""

from gasforecast.ingestion import dataset
from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
from gasforecast.platform.messaging import RetrainRequest, utc_now_iso
from gasforecast.platform.storage import Bucket
from gasforecast.publication.serving import PublishedChampions
from gasforecast.training.registry import Registry
from gasforecast.training.retrain import handle_retrain
from tests.stack_helpers import isolated_settings


def test_too_little_history_is_acknowledged_without_a_run(settings, gcs_emulator):
    isolated = isolated_settings(settings, gcs_emulator)
    short = dataset.read_curated(to_csv_bytes(synthetic_history(60)))
    Bucket(gcs_emulator.client, isolated.data_bucket).write(
        isolated.curated_object, dataset.curated_to_bytes(short), content_type="text/csv")

    outcome = handle_retrain(isolated, RetrainRequest("upload", utc_now_iso()), gcs_emulator.client, message_id="short")

    assert outcome.status == "insufficient_history"
    assert Registry(isolated).client.get_experiment_by_name(isolated.mlflow_experiment) is None
    assert Registry(isolated).champion() is None
    assert PublishedChampions(Bucket(gcs_emulator.client, isolated.data_bucket)).pointer() is None
