"""Sequential testing that survives peeking: confidence sequences and always-valid p-values.

A fixed-horizon test checked every day rejects a true null far more often than ``alpha`` (Johari
et al. 2017). Waudby-Smith et al. (2023) give confidence sequences (CSs) that hold uniformly over
time, so a dashboard may be refreshed as often as anyone likes. This module applies their
two-sided asymptotic CS (normal mixture, their Theorem 2.2) to the absolute and the relative lift,
exactly as GrowthBook's gbstats ``SequentialTwoSidedTTest`` does: the "sample size" is the total
number of units in both arms, ``n = n_t + n_c``, and the per-unit variance is ``n`` times the
variance of the lift estimator from :func:`abtest.stats.frequentist.estimate_lift`.

Neither scipy nor statsmodels implements confidence sequences, hence the closed forms below.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from abtest.stats.frequentist import diagnose, estimate_lift
from abtest.stats.summary import NAN, NAN_PAIR, MetricKind, SampleStats

#: GrowthBook's default tuning parameter: the CS is tightest near this many total units.
DEFAULT_TUNING_PARAMETER = 5000.0
TEST_NAME = "asymptotic confidence sequence (Waudby-Smith et al. 2023)"


@dataclass(frozen=True)
class SequentialResult:
    """Always-valid inference on treatment versus control at the current look.

    ``p_value_sequential`` is the always-valid p-value for "no absolute difference";
    ``absolute_ci`` and ``relative_ci`` are the current intervals of the ``1 - alpha`` confidence
    sequences. ``n`` is the total units in both arms; ``rho`` the normal-mixture parameter.
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
    s2 = n * estimator_variance
    nr2 = n * rho**2
    radicand = 2 * (nr2 + 1) / (n * rho) ** 2 * math.log(math.sqrt(nr2 + 1) / alpha)
    return math.sqrt(s2) * math.sqrt(radicand)


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


#: 1 of 1 converted against 0 of 2: the plug-in variance of the lift is 0, which says the sample
#: is too small to estimate it, not that the lift is certain (gbstats refuses it likewise).
ZERO_LIFT_VARIANCE = (
    "zero_variance",
    "every unit in each arm has the same outcome: the lift's variance cannot be estimated yet",
)


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
    lift = estimate_lift(treatment, control, kind) if problem is None else None
    if lift is not None and lift.absolute_variance == 0:
        problem, lift = ZERO_LIFT_VARIANCE, None
    if lift is None:
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
            *(problem or ZERO_LIFT_VARIANCE),
        )
    relative_ok = math.isfinite(lift.relative)
    return SequentialResult(
        kind=kind,
        test=TEST_NAME,
        p_value_sequential=always_valid_p_value(lift.absolute, lift.absolute_variance, n, rho),
        absolute_lift=lift.absolute,
        absolute_ci=_sequence(lift.absolute, lift.absolute_variance, n, alpha, rho),
        relative_lift=lift.relative,
        relative_ci=_sequence(lift.relative, lift.relative_variance, n, alpha, rho)
        if relative_ok
        else NAN_PAIR,
        alpha=alpha,
        tuning_parameter=tuning_parameter,
        rho=rho,
        n=n,
        status="ok",
        reason="" if relative_ok else "relative lift undefined: the control mean is 0",
    )


def _sequence(
    estimate: float, estimator_variance: float, n: int, alpha: float, rho: float
) -> tuple[float, float]:
    half = confidence_sequence_halfwidth(estimator_variance, n, alpha, rho)
    return (estimate - half, estimate + half)
