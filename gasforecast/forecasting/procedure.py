"""The training procedure: one pure function from a frame (and the champion's configuration) to what is served.

`run_procedure` is what the train function, `gasforecast forecast` and every origin of the nested
evaluation run (docs/model.md#procedure):

1. **Assess** (`assess`, stateless): lay out the evaluation stretch, choose drivers on its selection
   half, forecast from every stretch origin with every candidate (refitting along the stretch),
   score each on the selection half and on the test half, calibrate its intervals on the whole
   stretch, and forecast from the last row. The challenger is the best candidate on the selection half.
2. **Gate** (`gate`, carries the champion): the challenger replaces the incumbent — the champion's
   configuration while it still beats naive significantly on the test half, else naive — only when
   a Diebold–Mariano test on the test half (which it was not chosen on) says its edge over the
   incumbent is significant. Otherwise the incumbent is served. Promotion and model selection are
   this one rule.
3. **Serve**: the decided configuration's forecast from the last row, with its intervals, its
   statsmodels results for the registry, and (for training) the nested figures of the procedure.
"""

from __future__ import annotations

# The steps' types live in `assessment` (below both this module and the nested evaluation); they are
# re-exported here, where callers have always found them.
__all__ = ["Assessment", "CandidateEvidence", "Decision", "TrainingResult", "assess", "gate", "parse_champion",
           "run_procedure", "serve"]

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gasforecast.forecasting.assessment import Assessment, CandidateEvidence, Decision, assess, gate
from gasforecast.forecasting.config import ModelConfig, ProcedureSettings
from gasforecast.forecasting.distribution import PredictiveDistribution, predictive_distribution, served_moves
from gasforecast.forecasting.evaluation import evaluate_nested
from gasforecast.forecasting.forecast import FittedForecast, served_forecast
from gasforecast.forecasting.selection import (
    NAIVE,
)
from gasforecast.forecasting.stretch import InsufficientHistory
from gasforecast.ingestion.series_calendar import NO_HOLIDAYS, MarketHolidays
from gasforecast.platform.logs import get_logger

log = get_logger(__name__)


def parse_champion(champion: ModelConfig | dict | None) -> ModelConfig | None:
    """The champion's configuration from the registry tag; an unreadable one counts as no champion."""
    if champion is None or isinstance(champion, ModelConfig):
        return champion
    try:
        return ModelConfig.from_dict(champion)
    except (TypeError, ValueError) as exc:
        log.warning("procedure.champion_unreadable", error=str(exc))
        return None


@dataclass
class TrainingResult:
    """What one run of the procedure serves: the configuration, the decision, the forecast, the evidence."""

    config: ModelConfig
    decision: Decision
    forecast: FittedForecast
    report: Assessment
    evaluation: dict[str, Any] | None  # the nested figures (forecast.json `evaluation`), None when not run
    distribution: PredictiveDistribution  # the combined volatility experts; its weights go on the model card


def serve(frame: pd.DataFrame, target: str, assessment: Assessment, label: str, horizon: int,
          settings: ProcedureSettings, holidays: MarketHolidays = NO_HOLIDAYS) -> tuple[FittedForecast, PredictiveDistribution]:
    """Step 3: candidate `label`'s forecast from the last row with the frame's predictive distribution,
    dated on the series' trading days (no weekend, none of `holidays` on a business-day series)."""
    log_target = np.log(frame[target].to_numpy(dtype=float))
    distribution = predictive_distribution(log_target, assessment.calendar, settings.horizons)
    forecast = served_forecast(frame, target, assessment.candidates[label], assessment.candidates[NAIVE.label],
                               served_moves(distribution, horizon), horizon, settings.min_train_rows,
                               calendar=assessment.calendar, holidays=holidays)
    return forecast, distribution


def run_procedure(frame: pd.DataFrame, target: str, settings: ProcedureSettings = ProcedureSettings(),
                  champion: ModelConfig | dict | None = None, horizon: int = 90,
                  drivers: Sequence[str] | None = None, evaluate: bool = True,
                  workers: int | None = None, holidays: MarketHolidays = NO_HOLIDAYS) -> TrainingResult:
    """The whole procedure on `frame`: assess, gate against `champion`, serve `horizon` steps.

    `holidays`: the market's holidays (`PrepReport.holidays`), skipped by the served dates.

    With `evaluate` (and `settings.nested_origins` > 0) the result also carries the nested figures:
    the same procedure re-run at earlier origins on the rows before each (`evaluation.evaluate_nested`).
    """

    if horizon < 1:
        raise ValueError("horizon must be at least 1")
    champion_config = parse_champion(champion)
    assessment = assess(frame, target, settings, horizon, drivers, [champion_config] if champion_config else [])
    decision = gate(assessment, champion_config, settings.significance)
    forecast, distribution = serve(frame, target, assessment, decision.served.label, horizon, settings, holidays)
    log.info("procedure.decided", served=decision.served.label, decision=decision.decision,
             challenger=decision.challenger, p_value=decision.test.p_value if decision.test else None)
    evaluation = None
    if evaluate and settings.nested_origins > 0:
        try:
            evaluation = evaluate_nested(frame, target, settings, origins=settings.nested_origins,
                                         step=settings.nested_step, drivers=drivers, workers=workers,
                                         distribution=distribution).to_dict()
        except InsufficientHistory as exc:
            log.warning("procedure.nested_skipped", reason=str(exc))
    return TrainingResult(decision.served, decision, forecast, assessment, evaluation, distribution)
