"""Power, sample size, minimum detectable effect and test duration, before launch or mid-flight.

Every treatment arm is compared with control at the full ``alpha`` (no Bonferroni split; the
analysis corrects with Holm/BH afterwards), so the per-arm sample size of a k-arm test equals that
of a two-arm test and the total is k times it. Power comes from statsmodels' ``NormalIndPower``
with Cohen's effect sizes: h for proportions (``proportion_effectsize``), d for means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from scipy.optimize import brentq
from scipy.stats import norm
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from abtest.stats.frequentist import Alternative
from abtest.stats.reasons import Problem, problem
from abtest.stats.sequential import sequential_boundary
from abtest.stats.summary import NAN, MetricKind

_POWER = NormalIndPower()


@dataclass(frozen=True)
class SampleSizePlan:
    """Units needed per arm (rounded up) to detect ``treatment_mean`` against ``baseline_mean``.

    ``n_per_arm`` and ``total_n`` are None when the plan is impossible (see ``status``).
    """

    kind: MetricKind
    baseline_mean: float
    treatment_mean: float
    effect_size: float
    alpha: float
    power: float
    arms: int
    n_per_arm: int | None
    total_n: int | None
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DurationEstimate:
    """Days of traffic still needed for every arm to reach ``n_per_arm`` units."""

    days: int | None
    n_per_arm: int
    remaining_per_arm: int
    daily_units_per_arm: float
    status: str
    reason: str
    reason_code: str = ""
    reason_params: Mapping[str, Any] = field(default_factory=dict)


def effect_size(
    kind: MetricKind, baseline_mean: float, treatment_mean: float, sd: float | None = None
) -> float:
    """Standardised effect: Cohen's h for proportions, Cohen's d for numeric means.

    ``h = 2 arcsin(sqrt(p_t)) - 2 arcsin(sqrt(p_c))`` (statsmodels ``proportion_effectsize``);
    ``d = (m_t - m_c) / sd`` with ``sd`` the common per-unit standard deviation.

    References
    ----------
    .. [1] Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed.
       Chapters 2 (d) and 6 (h).
    """
    if kind == "binary":
        return float(proportion_effectsize(treatment_mean, baseline_mean))
    if sd is None:
        raise ValueError("a numeric metric needs its standard deviation sd")
    return (treatment_mean - baseline_mean) / sd


def sample_size(
    kind: MetricKind,
    baseline_mean: float,
    minimum_effect: float,
    *,
    sd: float | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
    alternative: Alternative = "two-sided",
) -> SampleSizePlan:
    """Per-arm and total sample size to detect ``minimum_effect`` with probability ``power``.

    Solves the two-sample normal power equation ``power = Phi(|e| sqrt(n/2) - z_{1-alpha/2}) +
    Phi(-|e| sqrt(n/2) - z_{1-alpha/2})`` for ``n`` (statsmodels ``NormalIndPower``, equal arms).

    Parameters
    ----------
    kind : {"binary", "numeric"}
    baseline_mean : float
        Control conversion rate or mean.
    minimum_effect : float
        Smallest lift worth detecting: relative (0.05 = +5%) or absolute when ``relative=False``.
    sd : float, optional
        Per-unit standard deviation (numeric metrics only).
    arms : int
        Number of arms including control.

    References
    ----------
    .. [1] Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed.
    .. [2] statsmodels ``NormalIndPower.solve_power``.
    """
    treatment_mean = _treatment_mean(baseline_mean, minimum_effect, relative)
    plan = (kind, baseline_mean, treatment_mean)
    found = _plan_problem(kind, baseline_mean, treatment_mean, sd)
    if found is not None:
        return SampleSizePlan(*plan, NAN, alpha, power, arms, None, None, *found)
    es = effect_size(kind, baseline_mean, treatment_mean, sd)
    n = _POWER.solve_power(abs(es), alpha=alpha, power=power, alternative=_larger(alternative))
    n_per_arm = math.ceil(float(n))
    return SampleSizePlan(*plan, es, alpha, power, arms, n_per_arm, arms * n_per_arm, "ok", "")


def sequential_sample_size(
    kind: MetricKind,
    baseline_mean: float,
    minimum_effect: float,
    *,
    rho: float,
    sd: float | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    arms: int = 2,
) -> SampleSizePlan:
    """Per-arm sample size for the two-sided asymptotic confidence sequence to exclude 0.

    The sequence at ``N = 2 n`` units is ``estimate -/+ c(N) se`` with the boundary
    ``c(N) = sqrt((N rho^2 + 1) / (N rho^2) * 2 log(sqrt(N rho^2 + 1) / alpha))``
    (:func:`abtest.stats.sequential.sequential_boundary`), wider
    than the fixed-horizon ``z_{1-alpha/2}``. Replacing ``z_{1-alpha/2}`` by ``c(2n)`` in the
    normal power equation of :func:`sample_size` and solving for ``n`` (Brent) inflates the
    fixed-horizon plan by the ratio of the two boundaries: the power is that of the last look
    at ``n``, a lower bound on rejecting at some look up to ``n``. Why: a plan made for the
    fixed test under-promises the days the sequential headline needs (about half its power at
    the fixed plan's size).

    References
    ----------
    .. [1] Waudby-Smith, I. et al. (2023). arXiv:2103.06476v7, Theorem 2.2 (the boundary).
    .. [2] Cohen, J. (1988), the normal power equation; Brent (1973), scipy ``brentq``.
    """
    fixed = sample_size(kind, baseline_mean, minimum_effect, sd=sd, relative=relative,
                        alpha=alpha, power=power, arms=arms)
    if fixed.n_per_arm is None:
        return fixed
    es = abs(fixed.effect_size)

    def shortfall(n: float) -> float:
        shift, boundary = es * math.sqrt(n / 2), sequential_boundary(2 * n, alpha, rho)
        return norm.cdf(shift - boundary) + norm.cdf(-shift - boundary) - power

    upper = float(fixed.n_per_arm)
    while shortfall(upper) < 0:
        upper *= 2
    n_per_arm = math.ceil(brentq(shortfall, upper / 2 if upper > fixed.n_per_arm else 1.0,
                                 upper, xtol=1e-6))
    return replace(fixed, n_per_arm=n_per_arm, total_n=arms * n_per_arm)


def achieved_power(
    kind: MetricKind,
    baseline_mean: float,
    minimum_effect: float,
    n_per_arm: float,
    *,
    sd: float | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> float:
    """Probability of a significant result with ``n_per_arm`` units per arm (NaN if undefined).

    References
    ----------
    .. [1] statsmodels ``NormalIndPower.power``; Cohen (1988).
    """
    treatment_mean = _treatment_mean(baseline_mean, minimum_effect, relative)
    if _plan_problem(kind, baseline_mean, treatment_mean, sd) is not None or n_per_arm <= 0:
        return NAN
    es = abs(effect_size(kind, baseline_mean, treatment_mean, sd))
    return float(_POWER.power(es, n_per_arm, alpha, alternative=_larger(alternative)))


def minimum_detectable_effect(
    kind: MetricKind,
    baseline_mean: float,
    n_per_arm: float,
    *,
    sd: float | None = None,
    relative: bool = True,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> float:
    """Smallest upward lift detectable with ``power`` at ``n_per_arm`` units per arm.

    The standardised effect solves the statsmodels power equation by Brent's method: its own
    ``solve_power`` uses ``fsolve`` for the effect size, which loses precision at large ``n``
    and fails at ``n = 1``. The effect is mapped back through the inverse of Cohen's h,
    ``p_t = sin(arcsin(sqrt(p_c)) + h/2)^2``, or ``d * sd``. Returns NaN when the lift would
    push a conversion rate past 100%, a relative lift has a baseline of 0, or the inputs are
    degenerate.

    References
    ----------
    .. [1] Cohen, J. (1988). Statistical Power Analysis for the Behavioral Sciences, 2nd ed.
    .. [2] Brent, R. P. (1973). Algorithms for Minimization without Derivatives; scipy ``brentq``.
    """
    if n_per_arm <= 0 or _metric_problem(kind, baseline_mean, sd) is not None:
        return NAN
    if relative and baseline_mean == 0:  # no lift is relative to nothing
        return NAN
    h = _standardised_mde(n_per_arm, alpha, power, _larger(alternative))
    if kind == "binary":
        angle = math.asin(math.sqrt(baseline_mean)) + h / 2
        if angle > math.pi / 2:
            return NAN
        difference = math.sin(angle) ** 2 - baseline_mean
    else:
        difference = h * sd
    return difference / baseline_mean if relative else difference


def days_needed(
    n_per_arm: int,
    daily_traffic: float,
    *,
    arms: int = 2,
    coverage: float = 1.0,
    observed_per_arm: tuple[int, ...] = (),
) -> DurationEstimate:
    """Days until every arm has ``n_per_arm`` units, with traffic split equally over ``arms``.

    ``daily_traffic`` is the number of eligible units per day; ``coverage`` the share of them
    enrolled. On a running experiment pass ``observed_per_arm``: the slowest arm sets the pace.
    """
    per_arm_daily = daily_traffic * coverage / arms
    have = min(observed_per_arm) if observed_per_arm else 0
    remaining = max(0, n_per_arm - have)
    if remaining == 0:
        return DurationEstimate(
            0, n_per_arm, 0, per_arm_daily, *problem("ok", "enough_units", "enough units already")
        )
    if per_arm_daily <= 0:
        return DurationEstimate(
            None,
            n_per_arm,
            remaining,
            per_arm_daily,
            *problem("no_traffic", "no_traffic", "no daily traffic reaches the experiment"),
        )
    days = math.ceil(remaining / per_arm_daily)
    reason = f"needs about {days} more day{'s' if days != 1 else ''}"
    return DurationEstimate(
        days, n_per_arm, remaining, per_arm_daily, *problem("ok", "days_needed", reason, days=days)
    )


def _treatment_mean(baseline_mean: float, minimum_effect: float, relative: bool) -> float:
    return baseline_mean * (1 + minimum_effect) if relative else baseline_mean + minimum_effect


def _larger(alternative: Alternative) -> str:
    """Power depends on |effect| only, so "smaller" is "larger" with the sign flipped."""
    return "two-sided" if alternative == "two-sided" else "larger"


def _metric_problem(kind: MetricKind, baseline_mean: float, sd: float | None) -> Problem | None:
    if kind == "binary" and not 0 < baseline_mean < 1:
        text = "a baseline conversion rate must lie strictly between 0 and 1"
        return problem("zero_variance", "baseline_rate_out_of_range", text, rate=baseline_mean)
    if kind == "numeric" and (sd is None or sd <= 0):
        text = "a numeric metric needs a positive standard deviation sd"
        return problem("zero_variance", "sd_not_positive", text)
    return None


def _plan_problem(
    kind: MetricKind, baseline_mean: float, treatment_mean: float, sd: float | None
) -> Problem | None:
    found = _metric_problem(kind, baseline_mean, sd)
    if found is None and kind == "binary" and not 0 <= treatment_mean <= 1:
        text = f"the target rate {treatment_mean:.4g} is outside [0, 1]"
        return problem("invalid_effect", "target_rate_out_of_range", text, rate=treatment_mean)
    if found is None and treatment_mean == baseline_mean:
        text = "a zero effect cannot be detected with any sample size"
        return problem("zero_effect", "zero_effect", text)
    return found


def _standardised_mde(n_per_arm: float, alpha: float, power: float, alternative: str) -> float:
    if not alpha < power < 1:
        raise ValueError(f"power must lie in (alpha, 1), got {power!r}")
    z_sum = norm.ppf(1 - alpha / 2) + norm.ppf(power) + 1.0  # power at this bound exceeds target
    upper = z_sum * math.sqrt(2.0 / n_per_arm)
    return brentq(
        lambda es: _POWER.power(es, n_per_arm, alpha, alternative=alternative) - power,
        0.0,
        upper,
        xtol=1e-15,
    )
