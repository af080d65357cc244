"""Confidence sequences against the closed forms of Waudby-Smith et al. (2023) written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from abtest.stats.frequentist import compare
from abtest.stats.sequential import (
    DEFAULT_TUNING_PARAMETER,
    confidence_sequence_halfwidth,
    sequential_compare,
    sequential_rho,
)
from abtest.stats.summary import SampleStats

TOL = 1e-9


def paper_halfwidth(per_unit_variance: float, n: int, rho: float, alpha: float) -> float:
    """Waudby-Smith et al. (2023), Thm 2.2, two-sided normal mixture, as gbstats applies it."""
    return math.sqrt(per_unit_variance) * math.sqrt(
        (2 * (n * rho**2 + 1) / (n**2 * rho**2)) * math.log(math.sqrt(n * rho**2 + 1) / alpha)
    )


def stats_of(values: np.ndarray) -> SampleStats:
    return SampleStats(len(values), float(values.sum()), float((values**2).sum()))


@pytest.fixture
def arms() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return rng.exponential(30.0, 2500), rng.exponential(28.0, 2600)


def test_rho_is_the_paper_choice_for_the_planned_sample_size():
    for alpha in (0.05, 0.01):
        expected = math.sqrt(
            (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / DEFAULT_TUNING_PARAMETER
        )
        assert sequential_rho(alpha) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize("planned", [1000, 5000, 100_000])
def test_rho_nearly_minimises_the_width_at_the_planned_size(planned):
    """Eq. (161) approximates the rho that makes the CS narrowest at n = planned."""
    width = lambda log_rho: paper_halfwidth(1.0, planned, math.exp(log_rho), 0.05)  # noqa: E731
    best = minimize_scalar(width, bounds=(-15, 2), method="bounded", options={"xatol": 1e-10})
    ours = confidence_sequence_halfwidth(
        1.0 / planned, planned, 0.05, sequential_rho(0.05, planned)
    )
    assert ours == pytest.approx(best.fun, rel=1e-4)


def test_interval_matches_the_closed_form_from_raw_data(arms):
    t, c = arms
    n = len(t) + len(c)
    rho = sequential_rho(0.05, 5000)
    var_abs = t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c)
    # delta method on log(m_t / m_c) (Deng et al. 2018): the sequence on the log scale
    var_log = t.var(ddof=1) / len(t) / t.mean() ** 2 + c.var(ddof=1) / len(c) / c.mean() ** 2
    result = sequential_compare(stats_of(t), stats_of(c), "numeric")
    diff, log_ratio = t.mean() - c.mean(), math.log(t.mean() / c.mean())
    half_abs = paper_halfwidth(var_abs * n, n, rho, 0.05)
    half_log = paper_halfwidth(var_log * n, n, rho, 0.05)
    assert result.status == "ok" and result.n == n and result.rho == rho
    assert result.absolute_ci == pytest.approx((diff - half_abs, diff + half_abs), abs=TOL)
    assert result.relative_ci == pytest.approx(
        (math.exp(log_ratio - half_log) - 1, math.exp(log_ratio + half_log) - 1), abs=TOL)
    assert paper_halfwidth(var_log * n, n, rho, result.p_value_sequential_relative) == (
        pytest.approx(abs(log_ratio), rel=TOL))


def test_p_value_is_the_alpha_at_which_the_sequence_touches_zero(arms):
    t, c = arms
    result = sequential_compare(stats_of(t), stats_of(c), "numeric")
    p = result.p_value_sequential
    assert 0 < p < 1
    var_abs = t.var(ddof=1) / len(t) + c.var(ddof=1) / len(c)
    # At alpha = p the interval's edge sits exactly on 0.
    assert paper_halfwidth(var_abs * result.n, result.n, result.rho, p) == pytest.approx(
        abs(result.absolute_lift), rel=TOL
    )


@pytest.mark.parametrize("lift", [0.0, 0.01, 0.02, 0.05])
def test_p_value_and_interval_agree_on_significance(lift):
    t, c = SampleStats.binary(6000, int(6000 * (0.1 + lift))), SampleStats.binary(6000, 600)
    result = sequential_compare(t, c, "binary")
    excludes_zero = result.absolute_ci[0] > 0 or result.absolute_ci[1] < 0
    assert result.significant == excludes_zero


@pytest.mark.parametrize("n_per_arm", [50, 500, 2500, 20_000, 1_000_000])
def test_sequence_is_wider_than_the_fixed_horizon_interval(n_per_arm):
    t = SampleStats.binary(n_per_arm, round(0.11 * n_per_arm))
    c = SampleStats.binary(n_per_arm, round(0.10 * n_per_arm))
    fixed, seq = compare(t, c, "binary"), sequential_compare(t, c, "binary")
    assert seq.absolute_ci[0] < fixed.absolute_ci[0] and seq.absolute_ci[1] > fixed.absolute_ci[1]
    assert seq.relative_ci[0] < fixed.relative_ci[0] and seq.relative_ci[1] > fixed.relative_ci[1]
    assert seq.p_value_sequential >= fixed.p_value


@pytest.mark.parametrize(
    ("treatment", "control", "kind", "status"),
    [
        (SampleStats.binary(0, 0), SampleStats.binary(0, 0), "binary", "no_data"),
        (SampleStats.binary(300, 0), SampleStats.binary(310, 0), "binary", "no_conversions"),
        (SampleStats(30, 60.0, 120.0), SampleStats(20, 40.0, 80.0), "numeric", "zero_variance"),
    ],
)
def test_degenerate_data_says_why(treatment, control, kind, status):
    result = sequential_compare(treatment, control, kind)
    assert result.status == status and result.reason
    assert math.isnan(result.p_value_sequential) and not result.significant


def test_zero_control_rate_has_no_relative_point_but_a_bounded_sequence():
    result = sequential_compare(SampleStats.binary(500, 9), SampleStats.binary(500, 0), "binary")
    assert result.status == "ok" and math.isnan(result.relative_lift)
    assert -1 < result.relative_ci[0] < result.relative_ci[1] < math.inf
    assert "relative lift undefined" in result.reason


@pytest.mark.parametrize(("t", "c"), [((1, 1), (1, 0)), ((3, 3), (2, 0)), ((2000, 4), (2000, 0))])
def test_an_arm_without_conversions_gets_half_a_pseudo_success_not_zero_variance(t, c):
    """All-or-nothing arms: Wald's p(1-p) is 0 there; (x + 0.5)/(n + 1) is not (Anscombe)."""
    treatment, control = SampleStats.binary(*t), SampleStats.binary(*c)
    result = sequential_compare(treatment, control, "binary")

    def arm_variance(n: int, x: int) -> float:
        p = (x + 0.5) / (n + 1) if x in (0, n) else x / n
        return p * (1 - p) / n

    variance = arm_variance(*t) + arm_variance(*c)
    n = t[0] + c[0]
    assert result.status == "ok"
    assert result.absolute_ci[1] - result.absolute_lift == pytest.approx(
        paper_halfwidth(variance * n, n, result.rho, 0.05), rel=TOL)
    assert not result.significant


def test_invalid_tuning_is_a_programming_error():
    with pytest.raises(ValueError):
        sequential_rho(0.05, 0)
    with pytest.raises(ValueError):
        sequential_rho(0.0, 5000)
