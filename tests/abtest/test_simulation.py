"""abtest.simulation and abtest.stats.stratified: batched bandit runs and period stratification."""

from __future__ import annotations

import numpy as np
import pytest

from abtest.promotion import PromotionRule
from abtest.simulation import Scenario, simulate_fixed_split, simulate_thompson
from abtest.stats.frequentist import estimate_lift
from abtest.stats.stratified import post_stratify
from abtest.stats.summary import SampleStats

STRONG = Scenario((0.05, 0.15), visitors=20_000, batch=1_000, floor=0.05, min_units=100)


def test_thompson_promotes_a_strong_winner_and_serves_it_afterwards():
    run = simulate_thompson(STRONG, PromotionRule(min_units_per_arm=300),
                            np.random.default_rng(1))
    assert run.winner == 1
    assert sum(run.units) == STRONG.visitors
    assert run.units[1] > 0.8 * STRONG.visitors
    assert run.regret == pytest.approx(0.10 * run.units[0])


def test_fixed_split_serves_equal_shares_and_tests_at_the_end():
    run = simulate_fixed_split(STRONG, np.random.default_rng(2))
    assert run.winner == 1 and run.decided_at == STRONG.visitors
    assert abs(run.units[0] - 10_000) < 3.29 * np.sqrt(20_000 * 0.25)
    assert simulate_fixed_split(Scenario((0.1, 0.1), visitors=2_000),
                                np.random.default_rng(3)).winner is None


def test_same_seed_same_run():
    rule = PromotionRule(min_units_per_arm=300)
    assert simulate_thompson(STRONG, rule, np.random.default_rng(4)) == simulate_thompson(
        STRONG, rule, np.random.default_rng(4))


def _simpson_periods() -> list[list[SampleStats]]:
    """Rates drift 2% -> 10% over two periods, both arms equally good (true lift 0), while
    the weights move 90/10 -> 10/90: pooling makes arm 1 look ~3 times better."""
    return [
        [SampleStats.binary(9000, 180), SampleStats.binary(1000, 20)],
        [SampleStats.binary(1000, 100), SampleStats.binary(9000, 900)],
    ]


def test_pooling_is_biased_and_post_stratification_is_not_on_simpsons_data():
    periods = _simpson_periods()
    pooled = [periods[0][i] + periods[1][i] for i in range(2)]
    assert estimate_lift(pooled[1], pooled[0], "binary").relative > 1.5  # biased
    stratified = post_stratify(periods)
    lift = estimate_lift(stratified.arms[1], stratified.arms[0], "numeric")
    assert lift.absolute == pytest.approx(0.0, abs=1e-12)
    assert stratified.arms[0].mean == pytest.approx(0.06)  # (2% + 10%) / 2, equal periods
    assert (stratified.periods_used, stratified.units_left_out) == (2, 0)


def test_post_stratified_variance_is_the_stratified_formula():
    periods = _simpson_periods()
    arm = post_stratify(periods).arms[1]
    expected = sum(0.25 * p[1].variance / p[1].n for p in periods)
    assert arm.n == 10_000
    assert arm.variance / arm.n == pytest.approx(expected)


def test_periods_missing_an_arm_are_left_out_and_counted():
    periods = [*_simpson_periods(), [SampleStats(0, 0.0, 0.0), SampleStats.binary(500, 50)]]
    result = post_stratify(periods)
    assert (result.periods_used, result.units_left_out) == (2, 500)
    empty = post_stratify([[SampleStats(0, 0.0, 0.0), SampleStats.binary(5, 1)]])
    assert [a.n for a in empty.arms] == [0, 0]


def test_post_stratification_is_unbiased_in_simulation():
    """Many Simpson-style experiments with a true lift of +1 point: the stratified lift
    averages to it, the pooled one does not."""
    rng = np.random.default_rng(5)
    rates = np.array([[0.02, 0.03], [0.10, 0.11]])
    weights = np.array([[0.9, 0.1], [0.1, 0.9]])
    units = rng.multinomial(10_000, weights[0], 500), rng.multinomial(10_000, weights[1], 500)
    conv = [rng.binomial(u, r) for u, r in zip(units, rates, strict=True)]
    stratified, pooled = [], []
    for j in range(500):
        periods = [[SampleStats.binary(int(units[t][j, i]), int(conv[t][j, i]))
                    for i in range(2)] for t in range(2)]
        arms = post_stratify(periods).arms
        stratified.append(arms[1].mean - arms[0].mean)
        both = [periods[0][i] + periods[1][i] for i in range(2)]
        pooled.append(both[1].mean - both[0].mean)
    se = np.std(stratified) / np.sqrt(500)
    assert abs(np.mean(stratified) - 0.01) < 4 * se
    assert np.mean(pooled) - 0.01 > 0.05


def test_a_binary_period_without_conversions_keeps_a_positive_variance():
    """Anscombe's half pseudo success: (0 + 0.5)/(n + 1) in a period where nobody converted."""
    periods = [[SampleStats.binary(400, 0), SampleStats.binary(400, 3)],
               [SampleStats.binary(600, 0), SampleStats.binary(600, 5)]]
    numeric = post_stratify(periods).arms[0]
    binary = post_stratify(periods, binary=True).arms[0]
    shares = (0.4, 0.6)
    expected = sum(w * w * (0.5 / (n + 1)) * (1 - 0.5 / (n + 1)) / n
                   for w, n in zip(shares, (400, 600), strict=True))
    assert numeric.variance == 0 and numeric.mean == binary.mean == 0
    assert binary.variance / binary.n == pytest.approx(expected, rel=1e-12)
    other = post_stratify(periods, binary=True).arms[1]
    assert other.variance == pytest.approx(post_stratify(periods).arms[1].variance, rel=1e-12)
