"""Fixed-horizon frequentist comparisons of a treatment arm against control, from SampleStats.

Every figure is computed from :class:`~abtest.stats.summary.SampleStats` (``n``, ``sum``,
``sum_squares``), never from raw rows (DESIGN.md). The tests themselves come from statsmodels and
scipy; only the pieces they lack for summary statistics (the Welch–Satterthwaite degrees of freedom
and the delta-method variance of the relative lift) are written here.

Degenerate data (an empty arm, zero variance, no conversions anywhere) never raises: the result
carries a ``status`` other than ``"ok"``, a human-readable ``reason`` and NaN figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from scipy import stats as sps
from scipy.stats.contingency import expected_freq
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.oneway import anova_generic
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from abtest.stats.summary import SampleStats

MetricKind = Literal["binary", "numeric"]
Alternative = Literal["two-sided", "larger", "smaller"]

NAN = float("nan")
NAN_PAIR = (NAN, NAN)
#: Cochran's rule: the chi-square / z approximation needs every expected cell count >= 5.
MIN_EXPECTED_COUNT = 5.0
#: Multiple-comparison corrections offered (statsmodels ``multipletests`` names).
ADJUSTMENT_METHODS = ("holm", "fdr_bh")

_SCIPY_ALTERNATIVE = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}


@dataclass(frozen=True)
class LiftEstimate:
    """Point estimates of the lift and the variances of those estimators.

    ``relative`` is ``treatment_mean / control_mean - 1``; it and its variance are NaN when the
    control mean is 0.
    """

    absolute: float
    absolute_variance: float
    relative: float
    relative_variance: float


@dataclass(frozen=True)
class ComparisonResult:
    """Treatment versus control for one metric.

    ``test`` names the test actually used (``"z-test (pooled)"``, ``"fisher-exact"``,
    ``"welch-t"`` or ``"none"`` when the data are degenerate). ``statistic`` is z, the Fisher
    odds ratio, or Welch's t. Intervals follow ``alternative``: one-sided tests give one
    infinite bound. ``p_value_adjusted`` and ``adjustment`` are filled by
    :func:`adjust_comparisons`.
    """

    kind: MetricKind
    test: str
    statistic: float
    p_value: float
    absolute_lift: float
    absolute_ci: tuple[float, float]
    relative_lift: float
    relative_ci: tuple[float, float]
    alpha: float
    alternative: Alternative
    status: str
    reason: str
    p_value_adjusted: float | None = None
    adjustment: str | None = None

    @property
    def significant(self) -> bool:
        """Whether the (adjusted, if available) p-value is below ``alpha``; False when NaN."""
        p = self.p_value if self.p_value_adjusted is None else self.p_value_adjusted
        return bool(p < self.alpha)


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


def diagnose(
    treatment: SampleStats, control: SampleStats, kind: MetricKind
) -> tuple[str, str] | None:
    """Say why two arms cannot be compared, or return None when they can.

    Returns
    -------
    tuple of (status, reason) or None
        ``status`` is one of ``"no_data"``, ``"insufficient_data"``, ``"no_conversions"``,
        ``"zero_variance"``.
    """
    _check_kind(kind)
    for name, arm in (("treatment", treatment), ("control", control)):
        if arm.n == 0:
            return "no_data", f"the {name} arm has no units yet"
        if kind == "numeric" and arm.n < 2:
            return "insufficient_data", f"the {name} arm needs at least 2 units for a variance"
    if kind == "binary":
        return _binary_problem(treatment.sum + control.sum, treatment.n + control.n)
    if treatment.variance == 0 and control.variance == 0:
        return "zero_variance", "every unit has the same value within each arm: the variance is 0"
    return None


def _binary_problem(successes: float, units: int) -> tuple[str, str] | None:
    """Pooled proportion 0 or 1: no test statistic exists (the pooled variance is 0)."""
    if successes == 0:
        return "no_conversions", "zero conversions in every arm: there is nothing to compare"
    if successes == units:
        return "zero_variance", "every unit converted in every arm: the variance is 0"
    return None


def estimate_lift(treatment: SampleStats, control: SampleStats, kind: MetricKind) -> LiftEstimate:
    """Absolute and relative lift with the variances of their estimators.

    The absolute lift's variance is the unpooled ``v_t + v_c`` with ``v = p(1 - p)/n`` for a
    binary metric and ``s^2/n`` otherwise. The relative lift ``m_t/m_c - 1`` gets the
    first-order delta-method variance ``v_t/m_c^2 + m_t^2 v_c/m_c^4`` (Deng et al. 2018,
    section 3), which is what gbstats uses for its relative effects.

    References
    ----------
    .. [1] Deng, A., Knoblich, U., Lu, J. (2018). "Applying the Delta Method in Metric
       Analytics: A Practical Guide with Novel Ideas". KDD 2018. arXiv:1803.06336.
    .. [2] GrowthBook gbstats, ``frequentist/tests.py`` (``TTest.variance``).
    """
    m_t, m_c = treatment.mean, control.mean
    v_t, v_c = _variance_of_mean(treatment, kind), _variance_of_mean(control, kind)
    if m_c == 0:
        return LiftEstimate(m_t - m_c, v_t + v_c, NAN, NAN)
    relative_variance = v_t / m_c**2 + m_t**2 * v_c / m_c**4
    return LiftEstimate(m_t - m_c, v_t + v_c, m_t / m_c - 1.0, relative_variance)


def compare(
    treatment: SampleStats,
    control: SampleStats,
    kind: MetricKind,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ComparisonResult:
    """Fixed-horizon test of treatment against control, with CIs for the absolute and relative lift.

    Binary metrics use the pooled two-proportion z-test, or Fisher's exact test when any expected
    cell of the 2x2 table is below 5 (Cochran's rule). Numeric metrics use Welch's t-test. The
    absolute-lift CI is the unpooled Wald interval (binary, normal quantile) or Welch's interval
    (numeric, t quantile with Welch–Satterthwaite df); the relative-lift CI uses the delta-method
    standard error of :func:`estimate_lift` with the same quantile. Where Fisher's test is used
    the counts are too small for either: score intervals instead (:func:`_small_count_intervals`).

    Parameters
    ----------
    treatment, control : SampleStats
        Sufficient statistics of each arm.
    kind : {"binary", "numeric"}
        Binary 0/1 conversions or a numeric metric (e.g. revenue per unit).
    alpha : float
        Significance level; intervals have coverage ``1 - alpha``.
    alternative : {"two-sided", "larger", "smaller"}
        ``"larger"`` tests treatment > control (statsmodels' naming).

    References
    ----------
    .. [1] statsmodels ``proportions_ztest`` (pooled variance under H0).
    .. [2] Fisher, R. A. (1922). "On the interpretation of chi-square from contingency tables".
       J. R. Stat. Soc. 85(1), 87-94; scipy ``fisher_exact``.
    .. [3] Cochran, W. G. (1954). "Some methods for strengthening the common chi-square tests".
       Biometrics 10(4), 417-451 (expected counts >= 5).
    .. [4] Welch, B. L. (1947). "The generalization of 'Student's' problem when several different
       population variances are involved". Biometrika 34, 28-35; scipy ``ttest_ind_from_stats``.
    .. [5] Deng, A., Knoblich, U., Lu, J. (2018). "Applying the Delta Method in Metric
       Analytics". KDD 2018.
    """
    _check_alpha(alpha)
    problem = diagnose(treatment, control, kind)
    if problem is not None:
        return _degenerate_comparison(treatment, control, kind, alpha, alternative, *problem)
    if kind == "binary":
        test, statistic, p_value = _binary_test(treatment, control, alternative)
        quantile = sps.norm.ppf(_confidence_quantile(alpha, alternative))
    else:
        test, statistic, p_value = _welch_test(treatment, control, alternative)
        df = welch_satterthwaite_df(treatment, control)
        quantile = sps.t.ppf(_confidence_quantile(alpha, alternative), df)
    lift = estimate_lift(treatment, control, kind)
    if test == "fisher-exact":
        absolute_ci, relative_ci = _small_count_intervals(treatment, control, alpha, alternative)
        if math.isnan(lift.relative):
            relative_ci = NAN_PAIR
    else:
        absolute_ci = _interval(lift.absolute, lift.absolute_variance, quantile, alternative)
        relative_ci = _interval(lift.relative, lift.relative_variance, quantile, alternative)
    return ComparisonResult(
        kind=kind,
        test=test,
        statistic=float(statistic),
        p_value=float(p_value),
        absolute_lift=lift.absolute,
        absolute_ci=absolute_ci,
        relative_lift=lift.relative,
        relative_ci=relative_ci,
        alpha=alpha,
        alternative=alternative,
        status="ok",
        reason=_ok_reason(test, lift),
    )


def welch_satterthwaite_df(treatment: SampleStats, control: SampleStats) -> float:
    """Welch–Satterthwaite degrees of freedom ``(v_t + v_c)^2 / (v_t^2/(n_t-1) + v_c^2/(n_c-1))``.

    scipy's ``ttest_ind_from_stats`` computes this internally but does not return it, and the
    Welch CI needs it, so it is written out here (``v = s^2/n``).

    References
    ----------
    .. [1] Satterthwaite, F. E. (1946). "An approximate distribution of estimates of variance
       components". Biometrics Bulletin 2(6), 110-114.
    .. [2] Welch, B. L. (1947). Biometrika 34, 28-35.
    """
    v_t = treatment.variance / treatment.n
    v_c = control.variance / control.n
    return (v_t + v_c) ** 2 / (v_t**2 / (treatment.n - 1) + v_c**2 / (control.n - 1))


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
    _check_kind(kind)
    _check_alpha(alpha)
    present = [arm for arm in arms if arm.n > 0]
    problem = _omnibus_problem(present, kind)
    if problem is not None:
        return OmnibusResult(kind, "none", NAN, (), NAN, len(present), alpha, *problem)
    if kind == "binary":
        return _binary_omnibus(present, alpha)
    return _welch_anova(present, alpha)


def adjust_p_values(p_values: Sequence[float], method: str = "holm") -> list[float]:
    """Adjust p-values for multiple comparisons (arms x metrics) with Holm or Benjamini–Hochberg.

    NaN p-values (degenerate comparisons) are left out of the family and stay NaN.

    Parameters
    ----------
    p_values : sequence of float
    method : {"holm", "fdr_bh"}
        Holm's step-down (family-wise error) or Benjamini–Hochberg (false discovery rate).

    References
    ----------
    .. [1] Holm, S. (1979). "A simple sequentially rejective multiple test procedure".
       Scand. J. Statist. 6(2), 65-70.
    .. [2] Benjamini, Y., Hochberg, Y. (1995). "Controlling the false discovery rate".
       J. R. Stat. Soc. B 57(1), 289-300.
    .. [3] statsmodels ``multipletests`` (Benjamini–Hochberg; the tests' reference for both).
    """
    if method not in ADJUSTMENT_METHODS:
        raise ValueError(f"method must be one of {ADJUSTMENT_METHODS}, got {method!r}")
    values = np.asarray(p_values, dtype=float)
    adjusted = np.full(values.shape, np.nan)
    finite = np.isfinite(values)
    if finite.any():
        family = values[finite]
        adjusted[finite] = _holm(family) if method == "holm" else multipletests(
            family, method=method)[1]
    return [float(p) for p in adjusted]


def _holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's adjusted p-values: ``max_{j<=i} (m - j + 1) p_(j)`` in sorted order, capped at 1.

    Written here, not taken from statsmodels: its ``multipletests(method="holm")`` runs a full
    ``gc.collect()`` on every call, 40% of one results analysis and more in a server's heap.
    """
    order = np.argsort(p_values, kind="stable")
    stepped = np.maximum.accumulate(p_values[order] * np.arange(len(p_values), 0, -1))
    adjusted = np.empty_like(stepped)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def adjust_comparisons(
    results: Sequence[ComparisonResult], method: str = "holm"
) -> list[ComparisonResult]:
    """Copies of ``results`` with ``p_value_adjusted`` and ``adjustment`` (the method) set."""
    adjusted = adjust_p_values([r.p_value for r in results], method)
    return [
        replace(r, p_value_adjusted=p, adjustment=method)
        for r, p in zip(results, adjusted, strict=True)
    ]


def _check_kind(kind: str) -> None:
    if kind not in ("binary", "numeric"):
        raise ValueError(f"kind must be 'binary' or 'numeric', got {kind!r}")


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _variance_of_mean(arm: SampleStats, kind: MetricKind) -> float:
    """``p(1-p)/n`` for a proportion (the Wald variance), ``s^2/n`` for a numeric mean."""
    if kind == "binary":
        return arm.mean * (1.0 - arm.mean) / arm.n
    return arm.variance / arm.n


def _confidence_quantile(alpha: float, alternative: Alternative) -> float:
    return 1.0 - alpha / 2 if alternative == "two-sided" else 1.0 - alpha


def _interval(
    estimate: float, variance: float, quantile: float, alternative: Alternative
) -> tuple[float, float]:
    """``estimate -/+ quantile * sqrt(variance)``, open on the side the alternative ignores."""
    half = float(quantile) * math.sqrt(variance) if math.isfinite(variance) else NAN
    return _open_side((estimate - half, estimate + half), alternative)


def _small_count_intervals(
    treatment: SampleStats, control: SampleStats, alpha: float, alternative: Alternative
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Absolute and relative lift CIs that stay honest at small counts (where Fisher is used):
    Newcombe's hybrid score interval for the difference and the log-adjusted interval for the
    ratio (minus 1), via statsmodels. The Wald interval collapses to a point when an arm is all
    0s or all 1s (1 of 1 vs 0 of 2 gave [1, 1]). One-sided: the bound of the 2-alpha interval.

    References
    ----------
    .. [1] Newcombe, R. G. (1998). "Interval estimation for the difference between independent
       proportions: comparison of eleven methods". Statistics in Medicine 17, 873-890 (method 10).
    .. [2] statsmodels ``confint_proportions_2indep``.
    """
    level = alpha if alternative == "two-sided" else 2 * alpha
    counts = (treatment.sum, treatment.n, control.sum, control.n)
    low, high = confint_proportions_2indep(*counts, method="newcomb", compare="diff",
                                           alpha=level)
    ratio_low, ratio_high = confint_proportions_2indep(*counts, method="log-adjusted",
                                                       compare="ratio", alpha=level)
    return (_open_side((low, high), alternative),
            _open_side((ratio_low - 1, ratio_high - 1), alternative))


def _open_side(bounds: tuple[float, float], alternative: Alternative) -> tuple[float, float]:
    """A two-sided interval with the side the alternative ignores opened to infinity."""
    lower = -math.inf if alternative == "smaller" else bounds[0]
    upper = math.inf if alternative == "larger" else bounds[1]
    return (float(lower), float(upper))


def _table(treatment: SampleStats, control: SampleStats) -> np.ndarray:
    """2x2 table ``[[successes, failures]]`` per arm, treatment first."""
    return np.array([[arm.sum, arm.n - arm.sum] for arm in (treatment, control)])


def _binary_test(
    treatment: SampleStats, control: SampleStats, alternative: Alternative
) -> tuple[str, float, float]:
    table = _table(treatment, control)
    if (expected_freq(table) < MIN_EXPECTED_COUNT).any():
        result = sps.fisher_exact(table, alternative=_SCIPY_ALTERNATIVE[alternative])
        return "fisher-exact", result.statistic, result.pvalue
    z, p = proportions_ztest(
        count=table[:, 0], nobs=table.sum(axis=1), alternative=alternative, prop_var=False
    )
    return "z-test (pooled)", z, p


def _welch_test(
    treatment: SampleStats, control: SampleStats, alternative: Alternative
) -> tuple[str, float, float]:
    result = sps.ttest_ind_from_stats(
        treatment.mean,
        math.sqrt(treatment.variance),
        treatment.n,
        control.mean,
        math.sqrt(control.variance),
        control.n,
        equal_var=False,
        alternative=_SCIPY_ALTERNATIVE[alternative],
    )
    return "welch-t", result.statistic, result.pvalue


def _ok_reason(test: str, lift: LiftEstimate) -> str:
    notes = []
    if test == "fisher-exact":
        notes.append(
            "an expected cell count is below 5, so Fisher's exact test was used, with "
            "Newcombe's score interval for the lift"
        )
    if math.isnan(lift.relative):
        notes.append("relative lift undefined: the control mean is 0")
    return "; ".join(notes)


def _degenerate_comparison(
    treatment: SampleStats,
    control: SampleStats,
    kind: MetricKind,
    alpha: float,
    alternative: Alternative,
    status: str,
    reason: str,
) -> ComparisonResult:
    """A result with the observed lifts (when both arms have units) and NaN inferential figures."""
    has_units = treatment.n > 0 and control.n > 0
    absolute = treatment.mean - control.mean if has_units else NAN
    relative = treatment.mean / control.mean - 1.0 if has_units and control.mean != 0 else NAN
    return ComparisonResult(
        kind,
        "none",
        NAN,
        NAN,
        absolute,
        NAN_PAIR,
        relative,
        NAN_PAIR,
        alpha,
        alternative,
        status,
        reason,
    )


def _omnibus_problem(arms: Sequence[SampleStats], kind: MetricKind) -> tuple[str, str] | None:
    if len(arms) < 2:
        return "single_arm", f"only {len(arms)} arm(s) with units: nothing to compare"
    if kind == "binary":
        return _binary_problem(sum(arm.sum for arm in arms), sum(arm.n for arm in arms))
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
