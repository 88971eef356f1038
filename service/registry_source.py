"""Production champion source: the MLflow registry over plain REST (`gasforecast.registry_rest`).

A thin adapter so the cache (and the tests) depend only on `pointer()` and `load(pointer)`; the
service never imports mlflow.
"""

from __future__ import annotations

from gasforecast import registry_rest
from gasforecast.bundle import ForecastBundle
from gasforecast.config import Settings
from gasforecast.registry_rest import ChampionPointer


class MlflowChampionSource:
    """Reads the champion alias and its run's bundle from the MLflow tracking server."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def pointer(self) -> ChampionPointer | None:
        return registry_rest.champion_pointer(self._settings)

    def load(self, pointer: ChampionPointer) -> ForecastBundle:
        return registry_rest.load_bundle(self._settings, pointer)
