"""Production champion source: the MLflow registry through `gasforecast.registry`.

A thin adapter so the cache (and the tests) depend only on `pointer()` and `load(pointer)`.
"""

from __future__ import annotations

from gasforecast import registry
from gasforecast.bundle import ForecastBundle
from gasforecast.config import Settings
from gasforecast.registry import ChampionPointer


class MlflowChampionSource:
    """Reads the champion alias and its run's bundle from the MLflow tracking server."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def pointer(self) -> ChampionPointer | None:
        return registry.champion_pointer(self._settings)

    def load(self, pointer: ChampionPointer) -> ForecastBundle:
        return registry.load_bundle(self._settings, pointer)
