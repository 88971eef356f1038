"""The training procedure: a challenger replaces naive (or the champion) only with significant evidence."""

import json
import math

import numpy as np
import pytest

from gasforecast.forecasting import InsufficientHistory, ModelConfig, assess, gate, run_procedure
from gasforecast.forecasting.fitting import fit_candidate
from gasforecast.forecasting.linear import forecast_paths, transform
from gasforecast.forecasting.procedure import parse_champion
from tests.forecasting.conftest import FAST

LEADER_VAR = ModelConfig("var", ("leader",))


@pytest.fixture(scope="module")
def leading_assessment(leading):
    return assess(leading, "price", FAST, extra=[ModelConfig("ar")])


@pytest.fixture(scope="module")
def random_walk_assessment(random_walk):
    return assess(random_walk, "price", FAST)


def test_a_challenger_without_significant_edge_falls_back_to_naive(random_walk_assessment):
    assessment = random_walk_assessment
    assert assessment.calendar == "business"
    decision = gate(assessment, None, significance=0.01)
    assert decision.served == ModelConfig("naive") and decision.decision == "naive"
    if assessment.challenger != "naive":  # something won the selection half by chance: the test half says no
        assert decision.test.p_value >= 0.01 and "not significant" in decision.reason


def test_a_genuinely_better_model_is_chosen_and_promoted(leading_assessment):
    assessment = leading_assessment
    assert assessment.drivers == ("leader",)
    decision = gate(assessment, None, significance=0.01)
    assert decision.decision == "promoted" and "leader" in decision.served.drivers
    assert decision.test.p_value < 0.01 and decision.challenger_score < 0.9
    assert decision.to_dict()["significance"] == 0.01, "the bundle records the level the page quotes"
    assert assessment.candidates[decision.served.label].test_ratios[0] < 0.5  # yesterday's leader move is today's


def test_a_champion_is_kept_while_it_beats_naive_and_the_challenger_does_not_beat_it(leading_assessment):
    challenger = leading_assessment.candidates[leading_assessment.challenger]
    rivals = [ev for label, ev in leading_assessment.candidates.items()  # as good: the other unblended leader model
              if "leader" in label and ev is not challenger and not ev.unusable and not ev.config.naive_weight]
    champion = min(rivals, key=lambda ev: abs(ev.test_score - challenger.test_score)).config
    decision = gate(leading_assessment, champion, significance=0.01)
    assert decision.decision == "kept_champion_config" and decision.served == champion
    assert decision.champion == champion.label and decision.champion_score < 0.9


def test_a_champion_that_no_longer_beats_naive_is_replaced(leading_assessment):
    decision = gate(leading_assessment, ModelConfig("ar"), significance=0.01)
    assert decision.incumbent == "naive" and "not significant any more" in decision.reason
    assert decision.decision == "promoted" and "leader" in decision.served.drivers


def test_run_procedure_serves_the_gated_configuration_with_its_points(leading):
    result = run_procedure(leading, "price", FAST, champion=ModelConfig("naive").to_dict(), horizon=20)
    assert result.config == result.decision.served and "leader" in result.config.drivers
    assert len(result.forecast.points) == 20 and result.evaluation is None  # FAST has no nested origins
    json.dumps(result.report.to_dict(), allow_nan=False)
    assert result.report.metrics()[result.config.label][1]["test_ratio"] < 0.5


def test_missing_or_ended_drivers_are_unusable_not_fatal(market):
    frame = market.assign(ended=market["brent_price"].where(market.index < market.index[-400]))
    assessment = assess(frame, "uk_gas_price", FAST,
                        extra=[ModelConfig("var", ("not_a_column",)), ModelConfig("var", ("ended",))])
    assert "not in the data" in assessment.candidates["var[not_a_column]"].unusable
    assert assessment.candidates["var[ended]"].unusable
    assert "ended" not in assessment.eligible and math.isinf(assessment.candidates["var[ended]"].selection_score)


def test_an_unreadable_champion_counts_as_none():
    assert parse_champion({"kind": "seasonal_naive"}) is None
    assert parse_champion({"kind": "ar"}) == ModelConfig("ar")


def test_level_form_of_a_differences_var_matches_statsmodels(market):
    values = market[["uk_gas_price", "ttf_price"]].to_numpy()
    fit = fit_candidate(ModelConfig("var", ("ttf_price",), max_lags=5, ic="aic"), values, market.index,
                        with_results=True)
    z = transform(values, fit.level_model.log_columns)
    ours = forecast_paths(fit.level_model, z, np.array([len(values) - 1]), 10)[0]
    lags = fit.results.k_ar
    moves = fit.results.forecast(np.diff(z, axis=0)[-lags:], 10)[:, 0]
    np.testing.assert_allclose(ours, z[-1, 0] + np.cumsum(moves))


def test_too_short_a_history_says_how_much_is_needed(market):
    with pytest.raises(InsufficientHistory, match="need at least"):
        assess(market.iloc[:250], "uk_gas_price", FAST)
