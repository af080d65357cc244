"""Power calculator against Cohen's tables, closed-form normal power, and a simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from abtest.stats.frequentist import compare
from abtest.stats.power import (
    achieved_power,
    days_needed,
    effect_size,
    minimum_detectable_effect,
    sample_size,
)
from abtest.stats.summary import SampleStats

Z975, Z80 = norm.ppf(0.975), norm.ppf(0.8)


def closed_form_power(h: float, n: float, alpha: float = 0.05) -> float:
    """Two-sided two-sample normal power: Phi(h sqrt(n/2) - z) + Phi(-h sqrt(n/2) - z)."""
    z, shift = norm.ppf(1 - alpha / 2), abs(h) * math.sqrt(n / 2)
    return norm.cdf(shift - z) + norm.cdf(-shift - z)


def test_effect_sizes_are_cohens_h_and_d():
    h = 2 * math.asin(math.sqrt(0.12)) - 2 * math.asin(math.sqrt(0.10))
    assert effect_size("binary", 0.10, 0.12) == pytest.approx(h, abs=1e-12)
    assert effect_size("numeric", 50.0, 52.5, sd=25.0) == pytest.approx(0.1, abs=1e-12)
    with pytest.raises(ValueError):
        effect_size("numeric", 50.0, 52.5)


def test_cohens_table_h_020_needs_392_per_group():
    """Cohen (1988), Table 6.4.1: h = .20, two-sided alpha = .05, power = .80 -> n = 392."""
    target = math.asin(math.sqrt(0.5)) + 0.1  # p_t such that h = 0.20 exactly from p_c = 0.5
    plan = sample_size("binary", 0.5, math.sin(target) ** 2 - 0.5, relative=False)
    assert plan.effect_size == pytest.approx(0.2, abs=1e-12)
    assert plan.n_per_arm == 393  # ceil(392.44)
    assert 2 * (Z975 + Z80) ** 2 / 0.2**2 == pytest.approx(392.4, abs=0.05)


@pytest.mark.parametrize(("d", "arms"), [(0.1, 2), (0.25, 3), (0.5, 5)])
def test_numeric_plan_hits_target_power_exactly(d, arms):
    plan = sample_size("numeric", 100.0, d * 20.0, sd=20.0, relative=False, arms=arms)
    assert plan.total_n == arms * plan.n_per_arm
    assert closed_form_power(d, plan.n_per_arm) >= 0.8 > closed_form_power(d, plan.n_per_arm - 1)


def test_binary_plan_close_to_unpooled_textbook_formula():
    p1, p2 = 0.10, 0.12
    textbook = (Z975 + Z80) ** 2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p1 - p2) ** 2
    plan = sample_size("binary", p1, 0.2)  # +20% relative
    assert plan.n_per_arm == pytest.approx(textbook, rel=0.02)


@pytest.mark.parametrize("n", [50, 1000, 123_456])
def test_achieved_power_equals_closed_form(n):
    h = effect_size("binary", 0.05, 0.055)
    assert achieved_power("binary", 0.05, 0.1, n) == pytest.approx(
        closed_form_power(h, n), abs=1e-9
    )


@pytest.mark.parametrize("n", [1, 10, 5000, 10**8])
def test_mde_round_trips_to_the_requested_power(n):
    mde = minimum_detectable_effect("numeric", 40.0, n, sd=15.0, relative=False)
    assert closed_form_power(mde / 15.0, n) == pytest.approx(0.8, abs=1e-9)


def test_binary_mde_inverts_cohens_h():
    mde = minimum_detectable_effect("binary", 0.1, 14_000)
    assert achieved_power("binary", 0.1, mde, 14_000) == pytest.approx(0.8, abs=1e-9)
    assert math.isnan(minimum_detectable_effect("binary", 0.99, 3))  # would pass 100%


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"kind": "binary", "baseline_mean": 0.1, "minimum_effect": 0.0}, "zero_effect"),
        ({"kind": "binary", "baseline_mean": 0.9, "minimum_effect": 0.5}, "invalid_effect"),
        ({"kind": "binary", "baseline_mean": 0.0, "minimum_effect": 0.1}, "zero_variance"),
        (
            {"kind": "numeric", "baseline_mean": 5.0, "minimum_effect": 0.1, "sd": 0.0},
            "zero_variance",
        ),
    ],
)
def test_impossible_plans_say_why(kwargs, status):
    plan = sample_size(**kwargs)
    assert plan.status == status and plan.reason and plan.n_per_arm is None
    assert math.isnan(achieved_power(**kwargs, n_per_arm=100))


def test_days_needed_before_launch_and_mid_flight():
    before = days_needed(14_745, 2_000, arms=3, coverage=0.6)  # 400 units per arm per day
    assert (before.daily_units_per_arm, before.days) == (400.0, 37)
    running = days_needed(14_745, 2_000, arms=3, coverage=0.6, observed_per_arm=(9000, 8745, 9100))
    assert (running.remaining_per_arm, running.days) == (6000, 15)
    assert "15 more days" in running.reason
    assert days_needed(100, 10, observed_per_arm=(120, 101)).days == 0


def test_days_needed_without_traffic_says_why():
    result = days_needed(1000, 0)
    assert result.days is None and result.status == "no_traffic" and result.reason


def test_simulated_power_matches_the_plan():
    """2,000 simulated experiments at the planned n reject about 80% of the time."""
    plan = sample_size("binary", 0.10, 0.2)
    rng = np.random.default_rng(2024)
    t = rng.binomial(plan.n_per_arm, 0.12, 2000)
    c = rng.binomial(plan.n_per_arm, 0.10, 2000)
    n = plan.n_per_arm
    rejections = [
        compare(SampleStats.binary(n, int(a)), SampleStats.binary(n, int(b)), "binary").significant
        for a, b in zip(t, c, strict=True)
    ]
    assert np.mean(rejections) == pytest.approx(0.8, abs=0.03)


def test_relative_mde_of_a_zero_baseline_is_undefined_not_a_crash():
    """A control mean of 0 with spread (a floored stratum without conversions): no relative
    lift exists, the absolute one does."""
    assert math.isnan(minimum_detectable_effect("numeric", 0.0, 500, sd=0.02))
    assert minimum_detectable_effect("numeric", 0.0, 500, sd=0.02, relative=False) > 0
