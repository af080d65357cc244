"""abtest.promotion: each clause met and not met with its reason, near-best probabilities against
closed forms, guardrail holds, and the per-period decision on Simpson's data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from abtest.allocation import period_posteriors
from abtest.promotion import (
    GuardrailData,
    PromotionRule,
    bandit_step,
    equal_mix,
    evaluate_promotion,
    guardrail_harm,
    probability_near_best,
)
from abtest.stats.posteriors import NormalPosterior, sample_posteriors
from abtest.stats.sequential import RELATIVE_SEQUENTIAL_TEST
from abtest.stats.summary import SampleStats

STRONG = [[SampleStats.binary(5000, 250), SampleStats.binary(5000, 400)]]
RULE = PromotionRule(probability_best=0.95, min_units_per_arm=1000)


def _decide(rule, periods, **kwargs):
    posteriors = period_posteriors(periods, "binary")
    return evaluate_promotion(rule, periods, "binary", posteriors, seed=1, **kwargs)


def _clauses(decision):
    return {clause.name: clause for clause in decision.clauses}


def test_every_clause_met_promotes_the_leader():
    decision = _decide(RULE, STRONG)
    assert decision.promote and decision.leader == 1
    assert set(_clauses(decision)) == {"probability_best", "min_units", "sequential"}
    assert decision.reasons == ()


def test_probability_below_threshold_is_the_reason():
    close = [[SampleStats.binary(5000, 250), SampleStats.binary(5000, 270)]]
    decision = _decide(PromotionRule(0.95, 1000, sequential_alpha=None), close)
    assert not decision.promote
    assert decision.reasons[0].startswith("P(best) of the leader 0.")


def test_too_few_units_is_the_reason():
    periods = [[SampleStats.binary(999, 50), SampleStats.binary(5000, 400)]]
    decision = _decide(RULE, periods)
    assert not decision.promote
    assert _clauses(decision)["min_units"].value == 999
    assert decision.reasons == ("smallest arm has 999 units < 1000",)


def test_sequential_clause_needs_an_always_valid_difference():
    close = [[SampleStats.binary(5000, 250), SampleStats.binary(5000, 290)]]
    loose = PromotionRule(probability_best=0.9, min_units_per_arm=1000)
    sequential = _clauses(_decide(loose, close))["sequential"]
    assert not sequential.met
    assert sequential.threshold == pytest.approx(0.05 / 2)
    assert "vs the average of the other arms" in sequential.detail
    off = _decide(PromotionRule(0.9, 1000, sequential_alpha=None), close)
    assert off.promote and "sequential" not in _clauses(off)


def test_near_best_probability_matches_the_normal_closed_form():
    """Arm 1 is within δ of arm 0 iff θ0 - (1 + δ) θ1 <= 0: a normal variable (θ's positive)."""
    posteriors = (NormalPosterior(0.060, 0.002), NormalPosterior(0.058, 0.0015))
    draws = 200_000
    samples = sample_posteriors(posteriors, draws, np.random.default_rng(5))
    for margin in (0.0, 0.05, 0.1):
        mean = 0.060 - (1 + margin) * 0.058
        sd = np.hypot(0.002, (1 + margin) * 0.0015)
        exact = sps.norm.cdf(-mean / sd)
        got = probability_near_best(samples, margin)[1]
        assert got == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / draws))


def test_two_tied_best_arms_are_shipped_with_a_margin_but_split_plain_p_best():
    """The seed's finding: two equally good arms. P(best) splits near 0.5 each; P(within 5%
    of the best) is high for both, so one of them is promoted."""
    tied = [[SampleStats.binary(20000, 800), SampleStats.binary(30000, 1800),
             SampleStats.binary(30000, 1800)]]
    plain = _decide(PromotionRule(0.9, 1000, equivalence_margin=0.0), tied)
    assert not plain.promote and _clauses(plain)["probability_best"].value < 0.7
    margin = _decide(PromotionRule(0.9, 1000, equivalence_margin=0.05), tied)
    assert margin.promote and margin.leader in (1, 2)


def test_equal_mix_is_the_unweighted_average_of_the_means():
    rng = np.random.default_rng(8)
    samples = [rng.normal(mu, 2.0, n) for mu, n in ((1.0, 50), (3.0, 4000), (2.0, 300))]
    arms = [SampleStats(len(x), float(x.sum()), float((x * x).sum())) for x in samples]
    mixed = equal_mix(arms)
    assert mixed.mean == pytest.approx(np.mean([x.mean() for x in samples]))
    expected = sum(x.var(ddof=1) / len(x) for x in samples) / 9
    assert mixed.variance / mixed.n == pytest.approx(expected)


def test_guardrail_harm_flags_only_the_harmful_arm_by_the_always_valid_test():
    periods = [[SampleStats.binary(3000, 30), SampleStats.binary(3000, 90),
                SampleStats.binary(3000, 33)]]
    harm = guardrail_harm([GuardrailData("complaint", "binary", False, periods)])
    assert set(harm) == {1}
    assert f"complaint higher than control by the {RELATIVE_SEQUENTIAL_TEST}" in harm[1]
    better_is_higher = guardrail_harm([GuardrailData("aov", "binary", True, periods)])
    assert better_is_higher == {}


def test_a_held_back_arm_is_never_the_leader_and_its_weight_is_the_floor():
    primary = [[SampleStats.binary(5000, 250), SampleStats.binary(5000, 400),
                SampleStats.binary(5000, 330)]]
    complaints = [[SampleStats.binary(5000, 50), SampleStats.binary(5000, 150),
                   SampleStats.binary(5000, 50)]]
    step = bandit_step(primary, "binary", floor=0.05, min_units=100, rule=RULE,
                       guardrails=[GuardrailData("complaint", "binary", False, complaints)],
                       seed=3)
    assert set(step.held_back) == {1}
    assert step.allocation.weights[1] == pytest.approx(0.05)
    assert step.allocation.probability_best[1] == 0.0
    assert step.decision.leader == 2
    assert "arm 1 held back" in _clauses(step.decision)["guardrails"].detail


def test_the_no_harm_clause_blocks_a_leader_with_too_little_guardrail_evidence():
    primary = [[SampleStats.binary(600, 30), SampleStats.binary(6000, 480)]]
    complaints = [[SampleStats.binary(600, 6), SampleStats.binary(6000, 60)]]
    decision = _decide(PromotionRule(0.9, 500), primary,
                       guardrails=[GuardrailData("complaint", "binary", False, complaints)])
    clause = _clauses(decision)["guardrail:complaint"]
    assert not clause.met and not decision.promote  # equal rates, but 6 complaints prove little
    assert "not shown within tolerance" in clause.detail and clause.value > 0.5
    plenty = [[SampleStats.binary(6000, 300), SampleStats.binary(60000, 4800)]]
    enough = [[SampleStats.binary(6000, 60), SampleStats.binary(60000, 600)]]
    assert _decide(PromotionRule(0.9, 500), plenty,
                   guardrails=[GuardrailData("complaint", "binary", False, enough)]).promote


def test_a_leader_worse_than_the_arms_it_replaces_is_not_promoted():
    primary = [[SampleStats.binary(20000, 1000), SampleStats.binary(20000, 1400)]]
    complaints = [[SampleStats.binary(20000, 200), SampleStats.binary(20000, 300)]]
    decision = _decide(RULE, primary,
                       guardrails=[GuardrailData("complaint", "binary", False, complaints)])
    assert not decision.promote and decision.leader == 0  # arm 1 is no candidate
    assert "arm 1 held back: complaint: leader worse than the other arms" in (
        _clauses(decision)["guardrails"].detail)


def test_a_probably_harmful_arm_loses_traffic_before_any_test_holds_it():
    """Constrained Thompson sampling: arm 1 converts a little better but its complaints are
    probably above 1.5 x control's; without the guardrail it would get most of the traffic."""
    primary = [[SampleStats.binary(400, 20), SampleStats.binary(400, 26),
                SampleStats.binary(400, 21)]]
    complaints = [[SampleStats.binary(400, 4), SampleStats.binary(400, 12),
                   SampleStats.binary(400, 4)]]
    plain = bandit_step(primary, "binary", floor=0.05, min_units=100, rule=None, seed=4)
    guarded = bandit_step(primary, "binary", floor=0.05, min_units=100, rule=None, seed=4,
                          guardrails=[GuardrailData("complaint", "binary", False, complaints)])
    assert guarded.held_back == {}
    assert guarded.allocation.weights[1] < plain.allocation.weights[1] / 2


def test_the_decision_is_taken_on_period_stratified_data():
    """Simpson's data: both arms equal within each period while the rate drifts and the weights
    move; pooled, arm 1 looks three times better. Per period, nothing is promoted and the
    posterior means agree."""
    periods = [[SampleStats.binary(9000, 180), SampleStats.binary(1000, 20)],
               [SampleStats.binary(1000, 100), SampleStats.binary(9000, 900)]]
    posteriors = period_posteriors(periods, "binary")
    assert posteriors[0].mean == pytest.approx(posteriors[1].mean, rel=0.02)
    decision = evaluate_promotion(PromotionRule(0.9, 500), periods, "binary", posteriors, seed=2)
    assert not decision.promote


def test_an_arm_without_conversions_still_has_a_proper_posterior():
    periods = [[SampleStats.binary(500, 0), SampleStats.binary(500, 3)],
               [SampleStats.binary(400, 0), SampleStats.binary(600, 2)]]
    first, _ = period_posteriors(periods, "binary")
    assert first.alpha == pytest.approx(1.0) and first.beta == pytest.approx(1.0 + 900)
