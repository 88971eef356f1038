"""Production champion source: the MLflow registry over plain REST (`gasforecast.registry_rest`).

A thin adapter so the cache (and the tests) depend only on `pointer()`, `load(pointer)` and
`fallbacks()`; the service never imports mlflow.
"""

from __future__ import annotations

from gasforecast import registry_rest
from gasforecast.bundle import ForecastBundle
from gasforecast.config import Settings
from gasforecast.registry_rest import ChampionPointer

# How many of the newest versions a fresh instance tries when the champion's bundle is not servable:
# each costs a run lookup and two downloads inside the start-up timeout.
FALLBACK_VERSIONS = 10


class MlflowChampionSource:
    """Reads the champion alias, its run's bundle and the recent versions from the MLflow server."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def pointer(self) -> ChampionPointer | None:
        return registry_rest.champion_pointer(self._settings)

    def load(self, pointer: ChampionPointer) -> ForecastBundle:
        return registry_rest.load_bundle(self._settings, pointer)

    def fallbacks(self) -> list[ChampionPointer]:
        return registry_rest.recent_versions(self._settings, FALLBACK_VERSIONS)
