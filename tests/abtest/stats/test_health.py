"""SRM against Pearson's formula; guardrails against one-sided statsmodels tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import chi2
from statsmodels.stats.proportion import proportions_ztest

from abtest.stats.health import check_guardrail, sample_ratio_mismatch
from abtest.stats.summary import SampleStats

TOL = 1e-9


@pytest.mark.parametrize(
    ("observed", "weights"),
    [([5050, 4950], [1, 1]), ([2010, 3050, 4940], [0.2, 0.3, 0.5]), ([700, 310], [70, 30])],
)
def test_srm_equals_pearson_goodness_of_fit(observed, weights):
    obs = np.array(observed, dtype=float)
    expected = obs.sum() * np.array(weights) / np.sum(weights)
    statistic = float(((obs - expected) ** 2 / expected).sum())
    result = sample_ratio_mismatch(observed, weights)
    assert result.expected == pytest.approx(tuple(expected), abs=TOL)
    assert result.observed == tuple(observed)
    assert result.statistic == pytest.approx(statistic, abs=TOL)
    assert result.p_value == pytest.approx(chi2.sf(statistic, len(obs) - 1), abs=TOL)


def test_srm_alerts_below_threshold_and_says_so():
    # 101,000 vs 99,000 on a 50/50 split: chi2 = 2 * 1000^2 / 100,000 = 20, p ~ 7.7e-6.
    result = sample_ratio_mismatch([101_000, 99_000], [1, 1])
    assert result.statistic == pytest.approx(20.0, abs=TOL)
    assert result.mismatch and "mismatch" in result.reason
    assert not sample_ratio_mismatch([101_000, 99_000], [1, 1], threshold=1e-6).mismatch


def test_units_in_a_zero_weight_arm_are_a_mismatch():
    result = sample_ratio_mismatch([500, 480, 3], [1, 1, 0])
    assert result.mismatch and result.p_value == 0.0 and "weight 0" in result.reason


@pytest.mark.parametrize(
    ("observed", "weights", "status"),
    [([0, 0], [1, 1], "no_data"), ([100], [1], "single_arm"), ([100, 0], [1, 0], "single_arm")],
)
def test_srm_degenerate(observed, weights, status):
    result = sample_ratio_mismatch(observed, weights)
    assert result.status == status and result.reason
    assert not result.mismatch and math.isnan(result.p_value)


def test_srm_rejects_misconfigured_weights():
    with pytest.raises(ValueError):
        sample_ratio_mismatch([10, 10], [1, -1])
    with pytest.raises(ValueError):
        sample_ratio_mismatch([10, 10], [1, 1, 1])


def test_guardrail_flags_a_higher_complaint_rate_one_sided():
    treatment, control = SampleStats.binary(8000, 130), SampleStats.binary(8000, 90)
    result = check_guardrail(treatment, control, "binary", higher_is_better=False)
    _, p = proportions_ztest([130, 90], [8000, 8000], alternative="larger")
    assert result.p_value == pytest.approx(p, abs=TOL)
    assert result.harmed and "higher" in result.reason
    assert result.comparison.alternative == "larger"


def test_guardrail_ignores_an_improvement():
    treatment, control = SampleStats.binary(8000, 60), SampleStats.binary(8000, 90)
    result = check_guardrail(treatment, control, "binary", higher_is_better=False)
    assert not result.harmed and result.p_value > 0.5


def test_guardrail_where_higher_is_better_flags_a_drop():
    rng = np.random.default_rng(5)
    t, c = rng.normal(48.0, 20.0, 3000), rng.normal(50.0, 20.0, 3000)
    stats = [SampleStats(len(x), float(x.sum()), float((x**2).sum())) for x in (t, c)]
    result = check_guardrail(*stats, "numeric", higher_is_better=True, alpha=0.01)
    assert result.harmed and result.comparison.alternative == "smaller"
    assert "lower" in result.reason


def test_guardrail_without_data_is_not_harmed():
    result = check_guardrail(SampleStats.binary(0, 0), SampleStats.binary(10, 1), "binary")
    assert not result.harmed and result.status == "no_data" and result.reason
