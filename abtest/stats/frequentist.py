"""Fixed-horizon frequentist comparisons of a treatment arm against control, from SampleStats.

Every figure is computed from :class:`~abtest.stats.summary.SampleStats` (``n``, ``sum``,
``sum_squares``), never from raw rows (DESIGN.md). The tests themselves come from statsmodels and
scipy; only the pieces they lack for summary statistics (the Welch–Satterthwaite degrees of freedom
and the delta-method variance of the log ratio behind the relative lift) are written here.

Every interval comes with the p-value of the same scale, the test it inverts:
``p_value_absolute`` pairs with ``absolute_ci`` and ``p_value_relative`` (the Wald test of the
log ratio) with ``relative_ci``, so "the interval excludes 0 exactly when its p < alpha" holds by
construction. ``p_value`` is the test named by ``test`` (pooled z, Fisher or Welch: the one the
Holm/BH family adjusts); the pooled z-test's variance is not the interval's, so it may disagree
with ``absolute_ci`` near alpha, and Fisher's test has no interval of its own.

Degenerate data (an empty arm, zero variance, no conversions anywhere) never raises: the result
carries a ``status`` other than ``"ok"``, a human-readable ``reason`` and NaN figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as sps
from scipy.special import ndtr, ndtri, stdtr, stdtrit
from scipy.stats.contingency import expected_freq
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from abtest.stats.summary import NAN, NAN_PAIR, MetricKind, SampleStats, check_kind

Alternative = Literal["two-sided", "larger", "smaller"]

#: Cochran's rule: the chi-square / z approximation needs every expected cell count >= 5.
MIN_EXPECTED_COUNT = 5.0

#: The relative row's fixed-horizon test (see :func:`log_ratio`), per metric kind.
RELATIVE_TEST = {
    "binary": "two-sided z-test of the log ratio (delta method, counts + 0.5)",
    "numeric": "two-sided Welch t-test of the log ratio (delta method)",
}
#: Why a numeric metric's relative interval is missing (:func:`log_ratio`).
NO_LOG_RATIO = "relative interval undefined: a mean is not positive"

_SCIPY_ALTERNATIVE = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}


@dataclass(frozen=True)
class LiftEstimate:
    """Point estimates of the lift and the variances of those estimators.

    ``relative`` is ``treatment_mean / control_mean - 1``; it and its variance are NaN when the
    control mean is 0. ``log_ratio`` estimates ``log(mean_t / mean_c)`` (NaN when a numeric
    mean is not positive): relative intervals are built on it, so they never go below -100%.
    """

    absolute: float
    absolute_variance: float
    relative: float
    relative_variance: float
    log_ratio: float = NAN
    log_ratio_variance: float = NAN


@dataclass(frozen=True)
class ComparisonResult:
    """Treatment versus control for one metric.

    ``test`` names the test actually used (``"z-test (pooled)"``, ``"fisher-exact"``,
    ``"welch-t"`` or ``"none"`` when the data are degenerate). ``statistic`` is z, the Fisher
    odds ratio, or Welch's t. Intervals follow ``alternative``: one-sided tests give one
    infinite bound. ``p_value_adjusted`` and ``adjustment`` are filled by
    :func:`abtest.stats.multiplicity.adjust_comparisons`.
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
    p_value_relative: float = NAN
    p_value_absolute: float = NAN

    @property
    def significant(self) -> bool:
        """Whether the (adjusted, if available) p-value is below ``alpha``; False when NaN."""
        p = self.p_value if self.p_value_adjusted is None else self.p_value_adjusted
        return bool(p < self.alpha)


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
    check_kind(kind)
    for name, arm in (("treatment", treatment), ("control", control)):
        if arm.n == 0:
            return "no_data", f"the {name} arm has no units yet"
        if kind == "numeric" and arm.n < 2:
            return "insufficient_data", f"the {name} arm needs at least 2 units for a variance"
    if kind == "binary":
        return pooled_binary_problem(treatment.sum + control.sum, treatment.n + control.n)
    if treatment.variance == 0 and control.variance == 0:
        return "zero_variance", "every unit has the same value within each arm: the variance is 0"
    return None


def pooled_binary_problem(successes: float, units: int) -> tuple[str, str] | None:
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
    The log ratio comes from :func:`log_ratio`.

    References
    ----------
    .. [1] Deng, A., Knoblich, U., Lu, J. (2018). "Applying the Delta Method in Metric
       Analytics: A Practical Guide with Novel Ideas". KDD 2018. arXiv:1803.06336.
    .. [2] GrowthBook gbstats, ``frequentist/tests.py`` (``TTest.variance``).
    """
    m_t, m_c = treatment.mean, control.mean
    v_t, v_c = _variance_of_mean(treatment, kind), _variance_of_mean(control, kind)
    logs = log_ratio(treatment, control, kind)
    if m_c == 0:
        return LiftEstimate(m_t - m_c, v_t + v_c, NAN, NAN, *logs)
    relative_variance = v_t / m_c**2 + m_t**2 * v_c / m_c**4
    return LiftEstimate(m_t - m_c, v_t + v_c, m_t / m_c - 1.0, relative_variance, *logs)


def log_ratio(
    treatment: SampleStats, control: SampleStats, kind: MetricKind
) -> tuple[float, float]:
    """``log(mean_t / mean_c)`` and its delta-method variance ``v_t/m_t^2 + v_c/m_c^2``.

    Why the log: an interval ``exp(log ratio -/+ z se) - 1`` for the relative lift stays above
    -100% (a rate cannot fall by more than all of it), which the ratio's own delta-method
    interval does not (Kohavi, Tang & Xu 2020, ch. 18 "relative difference"; Deng et al. 2018,
    section 3.3). For a binary metric 0.5 is added to every count and every arm size (the
    "log-adjusted" interval of statsmodels, Gart & Nam 1988), so an arm without conversions
    still has a finite log ratio and a positive variance ``1/x - 1/n`` per arm. For a numeric
    metric both means must be positive, else both figures are NaN.

    References
    ----------
    .. [1] Kohavi, R., Tang, D., Xu, Y. (2020). *Trustworthy Online Controlled Experiments*.
       Cambridge University Press, ch. 18.
    .. [2] Gart, J. J., Nam, J. (1988). "Approximate interval estimation of the ratio of binomial
       parameters". Biometrics 44(2), 323-338; statsmodels ``confint_proportions_2indep``
       (``compare="ratio", method="log-adjusted"``).
    .. [3] Deng, A., Knoblich, U., Lu, J. (2018). KDD 2018, arXiv:1803.06336.
    """
    if kind == "binary":
        (x_t, n_t), (x_c, n_c) = ((arm.sum + 0.5, arm.n + 0.5) for arm in (treatment, control))
        variance = 1 / x_t - 1 / n_t + 1 / x_c - 1 / n_c
        return math.log(x_t / n_t) - math.log(x_c / n_c), variance
    m_t, m_c = treatment.mean, control.mean
    if m_t <= 0 or m_c <= 0:
        return NAN, NAN
    variance = treatment.variance / treatment.n / m_t**2 + control.variance / control.n / m_c**2
    return math.log(m_t / m_c), variance


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
    (numeric, t quantile with Welch–Satterthwaite df). Where Fisher's test is used the counts
    are too small for it: Newcombe's score interval instead (:func:`_small_count_interval`).
    The relative-lift CI is ``exp(log ratio -/+ q se) - 1`` with the log ratio of
    :func:`log_ratio` and the same quantile ``q``; ``p_value_relative`` is the Wald test of that
    log ratio with the same quantile distribution, so the two agree about significance;
    ``p_value_absolute`` likewise inverts the Wald or Welch ``absolute_ci`` (NaN beside
    Newcombe's interval, which inverts no single test).

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
    check_alpha(alpha)
    problem = diagnose(treatment, control, kind)
    if problem is not None:
        return _degenerate_comparison(treatment, control, kind, alpha, alternative, *problem)
    if kind == "binary":
        test, statistic, p_value = _binary_test(treatment, control, alternative)
        df = None
    else:
        test, statistic, p_value = _welch_test(treatment, control, alternative)
        df = welch_satterthwaite_df(treatment, control)
    quantile = _quantile(_confidence_quantile(alpha, alternative), df)
    lift = estimate_lift(treatment, control, kind)
    if test == "fisher-exact":
        absolute_ci = _small_count_interval(treatment, control, alpha, alternative)
    else:
        absolute_ci = _interval(lift.absolute, lift.absolute_variance, quantile, alternative)
    log_ci = (_interval(lift.log_ratio, lift.log_ratio_variance, quantile, alternative)
              if math.isfinite(lift.log_ratio) else NAN_PAIR)
    return ComparisonResult(
        kind=kind,
        test=test,
        statistic=float(statistic),
        p_value=float(p_value),
        absolute_lift=lift.absolute,
        absolute_ci=absolute_ci,
        relative_lift=lift.relative,
        relative_ci=relative_interval(log_ci),
        alpha=alpha,
        alternative=alternative,
        status="ok",
        reason=_ok_reason(test, lift),
        p_value_relative=wald_p_value(lift.log_ratio, lift.log_ratio_variance, df, alternative),
        p_value_absolute=NAN if test == "fisher-exact" else wald_p_value(
            lift.absolute, lift.absolute_variance, df, alternative),
    )


def relative_interval(log_bounds: tuple[float, float]) -> tuple[float, float]:
    """Bounds on ``log(mean_t / mean_c)`` as bounds on the relative lift: always above -100%."""
    return (math.expm1(log_bounds[0]), math.expm1(log_bounds[1]))


def wald_p_value(
    estimate: float, variance: float, df: float | None = None,
    alternative: Alternative = "two-sided",
) -> float:
    """P-value of ``estimate / sqrt(variance)`` against the normal (``df`` None) or Student's t
    with ``df`` degrees of freedom: the test that :func:`_interval` with the same quantile
    inverts. NaN when undefined."""
    if not (math.isfinite(estimate) and math.isfinite(variance) and variance > 0):
        return NAN
    z = estimate / math.sqrt(variance)
    if alternative == "larger":
        return _upper_tail(z, df)
    if alternative == "smaller":
        return _upper_tail(-z, df)
    return 2 * _upper_tail(abs(z), df)


def _quantile(q: float, df: float | None) -> float:
    """Normal or t quantile via scipy.special (a frozen scipy distribution costs ~0.5 ms)."""
    return float(ndtri(q) if df is None else stdtrit(df, q))


def _upper_tail(z: float, df: float | None) -> float:
    return float(ndtr(-z) if df is None else stdtr(df, -z))


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


def check_alpha(alpha: float) -> None:
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


def _small_count_interval(
    treatment: SampleStats, control: SampleStats, alpha: float, alternative: Alternative
) -> tuple[float, float]:
    """Absolute lift CI that stays honest at small counts (where Fisher is used): Newcombe's
    hybrid score interval for the difference, via statsmodels. The Wald interval collapses to a
    point when an arm is all 0s or all 1s (1 of 1 vs 0 of 2 gave [1, 1]). One-sided: the bound
    of the 2-alpha interval.

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
    return _open_side((low, high), alternative)


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
            "Newcombe's score interval for the absolute lift"
        )
    if math.isnan(lift.relative):
        notes.append("relative lift undefined: the control mean is 0")
    elif math.isnan(lift.log_ratio):
        notes.append(NO_LOG_RATIO)
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
