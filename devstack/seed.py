"""A champion for a fresh stack, trained by the real training code on the synthetic sample.

Used where a part needs a served model without going through an upload: the service tests and the
serving benchmark.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gasforecast.platform.config import Settings

from devstack.stack import LocalStack


def ensure_champion(stack: LocalStack, settings: Settings) -> None:
    """Train once on synthetic data unless a champion is already published for the service."""
    from gasforecast.ingestion import dataset
    from gasforecast.ingestion.sample import synthetic_history, to_csv_bytes
    from gasforecast.platform.messaging import RetrainRequest, utc_now_iso
    from gasforecast.platform.storage import Bucket
    from gasforecast.publication.serving import PublishedChampions
    from gasforecast.training.retrain import handle_retrain

    client = stack.storage_client()
    bucket = Bucket(client, settings.data_bucket)
    if PublishedChampions(bucket).pointer() is not None:
        return
    if bucket.read(settings.curated_object) is None:
        frame = dataset.read_curated(to_csv_bytes(synthetic_history(3 * 365, seed=11)))
        bucket.write(settings.curated_object, dataset.curated_to_bytes(frame), content_type="text/csv",
                     if_generation_match=0)
    handle_retrain(settings, RetrainRequest("manual", utc_now_iso()), client, message_id="seed-champion")
