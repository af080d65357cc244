"""Fixed-horizon tests against scipy/statsmodels on raw 0/1 or numeric arrays and textbook forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.oneway import anova_oneway
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportions_chisquare,
    proportions_ztest,
)
from statsmodels.stats.proportion import (
    test_proportions_2indep as statsmodels_ratio_test,
)

from abtest.stats.frequentist import compare, estimate_lift, welch_satterthwaite_df
from abtest.stats.multiplicity import adjust_comparisons, adjust_p_values
from abtest.stats.omnibus import omnibus_test
from abtest.stats.summary import SampleStats

TOL = 1e-9


def stats_of(values: np.ndarray) -> SampleStats:
    """Sufficient statistics as the SQL query would compute them."""
    values = np.asarray(values, dtype=float)
    return SampleStats(len(values), float(values.sum()), float((values**2).sum()))


def bernoulli(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    return (rng.random(n) < p).astype(float)


@pytest.fixture
def conversions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240601)
    return bernoulli(rng, 4000, 0.115), bernoulli(rng, 3800, 0.100)


@pytest.fixture
def revenue() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.gamma(2.0, 26.0, size=900), rng.gamma(2.2, 22.0, size=1100)


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_binary_z_test_equals_statsmodels_on_raw_data(conversions, alternative):
    t, c = conversions
    result = compare(stats_of(t), stats_of(c), "binary", alternative=alternative)
    z, p = proportions_ztest([t.sum(), c.sum()], [len(t), len(c)], alternative=alternative)
    assert result.test == "z-test (pooled)"
    assert result.statistic == pytest.approx(z, abs=TOL)
    assert result.p_value == pytest.approx(p, abs=TOL)


def test_binary_z_statistic_matches_textbook_pooled_formula(conversions):
    t, c = conversions
    pooled = np.concatenate([t, c]).mean()
    z = (t.mean() - c.mean()) / math.sqrt(pooled * (1 - pooled) * (1 / len(t) + 1 / len(c)))
    result = compare(stats_of(t), stats_of(c), "binary")
    assert result.statistic == pytest.approx(z, abs=TOL)
    assert result.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), abs=TOL)


def test_binary_absolute_ci_is_statsmodels_wald_interval(conversions):
    t, c = conversions
    result = compare(stats_of(t), stats_of(c), "binary", alpha=0.1)
    low, upp = confint_proportions_2indep(
        t.sum(), len(t), c.sum(), len(c), method="wald", compare="diff", alpha=0.1
    )
    assert result.absolute_lift == pytest.approx(t.mean() - c.mean(), abs=TOL)
    assert result.absolute_ci == pytest.approx((low, upp), abs=TOL)


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_binary_relative_ci_and_p_are_statsmodels_log_adjusted_ratio(conversions, alpha):
    t, c = conversions
    counts = (t.sum(), len(t), c.sum(), len(c))
    low, upp = confint_proportions_2indep(*counts, method="log-adjusted", compare="ratio",
                                          alpha=alpha)
    reference = statsmodels_ratio_test(*counts, method="log-adjusted", compare="ratio")
    result = compare(stats_of(t), stats_of(c), "binary", alpha=alpha)
    assert result.relative_lift == pytest.approx(t.mean() / c.mean() - 1, abs=TOL)
    assert result.relative_ci == pytest.approx((low - 1, upp - 1), abs=TOL)
    assert result.p_value_relative == pytest.approx(reference.pvalue, abs=TOL)


def test_numeric_relative_ci_is_delta_method_on_the_log_ratio(revenue):
    """Var log(m_t/m_c) ~ s_t^2/(n_t m_t^2) + s_c^2/(n_c m_c^2) (Deng et al. 2018), Welch df."""
    t, c = revenue
    log_ratio = math.log(t.mean() / c.mean())
    se = math.sqrt(t.var(ddof=1) / len(t) / t.mean() ** 2 + c.var(ddof=1) / len(c) / c.mean() ** 2)
    df = sps.ttest_ind(t, c, equal_var=False).df
    quantile = sps.t.ppf(0.975, df)
    result = compare(stats_of(t), stats_of(c), "numeric")
    expected = (math.exp(log_ratio - quantile * se) - 1, math.exp(log_ratio + quantile * se) - 1)
    assert result.relative_ci == pytest.approx(expected, abs=TOL)
    assert result.p_value_relative == pytest.approx(2 * sps.t.sf(abs(log_ratio / se), df),
                                                    abs=TOL)


def test_numeric_relative_interval_needs_positive_means():
    result = compare(SampleStats(50, -20.0, 400.0), SampleStats(50, 100.0, 900.0), "numeric")
    assert result.status == "ok" and math.isnan(result.p_value_relative)
    assert all(math.isnan(x) for x in result.relative_ci) and "not positive" in result.reason


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_welch_from_stats_equals_scipy_on_raw_data(revenue, alternative):
    t, c = revenue
    scipy_alt = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
    reference = sps.ttest_ind(t, c, equal_var=False, alternative=scipy_alt)
    result = compare(stats_of(t), stats_of(c), "numeric", alpha=0.05, alternative=alternative)
    ci = reference.confidence_interval(0.95)
    assert result.test == "welch-t"
    assert result.statistic == pytest.approx(reference.statistic, abs=TOL)
    assert result.p_value == pytest.approx(reference.pvalue, abs=TOL)
    assert result.absolute_ci == pytest.approx((ci.low, ci.high), abs=TOL)


def test_welch_df_equals_scipy(revenue):
    t, c = revenue
    df = welch_satterthwaite_df(stats_of(t), stats_of(c))
    assert df == pytest.approx(sps.ttest_ind(t, c, equal_var=False).df, abs=TOL)


def test_one_sided_intervals_are_open_on_the_untested_side(revenue):
    t, c = (stats_of(x) for x in revenue)
    assert compare(t, c, "numeric", alternative="larger").absolute_ci[1] == math.inf
    assert compare(t, c, "numeric", alternative="smaller").absolute_ci[0] == -math.inf


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_fisher_used_when_an_expected_count_is_below_five(alternative):
    treatment, control = SampleStats.binary(40, 7), SampleStats.binary(45, 1)
    result = compare(treatment, control, "binary", alternative=alternative)
    scipy_alt = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
    reference = sps.fisher_exact([[7, 33], [1, 44]], alternative=scipy_alt)
    assert result.test == "fisher-exact"
    assert result.p_value == pytest.approx(reference.pvalue, abs=TOL)
    assert result.statistic == pytest.approx(reference.statistic, abs=TOL)
    assert "Fisher" in result.reason


@pytest.mark.parametrize("alternative", ["two-sided", "larger", "smaller"])
def test_small_counts_get_newcombe_and_log_adjusted_ratio_intervals(alternative):
    """One-sided: the open side of the relative interval is -100%, a rate's floor."""
    treatment, control = SampleStats.binary(40, 7), SampleStats.binary(45, 1)
    result = compare(treatment, control, "binary", alternative=alternative)
    level = 0.05 if alternative == "two-sided" else 0.10  # one-sided: a bound of the 2a interval
    diff = confint_proportions_2indep(7, 40, 1, 45, method="newcomb", compare="diff",
                                      alpha=level)
    ratio = confint_proportions_2indep(7, 40, 1, 45, method="log-adjusted", compare="ratio",
                                       alpha=level)
    expected_abs = [float(diff[0]), float(diff[1])]
    expected_rel = [float(ratio[0]) - 1, float(ratio[1]) - 1]
    if alternative == "larger":
        expected_abs[1] = expected_rel[1] = math.inf
    if alternative == "smaller":
        expected_abs[0], expected_rel[0] = -math.inf, -1.0
    assert list(result.absolute_ci) == pytest.approx(expected_abs, abs=TOL)
    assert list(result.relative_ci) == pytest.approx(expected_rel, abs=TOL)


def test_an_all_or_nothing_small_sample_still_has_a_wide_interval():
    """1 of 1 against 0 of 2: the Wald interval would be the point [1, 1]."""
    result = compare(SampleStats.binary(1, 1), SampleStats.binary(2, 0), "binary")
    low, high = result.absolute_ci
    assert result.test == "fisher-exact" and low < 0 < 1 == pytest.approx(high)
    assert math.isnan(result.relative_lift)  # control at 0%: no relative point estimate
    assert -1 < result.relative_ci[0] < 0 < result.relative_ci[1]  # log-adjusted: still bounded


@pytest.mark.slow
def test_small_count_interval_covers_the_true_lift_about_95_percent():
    """30 units per arm at 5% vs 12% (Fisher territory): Newcombe's interval is near nominal."""
    rng = np.random.default_rng(2024)
    sims, n, p_t, p_c = 2000, 30, 0.12, 0.05
    covered = []
    for t, c in zip(rng.binomial(n, p_t, sims), rng.binomial(n, p_c, sims), strict=True):
        result = compare(SampleStats.binary(n, int(t)), SampleStats.binary(n, int(c)), "binary")
        if result.status == "ok":
            low, high = result.absolute_ci
            covered.append(low <= p_t - p_c <= high)
    assert 0.93 <= np.mean(covered) <= 0.985, np.mean(covered)


def test_z_test_kept_when_every_expected_count_is_at_least_five():
    # Pooled rate 10/100: expected successes per arm exactly 5.
    result = compare(SampleStats.binary(50, 7), SampleStats.binary(50, 3), "binary")
    assert result.test == "z-test (pooled)"


def test_significant_uses_adjusted_p_when_present(conversions):
    result = compare(*(stats_of(x) for x in conversions), "binary")
    assert result.significant == (result.p_value < 0.05)
    (adjusted,) = adjust_comparisons([result], "holm")
    assert adjusted.adjustment == "holm" and adjusted.p_value_adjusted == result.p_value


@pytest.mark.parametrize(
    ("treatment", "control", "kind", "status"),
    [
        (SampleStats.binary(0, 0), SampleStats.binary(100, 10), "binary", "no_data"),
        (SampleStats(0, 0.0, 0.0), SampleStats(0, 0.0, 0.0), "numeric", "no_data"),
        (SampleStats.binary(500, 0), SampleStats.binary(480, 0), "binary", "no_conversions"),
        (SampleStats.binary(50, 50), SampleStats.binary(40, 40), "binary", "zero_variance"),
        (SampleStats(10, 50.0, 250.0), SampleStats(8, 40.0, 200.0), "numeric", "zero_variance"),
        (SampleStats(1, 5.0, 25.0), SampleStats(8, 40.0, 210.0), "numeric", "insufficient_data"),
    ],
)
def test_degenerate_data_says_why_without_raising(treatment, control, kind, status):
    result = compare(treatment, control, kind)
    assert result.status == status and result.reason
    assert result.test == "none"
    assert math.isnan(result.p_value) and math.isnan(result.statistic)
    assert all(math.isnan(x) for x in result.absolute_ci + result.relative_ci)
    assert not result.significant


def test_zero_control_rate_leaves_relative_lift_undefined():
    result = compare(SampleStats.binary(1000, 30), SampleStats.binary(1000, 0), "binary")
    assert result.status == "ok"
    assert math.isnan(result.relative_lift) and "relative lift undefined" in result.reason
    assert (
        estimate_lift(SampleStats.binary(10, 1), SampleStats.binary(10, 0), "binary").absolute
        == 0.1
    )


def test_invalid_kind_or_alpha_is_a_programming_error():
    arm = SampleStats.binary(10, 1)
    with pytest.raises(ValueError):
        compare(arm, arm, "ratio")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compare(arm, arm, "binary", alpha=1.5)


def test_omnibus_binary_equals_statsmodels_proportions_chisquare():
    rng = np.random.default_rng(3)
    arms = [bernoulli(rng, n, p) for n, p in [(2000, 0.10), (2100, 0.12), (1900, 0.11)]]
    result = omnibus_test([stats_of(a) for a in arms], "binary")
    chi2, p, _ = proportions_chisquare([a.sum() for a in arms], [len(a) for a in arms])
    assert (result.test, result.arms, result.df) == ("chi-square", 3, (2.0,))
    assert result.statistic == pytest.approx(chi2, abs=TOL)
    assert result.p_value == pytest.approx(p, abs=TOL)


def test_omnibus_numeric_equals_welch_anova_on_raw_data():
    rng = np.random.default_rng(4)
    arms = [rng.normal(mu, sd, n) for mu, sd, n in [(10, 3, 300), (10.5, 4, 250), (9.8, 2, 400)]]
    result = omnibus_test([stats_of(a) for a in arms], "numeric")
    reference = anova_oneway(arms, use_var="unequal")
    assert result.test == "welch-anova"
    assert result.statistic == pytest.approx(reference.statistic, abs=TOL)
    assert result.p_value == pytest.approx(reference.pvalue, abs=TOL)


def test_omnibus_two_small_arms_use_fisher_and_empty_arms_are_dropped():
    arms = [SampleStats.binary(30, 4), SampleStats.binary(0, 0), SampleStats.binary(30, 0)]
    result = omnibus_test(arms, "binary")
    assert result.test == "fisher-exact" and result.arms == 2
    assert result.p_value == pytest.approx(sps.fisher_exact([[4, 26], [0, 30]]).pvalue, abs=TOL)


def test_omnibus_many_small_arms_warn_in_reason():
    arms = [SampleStats.binary(20, k) for k in (1, 2, 3)]
    result = omnibus_test(arms, "binary")
    assert result.test == "chi-square" and "below 5" in result.reason


@pytest.mark.parametrize(
    ("arms", "kind", "status"),
    [
        ([SampleStats.binary(100, 5)], "binary", "single_arm"),
        ([SampleStats.binary(100, 5), SampleStats.binary(0, 0)], "binary", "single_arm"),
        ([SampleStats.binary(100, 0), SampleStats.binary(90, 0)], "binary", "no_conversions"),
        ([SampleStats(5, 5.0, 5.0), SampleStats(6, 7.0, 9.0)], "numeric", "zero_variance"),
        ([SampleStats(1, 5.0, 25.0), SampleStats(6, 7.0, 9.0)], "numeric", "insufficient_data"),
    ],
)
def test_omnibus_degenerate(arms, kind, status):
    result = omnibus_test(arms, kind)
    assert result.status == status and result.reason and math.isnan(result.p_value)


def test_holm_by_hand():
    # Sorted: 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04;
    # step-down monotonicity lifts the last to 0.06. Back in input order:
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005], "holm") == pytest.approx(
        [0.03, 0.06, 0.06, 0.02], abs=1e-12
    )


def test_benjamini_hochberg_by_hand():
    # Sorted p_(i) * m / i: 0.005*4/1 = 0.02, 0.01*4/2 = 0.02, 0.03*4/3 = 0.04, 0.04*4/4 = 0.04;
    # running minimum from the top changes nothing. Back in input order:
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005], "fdr_bh") == pytest.approx(
        [0.02, 0.04, 0.04, 0.02], abs=1e-12
    )


def test_adjustment_skips_nan_and_names_method():
    adjusted = adjust_p_values([0.01, float("nan"), 0.04], "holm")
    assert adjusted[0] == pytest.approx(0.02) and math.isnan(adjusted[1])
    assert adjusted[2] == pytest.approx(0.04)
    assert adjust_p_values([], "fdr_bh") == []
    with pytest.raises(ValueError):
        adjust_p_values([0.1], "bonferroni")
