"""What a candidate model is and how it is backtested: small frozen values, safe to hash and log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

KINDS = ("naive", "seasonal_naive", "ar", "var", "vecm")
_MODEL_CLASSES = {
    "naive": "Naive",
    "seasonal_naive": "SeasonalNaive",
    "ar": "AR",
    "var": "VAR",
    "vecm": "VECM",
}
_MULTIVARIATE = ("var", "vecm")


@dataclass(frozen=True)
class ModelConfig:
    """One candidate: model kind, its drivers, its training window and lag-selection knobs."""

    kind: str
    drivers: tuple[str, ...] = ()
    window_years: float | None = None
    max_lags: int = 14
    ic: str = "bic"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        object.__setattr__(self, "drivers", tuple(self.drivers))
        if self.kind in _MULTIVARIATE and not self.drivers:
            raise ValueError(f"a {self.kind} model needs at least one driver")
        if self.kind not in _MULTIVARIATE and self.drivers:
            raise ValueError(f"a {self.kind} model takes no drivers")

    @property
    def label(self) -> str:
        """Short name, unique per configuration: non-default knobs are spelled out."""
        text = self.kind
        if self.drivers:
            text += "[" + ",".join(self.drivers) + "]"
        if self.window_years is not None:
            text += f"@{self.window_years:g}y"
        if self.max_lags != ModelConfig.max_lags:
            text += f"/p{self.max_lags}"
        if self.ic != ModelConfig.ic:
            text += f"/{self.ic}"
        return text

    @property
    def model_class(self) -> str:
        return _MODEL_CLASSES[self.kind]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drivers"] = list(self.drivers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["drivers"] = tuple(values.get("drivers", ()))
        return cls(**values)


@dataclass(frozen=True)
class BacktestSettings:
    """Rolling-origin protocol: scored origins `step_days` apart ending `max(horizons)` before the data.

    `refit_days`: models are re-estimated at the start of each block of that many days and, inside a
    block, forecast from every origin with the data up to that origin (filtering, never refitting on
    the future). `calibration_days`: daily origins before the first scored one whose errors seed the
    interval calibration and on which drivers are selected.
    """

    horizons: tuple[int, ...] = (1, 7, 14, 30)
    origins: int = 104
    step_days: int = 7
    max_drivers: int = 3
    window_years: float | None = None
    refit_days: int = 91
    calibration_days: int = 728
    min_train_days: int = 180

    def __post_init__(self) -> None:
        object.__setattr__(self, "horizons", tuple(sorted({int(h) for h in self.horizons})))
        if not self.horizons or self.horizons[0] < 1:
            raise ValueError("horizons must be positive integers")
        if self.origins < 1 or self.step_days < 1 or self.refit_days < 1:
            raise ValueError("origins, step_days and refit_days must be positive")

    @property
    def max_horizon(self) -> int:
        return self.horizons[-1]
