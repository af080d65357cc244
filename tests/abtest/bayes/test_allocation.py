"""abtest.allocation.thompson_weights: behaviour, gate, floor, and agreement with quadrature (one
allocation period; several periods in tests/abtest/test_bandit.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from abtest.allocation import apply_floor, thompson_weights
from abtest.stats.bayesian import bayesian_compare
from abtest.stats.posteriors import BetaPosterior, arm_posterior
from abtest.stats.summary import SampleStats
from tests.abtest.bayes.references import quad_probability_best, scipy_posterior

FOUR_ARMS = [
    SampleStats.binary(1000, 100),
    SampleStats.binary(1000, 104),
    SampleStats.binary(1000, 96),
    SampleStats.binary(1000, 109),
]


def test_clearly_better_arm_gets_most_weight():
    arms = [SampleStats.binary(2000, 100), SampleStats.binary(2000, 180)]
    arms += [SampleStats.binary(2000, 105)] * 2
    result = thompson_weights([arms], seed=1)
    assert result.reweighted
    assert result.weights[1] > 0.9
    assert result.weights[1] == max(result.weights)


def test_equal_arms_get_roughly_equal_weights():
    result = thompson_weights([[SampleStats.binary(5000, 250)] * 4], seed=2, draws=40_000)
    # each P(best) = 1/4 exactly; Monte Carlo sd = sqrt(3/16 / 40000) ~ 0.0022
    assert result.weights == pytest.approx([0.25] * 4, abs=4 * math.sqrt(3 / 16 / 40_000))


def test_weights_sum_to_one_and_respect_the_floor():
    arms = [SampleStats.binary(3000, 150)] + [SampleStats.binary(3000, 300)] * 3
    result = thompson_weights([arms], floor=0.05, seed=3)
    assert sum(result.weights) == pytest.approx(1.0, abs=1e-12)
    assert min(result.weights) >= 0.05 - 1e-12
    assert result.probability_best[0] < 0.05  # the floor did something


@pytest.mark.parametrize(
    "weights", [[0.0, 0.0, 0.3, 0.7], [1.0, 0.0, 0.0, 0.0], [0.25] * 4, [0.0, 0.0, 0.0, 0.0]]
)
def test_apply_floor_is_proportional_above_the_floor(weights):
    floored = apply_floor(np.array(weights), 0.1)
    assert floored.sum() == pytest.approx(1.0, abs=1e-12)
    assert floored.min() >= 0.1 - 1e-12
    lifted = (floored > 0.1 + 1e-12) & (np.array(weights) > 0)
    if lifted.sum() > 1:  # arms above the floor keep their ratios
        ratio = floored[lifted] / np.array(weights)[lifted]
        assert ratio == pytest.approx(np.full(ratio.size, ratio[0]))
    if not any(weights):
        assert floored == pytest.approx([0.25] * 4)


def test_floor_times_arms_above_one_is_an_error():
    with pytest.raises(ValueError):
        thompson_weights([FOUR_ARMS], floor=0.3)
    assert thompson_weights([FOUR_ARMS], floor=0.25, seed=1).weights == pytest.approx([0.25] * 4)


def test_min_units_gate_keeps_current_weights():
    arms = FOUR_ARMS[:3] + [SampleStats.binary(40, 9)]
    current = (0.4, 0.3, 0.2, 0.1)
    result = thompson_weights([arms], min_units=100, current_weights=current)
    assert not result.reweighted
    assert result.weights == current
    assert "fewer than 100" in result.reason
    assert result.probability_best is None
    equal = thompson_weights([arms], min_units=100)
    assert equal.weights == (0.25,) * 4


@pytest.mark.parametrize(
    ("arms", "kind"),
    [
        ([SampleStats.binary(500, 20)], "binary"),
        ([SampleStats(500, 0.0, 0.0), SampleStats(500, 100.0, 400.0)], "numeric"),
    ],
)
def test_degenerate_data_keeps_weights_and_says_why(arms, kind):
    result = thompson_weights([arms], kind=kind, floor=0.0)
    assert not result.reweighted
    assert result.reason
    assert sum(result.weights) == pytest.approx(1.0)


def test_configuration_errors_raise():
    with pytest.raises(ValueError):
        thompson_weights([[]])
    with pytest.raises(ValueError):
        thompson_weights([FOUR_ARMS], current_weights=[0.5, 0.5])


def test_same_seed_same_weights():
    assert thompson_weights([FOUR_ARMS], seed=7) == thompson_weights([FOUR_ARMS], seed=7)


def test_thompson_estimates_the_dashboards_exact_probability_best():
    """The allocation samples what the dashboard computes by quadrature: equal within MC error."""
    draws = 20_000
    weights = thompson_weights([FOUR_ARMS], floor=0.0, seed=9, draws=draws)
    exact = np.array([arm.probability_best for arm in bayesian_compare(FOUR_ARMS, "binary").arms])
    sigma = np.sqrt(np.maximum(exact * (1 - exact), 1e-4) / draws)
    assert np.all(np.abs(np.array(weights.probability_best) - exact) <= 4 * sigma)


@pytest.mark.parametrize("kind", ["binary", "numeric"])
def test_probability_best_matches_quadrature_within_monte_carlo_error(kind):
    arms = (
        FOUR_ARMS
        if kind == "binary"
        else [
            SampleStats(400, 2000.0, 16000.0),
            SampleStats(400, 2080.0, 17000.0),
            SampleStats(400, 1990.0, 15500.0),
        ]
    )
    draws = 50_000
    result = thompson_weights([arms], kind=kind, floor=0.0, seed=4, draws=draws)
    reference = quad_probability_best([scipy_posterior(arm_posterior(a, kind)) for a in arms])
    sigma = np.sqrt(np.maximum(reference * (1 - reference), 1e-4) / draws)
    assert np.all(np.abs(np.array(result.probability_best) - reference) <= 4 * sigma)
    assert result.posteriors[0] == (
        BetaPosterior(101.0, 901.0) if kind == "binary" else arm_posterior(arms[0], kind)
    )
