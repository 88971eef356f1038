"""What a candidate model is and how the training procedure runs: small frozen values, safe to hash and log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

KINDS = ("naive", "ar", "ses", "var", "vecm")
SEASONALS = ("none", "weekday")
_MODEL_CLASSES = {
    "naive": "Naive",
    "ar": "AR",
    "ses": "SES",
    "var": "VAR",
    "vecm": "VECM",
}
_MULTIVARIATE = ("var", "vecm")
_SEASONAL_TAGS = {"weekday": "+wd"}


@dataclass(frozen=True)
class ModelConfig:
    """One candidate: model kind, drivers, training window, lag knobs, a calendar term and a naive blend.

    `seasonal`: "weekday" adds a weekday profile of the target's logs, estimated at each fit (for
    calendar-daily spot prices). `naive_weight`: the forecast is (1 − w) × model + w × naive in logs.
    """

    kind: str
    drivers: tuple[str, ...] = ()
    window_years: float | None = None
    max_lags: int = 14
    ic: str = "bic"
    seasonal: str = "none"
    naive_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        object.__setattr__(self, "drivers", tuple(self.drivers))
        if self.kind in _MULTIVARIATE and not self.drivers:
            raise ValueError(f"a {self.kind} model needs at least one driver")
        if self.kind not in _MULTIVARIATE and self.drivers:
            raise ValueError(f"a {self.kind} model takes no drivers")
        if self.seasonal not in SEASONALS:
            raise ValueError(f"unknown seasonal term {self.seasonal!r}; expected one of {', '.join(SEASONALS)}")
        if self.seasonal != "none" and self.kind in _MULTIVARIATE:
            raise ValueError("calendar terms are for univariate models (naive, ar, ses)")
        if not 0.0 <= self.naive_weight < 1.0:
            raise ValueError("naive_weight must be in [0, 1)")

    @property
    def label(self) -> str:
        """Short name, unique per configuration: non-default knobs are spelled out."""
        text = self.kind
        if self.drivers:
            text += "[" + ",".join(self.drivers) + "]"
        text += _SEASONAL_TAGS.get(self.seasonal, "")
        if self.window_years is not None:
            text += f"@{self.window_years:g}y"
        if self.max_lags != ModelConfig.max_lags:
            text += f"/p{self.max_lags}"
        if self.ic != ModelConfig.ic:
            text += f"/{self.ic}"
        if self.naive_weight:
            text += f"~naive{round(100 * self.naive_weight)}"
        return text

    @property
    def model_class(self) -> str:
        return _MODEL_CLASSES[self.kind]

    @property
    def core(self) -> ModelConfig:
        """The same model without the naive blend: what is fitted and filtered."""
        return replace(self, naive_weight=0.0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["drivers"] = list(self.drivers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["drivers"] = tuple(values.get("drivers", ()))
        return cls(**values)


@dataclass(frozen=True)
class ProcedureSettings:
    """The training procedure (docs/model.md#procedure). Lengths in years become rows of the series' calendar.

    `horizons`: steps scored in selection, in the gate and in the nested evaluation. The evaluation
    stretch is the last `stretch_years` of origins before the end of the data: its first half selects
    drivers and the challenger, its second half tests the challenger against the incumbent
    (`significance`, one-sided). Models are refitted every `refit_years` along the stretch.
    `nested_origins` origins, `nested_step` rows apart, give the nested figures shipped with a training
    (0 = none).
    """

    horizons: tuple[int, ...] = (1, 7, 14, 30)
    max_drivers: int = 3
    window_years: float | None = None
    stretch_years: float = 2.0
    refit_years: float = 0.25
    min_train_rows: int = 180
    significance: float = 0.01
    nested_origins: int = 12
    nested_step: int = 22  # coprime with 5 and 7: the origins fall on every weekday

    def __post_init__(self) -> None:
        object.__setattr__(self, "horizons", tuple(sorted({int(h) for h in self.horizons})))
        if not self.horizons or self.horizons[0] < 1:
            raise ValueError("horizons must be positive integers")
        if self.stretch_years <= 0 or self.refit_years <= 0:
            raise ValueError("stretch_years and refit_years must be positive")
        if not 0.0 < self.significance < 0.5:
            raise ValueError("significance must be in (0, 0.5)")
        if self.nested_origins < 0 or self.nested_step < 1:
            raise ValueError("nested_origins must be ≥ 0 and nested_step ≥ 1")

    @property
    def max_horizon(self) -> int:
        return self.horizons[-1]
