"""The k-arm omnibus test: do all arms share one mean? From SampleStats only.

A single test over every arm of a metric, shown beside the pairwise comparisons of
:mod:`abtest.stats.frequentist` (chi-square or Fisher for rates, Welch's ANOVA for means).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps
from scipy.stats.contingency import expected_freq
from statsmodels.stats.oneway import anova_generic

from abtest.stats.frequentist import MIN_EXPECTED_COUNT, check_alpha, pooled_binary_problem
from abtest.stats.summary import NAN, MetricKind, SampleStats, check_kind


@dataclass(frozen=True)
class OmnibusResult:
    """One test of "all k arms have the same mean" (chi-square, Fisher, or Welch ANOVA)."""

    kind: MetricKind
    test: str
    statistic: float
    df: tuple[float, ...]
    p_value: float
    arms: int
    alpha: float
    status: str
    reason: str


def omnibus_test(
    arms: Sequence[SampleStats], kind: MetricKind, alpha: float = 0.05
) -> OmnibusResult:
    """Test whether all k arms share one mean: chi-square (binary) or Welch's ANOVA (numeric).

    Binary metrics use Pearson's chi-square on the k x 2 table (no continuity correction); with
    exactly two arms and an expected count below 5 the test switches to Fisher's exact test. For
    k > 2 arms with small expected counts scipy offers no exact test, so the chi-square p-value is
    returned with a warning in ``reason``. Numeric metrics use Welch's heteroscedastic one-way
    ANOVA from summary statistics (statsmodels ``anova_generic``). Empty arms are left out.

    References
    ----------
    .. [1] Pearson, K. (1900). Philosophical Magazine 50(302), 157-175; scipy
       ``chi2_contingency``.
    .. [2] Welch, B. L. (1951). "On the comparison of several mean values: an alternative
       approach". Biometrika 38, 330-336; statsmodels ``anova_generic(use_var="unequal")``.
    """
    check_kind(kind)
    check_alpha(alpha)
    present = [arm for arm in arms if arm.n > 0]
    problem = _omnibus_problem(present, kind)
    if problem is not None:
        return OmnibusResult(kind, "none", NAN, (), NAN, len(present), alpha, *problem)
    if kind == "binary":
        return _binary_omnibus(present, alpha)
    return _welch_anova(present, alpha)


def _omnibus_problem(arms: Sequence[SampleStats], kind: MetricKind) -> tuple[str, str] | None:
    if len(arms) < 2:
        return "single_arm", f"only {len(arms)} arm(s) with units: nothing to compare"
    if kind == "binary":
        return pooled_binary_problem(sum(arm.sum for arm in arms), sum(arm.n for arm in arms))
    if any(arm.n < 2 for arm in arms):
        return "insufficient_data", "every arm needs at least 2 units for a variance"
    if any(arm.variance == 0 for arm in arms):
        return "zero_variance", "an arm has zero variance: Welch's ANOVA weights are undefined"
    return None


def _binary_omnibus(arms: Sequence[SampleStats], alpha: float) -> OmnibusResult:
    table = np.array([[arm.sum, arm.n - arm.sum] for arm in arms])
    small = bool((expected_freq(table) < MIN_EXPECTED_COUNT).any())
    if small and len(arms) == 2:
        result = sps.fisher_exact(table)
        return OmnibusResult(
            "binary",
            "fisher-exact",
            float(result.statistic),
            (),
            float(result.pvalue),
            2,
            alpha,
            "ok",
            "an expected cell count is below 5",
        )
    chi2 = sps.chi2_contingency(table, correction=False)
    reason = "expected cell count below 5: chi-square approximation may be poor" if small else ""
    return OmnibusResult(
        "binary",
        "chi-square",
        float(chi2.statistic),
        (float(chi2.dof),),
        float(chi2.pvalue),
        len(arms),
        alpha,
        "ok",
        reason,
    )


def _welch_anova(arms: Sequence[SampleStats], alpha: float) -> OmnibusResult:
    result = anova_generic(
        np.array([arm.mean for arm in arms]),
        np.array([arm.variance for arm in arms]),
        np.array([arm.n for arm in arms]),
        use_var="unequal",
    )
    return OmnibusResult(
        "numeric",
        "welch-anova",
        float(result.statistic),
        (float(result.df_num), float(result.df_denom)),
        float(result.pvalue),
        len(arms),
        alpha,
        "ok",
        "",
    )
