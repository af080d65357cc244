"""abtest.promotion: each clause met and not met, with the reason recorded."""

from __future__ import annotations

import pytest

from abtest.promotion import GuardrailData, PromotionRule, evaluate_promotion
from abtest.stats.summary import SampleStats

STRONG = [SampleStats.binary(5000, 250), SampleStats.binary(5000, 400)]
RULE = PromotionRule(probability_best=0.95, min_units_per_arm=1000)


def _clauses(decision):
    return {clause.name: clause for clause in decision.clauses}


def test_every_clause_met_promotes_the_leader():
    decision = evaluate_promotion(RULE, STRONG, "binary", [0.001, 0.999])
    assert decision.promote and decision.leader == 1
    assert set(_clauses(decision)) == {"probability_best", "min_units", "sequential"}
    assert decision.reasons == ()


def test_probability_below_threshold_is_the_reason():
    decision = evaluate_promotion(RULE, STRONG, "binary", [0.06, 0.94])
    assert not decision.promote
    assert decision.reasons == ("P(best) of the leader 0.940 < 0.95",)


def test_too_few_units_is_the_reason():
    arms = [SampleStats.binary(999, 50), SampleStats.binary(5000, 400)]
    decision = evaluate_promotion(RULE, arms, "binary", [0.001, 0.999])
    assert not decision.promote
    assert _clauses(decision)["min_units"].value == 999
    assert decision.reasons == ("smallest arm has 999 units < 1000",)


def test_sequential_clause_needs_an_always_valid_difference():
    close = [SampleStats.binary(5000, 250), SampleStats.binary(5000, 290)]
    decision = evaluate_promotion(RULE, close, "binary", [0.03, 0.97])
    sequential = _clauses(decision)["sequential"]
    assert not sequential.met and not decision.promote
    assert sequential.threshold == pytest.approx(0.05 / 2)
    assert "vs the other arms pooled" in sequential.detail
    off = evaluate_promotion(PromotionRule(sequential_alpha=None, min_units_per_arm=1000),
                             close, "binary", [0.03, 0.97])
    assert off.promote and "sequential" not in _clauses(off)


def test_a_harmed_guardrail_blocks_and_an_unharmed_one_passes():
    harmed = GuardrailData("complaint", "binary", False,
                           (SampleStats.binary(5000, 20), SampleStats.binary(5000, 60)))
    fine = GuardrailData("refund", "binary", False,
                         (SampleStats.binary(5000, 20), SampleStats.binary(5000, 21)))
    decision = evaluate_promotion(RULE, STRONG, "binary", [0.001, 0.999],
                                  guardrails=[harmed, fine])
    clauses = _clauses(decision)
    assert not clauses["guardrail:complaint"].met
    assert clauses["guardrail:refund"].met
    assert not decision.promote
    assert decision.reasons[0].startswith("complaint: leader significantly worse")


def test_control_leading_skips_its_own_guardrail_check():
    guard = GuardrailData("complaint", "binary", False,
                          (SampleStats.binary(5000, 60), SampleStats.binary(5000, 20)))
    arms = list(reversed(STRONG))
    decision = evaluate_promotion(RULE, arms, "binary", [0.999, 0.001], guardrails=[guard])
    assert decision.promote and decision.leader == 0
    assert _clauses(decision)["guardrail:complaint"].detail == "the leader is control"
