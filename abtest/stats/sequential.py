"""Sequential testing that survives peeking: confidence sequences and always-valid p-values.

A fixed-horizon test checked every day rejects a true null far more often than ``alpha`` (Johari
et al. 2017). Waudby-Smith et al. (2023) give confidence sequences (CSs) that hold uniformly over
time, so a dashboard may be refreshed as often as anyone likes. This module applies their
two-sided asymptotic CS (normal mixture, their Theorem 2.2) to the absolute and the relative lift,
exactly as GrowthBook's gbstats ``SequentialTwoSidedTTest`` does: the "sample size" is the total
number of units in both arms, ``n = n_t + n_c``, and the per-unit variance is ``n`` times the
variance of the lift estimator from :func:`abtest.stats.frequentist.estimate_lift`.

Each scale has its own always-valid p-value, the inversion of the sequence beside it: the
absolute sequence with ``p_value_sequential``, the relative one (a sequence on the log ratio,
mapped to the relative lift, so it never goes below -100%) with ``p_value_sequential_relative``.

Neither scipy nor statsmodels implements confidence sequences, hence the closed forms below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from abtest.stats.frequentist import (
    NO_LOG_RATIO,
    LiftEstimate,
    diagnose,
    estimate_lift,
    relative_interval,
)
from abtest.stats.summary import NAN, NAN_PAIR, MetricKind, SampleStats, binary_unit_variance

#: GrowthBook's default tuning parameter: the CS is tightest near this many total units.
DEFAULT_TUNING_PARAMETER = 5000.0
TEST_NAME = "asymptotic confidence sequence (Waudby-Smith et al. 2023)"
#: The relative row's sequential test: the same sequence on the log ratio.
RELATIVE_SEQUENTIAL_TEST = f"two-sided {TEST_NAME} of the log ratio"


@dataclass(frozen=True)
class SequentialResult:
    """Always-valid inference on treatment versus control at the current look.

    ``p_value_sequential`` is the always-valid p-value for "no absolute difference",
    ``p_value_sequential_relative`` the one for "log ratio 0"; ``absolute_ci`` and
    ``relative_ci`` are the current intervals of the ``1 - alpha`` confidence sequences, each
    excluding 0 exactly when its own p-value is below ``alpha``. ``n`` is the total units in
    both arms; ``rho`` the normal-mixture parameter.
    """

    kind: MetricKind
    test: str
    p_value_sequential: float
    absolute_lift: float
    absolute_ci: tuple[float, float]
    relative_lift: float
    relative_ci: tuple[float, float]
    alpha: float
    tuning_parameter: float
    rho: float
    n: int
    status: str
    reason: str
    p_value_sequential_relative: float = NAN

    @property
    def significant(self) -> bool:
        """Whether the always-valid p-value is below ``alpha`` (False when NaN)."""
        return bool(self.p_value_sequential < self.alpha)


def sequential_rho(alpha: float, tuning_parameter: float = DEFAULT_TUNING_PARAMETER) -> float:
    """Mixture parameter rho that makes the two-sided CS tightest at ``tuning_parameter`` units.

    ``rho = sqrt((-2 log(alpha) + log(-2 log(alpha) + 1)) / N)``; choose ``N`` as the planned
    total sample size (GrowthBook's default is 5000).

    References
    ----------
    .. [1] Waudby-Smith, I., Arbour, D., Sinha, R., Kennedy, E. H., Ramdas, A. (2023).
       "Time-uniform central limit theory and asymptotic confidence sequences".
       arXiv:2103.06476v7, eq. (161).
    .. [2] GrowthBook gbstats ``sequential_rho``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    if tuning_parameter <= 0:
        raise ValueError(f"tuning_parameter must be positive, got {tuning_parameter!r}")
    log_alpha = math.log(alpha)
    return math.sqrt((-2 * log_alpha + math.log(-2 * log_alpha + 1)) / tuning_parameter)


def confidence_sequence_halfwidth(
    estimator_variance: float, n: int, alpha: float, rho: float
) -> float:
    """Half-width of the two-sided asymptotic CS at ``n`` units.

    ``sqrt(s2) * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * log(sqrt(n rho^2 + 1) / alpha))`` with
    per-unit variance ``s2 = n * estimator_variance``.

    References
    ----------
    .. [1] Waudby-Smith et al. (2023), arXiv:2103.06476v7, Theorem 2.2 (two-sided normal-mixture
       asymptotic confidence sequence).
    .. [2] GrowthBook gbstats ``sequential_interval_halfwidth``.
    """
    return math.sqrt(estimator_variance) * sequential_boundary(n, alpha, rho)


def sequential_boundary(n: float, alpha: float, rho: float) -> float:
    """The sequence's half-width in standard errors of the estimate at ``n`` units:
    ``sqrt(2 (n rho^2 + 1) / (n rho^2) * log(sqrt(n rho^2 + 1) / alpha))`` (always above the
    fixed-horizon ``z_{1-alpha/2}``; the power plan of the sequential test uses it)."""
    nr2 = n * rho**2
    return math.sqrt(2 * (nr2 + 1) / nr2 * math.log(math.sqrt(nr2 + 1) / alpha))


def always_valid_p_value(estimate: float, estimator_variance: float, n: int, rho: float) -> float:
    """Smallest ``alpha`` whose confidence sequence excludes 0 at this look.

    Inverting the CS of :func:`confidence_sequence_halfwidth` gives
    ``p = min(1, sqrt(n rho^2 + 1) * exp(-rho^2 n estimate^2 / (2 v (n rho^2 + 1))))`` with
    ``v = estimator_variance`` (positive); ``1/p`` is the mixture e-value, so ``p`` is
    anytime-valid.

    References
    ----------
    .. [1] Waudby-Smith et al. (2023), arXiv:2103.06476v7, eq. (155).
    .. [2] GrowthBook gbstats ``SequentialTwoSidedTTest.p_value``.
    """
    nr2p1 = n * rho**2 + 1
    log_p = 0.5 * math.log(nr2p1) - rho**2 * n * estimate**2 / (2 * estimator_variance * nr2p1)
    return min(1.0, math.exp(log_p))


def sequential_compare(
    treatment: SampleStats,
    control: SampleStats,
    kind: MetricKind,
    alpha: float = 0.05,
    tuning_parameter: float = DEFAULT_TUNING_PARAMETER,
) -> SequentialResult:
    """Always-valid p-value and confidence sequences for the absolute and relative lift.

    Safe to call after every batch of data: with probability ``1 - alpha`` (asymptotically) the
    intervals contain the true lift at every look simultaneously.

    Parameters
    ----------
    treatment, control : SampleStats
    kind : {"binary", "numeric"}
    alpha : float
    tuning_parameter : float
        Planned total units (both arms) where the CS should be tightest.

    References
    ----------
    .. [1] Waudby-Smith et al. (2023), arXiv:2103.06476v7.
    .. [2] Johari, R., Koomen, P., Pekelis, L., Walsh, D. (2017). "Peeking at A/B tests: why it
       matters, and what to do about it". KDD 2017, 1517-1525.
    .. [3] Deng, Knoblich, Lu (2018), KDD (delta method for the relative lift).
    """
    rho = sequential_rho(alpha, tuning_parameter)
    n = treatment.n + control.n
    problem = diagnose(treatment, control, kind)
    if problem is not None:
        return SequentialResult(
            kind,
            "none",
            NAN,
            NAN,
            NAN_PAIR,
            NAN,
            NAN_PAIR,
            alpha,
            tuning_parameter,
            rho,
            n,
            *problem,
        )
    lift = estimate_lift(treatment, control, kind)
    variance = absolute_variance(treatment, control, kind, lift.absolute_variance)
    logs_ok = math.isfinite(lift.log_ratio)
    return SequentialResult(
        kind=kind,
        test=TEST_NAME,
        p_value_sequential=always_valid_p_value(lift.absolute, variance, n, rho),
        absolute_lift=lift.absolute,
        absolute_ci=_sequence(lift.absolute, variance, n, alpha, rho),
        relative_lift=lift.relative,
        relative_ci=relative_interval(_sequence(lift.log_ratio, lift.log_ratio_variance, n,
                                                alpha, rho)) if logs_ok else NAN_PAIR,
        alpha=alpha,
        tuning_parameter=tuning_parameter,
        rho=rho,
        n=n,
        status="ok",
        reason=_reason(lift),
        p_value_sequential_relative=always_valid_p_value(
            lift.log_ratio, lift.log_ratio_variance, n, rho) if logs_ok else NAN,
    )


def absolute_variance(
    treatment: SampleStats, control: SampleStats, kind: MetricKind, unpooled: float
) -> float:
    """Variance of the absolute lift for the sequence: the ``unpooled`` Wald variance of
    :func:`estimate_lift`, except that a binary arm whose units all failed (or all converted)
    keeps a positive variance (:func:`~abtest.stats.summary.binary_unit_variance`).

    Why: such an arm has Wald variance ``p(1 - p)/n = 0``; with both arms so (1 of 1 against 0
    of 2) the sequence collapsed to a point.
    """
    if kind != "binary":
        return unpooled
    return sum(binary_unit_variance(arm) / arm.n for arm in (treatment, control))


def _reason(lift: LiftEstimate) -> str:
    if math.isnan(lift.relative):
        return "relative lift undefined: the control mean is 0"
    return "" if math.isfinite(lift.log_ratio) else NO_LOG_RATIO


def _sequence(
    estimate: float, estimator_variance: float, n: int, alpha: float, rho: float
) -> tuple[float, float]:
    half = confidence_sequence_halfwidth(estimator_variance, n, alpha, rho)
    return (estimate - half, estimate + half)
