"""Forecasting core: candidates, the training procedure with its evidence gate, calibrated intervals,
and the nested evaluation (docs/model.md)."""

from gasforecast.forecasting.config import ModelConfig, ProcedureSettings
from gasforecast.forecasting.evaluation import NestedEvaluation, evaluate_nested
from gasforecast.forecasting.forecast import FittedForecast
from gasforecast.forecasting.procedure import Assessment, Decision, TrainingResult, assess, gate, run_procedure
from gasforecast.forecasting.stretch import InsufficientHistory

__all__ = [
    "Assessment",
    "Decision",
    "FittedForecast",
    "InsufficientHistory",
    "ModelConfig",
    "NestedEvaluation",
    "ProcedureSettings",
    "TrainingResult",
    "assess",
    "evaluate_nested",
    "gate",
    "run_procedure",
]
