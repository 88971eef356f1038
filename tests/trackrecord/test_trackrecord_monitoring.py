"""The live aggregates become time series on one MLflow monitoring run (SQLite-backed MLflow, no server)."""

from __future__ import annotations

from datetime import date, timedelta

from trackrecord_fakes import served_bundle

from gasforecast.platform.config import Settings
from gasforecast.publication.documents import TrackRecordDocument
from gasforecast.scoring.ledger import ledger_entry
from gasforecast.scoring.track_record import build_document, day_index, monitoring_metrics
from gasforecast.training.registry import Registry


def _registry(tmp_path, experiment: str = "uk-gas-price") -> Registry:
    """The training's registry on a SQLite-backed MLflow; its monitoring experiment is `<experiment>-monitoring`."""
    return Registry(Settings(mlflow_tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", mlflow_experiment=experiment))


def _document(days_of_prices: int) -> TrackRecordDocument:
    origin = date(2025, 1, 10)
    entry = ledger_entry(served_bundle("3", origin, 100.0), "k")
    actuals = {(origin + timedelta(days=i)).isoformat(): 100.0 + i for i in range(1, days_of_prices + 1)}
    return build_document([entry], actuals, (1, 7, 30), target="uk_gas_price", unit="pence/therm")


def test_metric_names_follow_horizon_window_and_measure():
    metrics = monitoring_metrics(_document(10))
    assert metrics["live.h1.last_30.points"] == 1.0 and metrics["live.h7.all.mae_ratio"] == 1.0  # the flat forecast is "no change"
    assert "live.h30.all.mae" not in metrics  # nothing matured at 30 days yet: no value, no metric
    assert metrics["live.degraded"] == 0.0


def test_each_training_appends_to_the_same_monitoring_run(tmp_path):
    registry = _registry(tmp_path)
    client = registry.client
    first, later = _document(10), _document(31)
    run_id = registry.log_track_record(first)
    assert registry.log_track_record(later) == run_id
    history = client.get_metric_history(run_id, "live.h1.all.mae")
    assert [m.step for m in history] == [day_index("2025-01-20"), day_index("2025-02-10")]
    assert [m.step for m in client.get_metric_history(run_id, "live.h30.all.mae")] == [day_index("2025-02-10")]
    assert client.get_run(run_id).data.tags["track_record.status"] == "too_few_points"


def test_nothing_is_logged_before_any_price_is_known(tmp_path):
    registry = _registry(tmp_path, "x")
    empty = build_document([], {}, (1,), target="uk_gas_price", unit="pence/therm")
    assert registry.log_track_record(empty) is None
    assert registry.client.get_experiment_by_name("x-monitoring") is None


def test_a_training_retried_after_a_crash_logs_its_record_once(tmp_path):
    registry = _registry(tmp_path, "x")
    client = registry.client
    run_id = registry.log_track_record(_document(10), training_key="gen1-abc")
    assert registry.log_track_record(_document(10), training_key="gen1-abc") == run_id
    assert len(client.get_metric_history(run_id, "live.h1.all.mae")) == 1
    registry.log_track_record(_document(31), training_key="gen2-abc")
    assert len(client.get_metric_history(run_id, "live.h1.all.mae")) == 2
    assert client.get_run(run_id).data.tags["track_record.training_key"] == "gen2-abc"
