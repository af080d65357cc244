"""Bayesian comparison of k arms from SampleStats: posteriors, chance to win, risk, lift.

Two posterior models, one per metric kind:

* ``"binary"``: conjugate Beta-Binomial. Arm rate ``p ~ Beta(a + successes, b + failures)`` with
  a ``Beta(a, b)`` prior (``Beta(1, 1)``, uniform, by default). Exact: per-arm credible intervals
  are Beta quantiles; chance to beat control and expected loss are Evan Miller's and Stucchio's
  closed-form sums (vectorised, :mod:`abtest.stats.beta_exact`), or adaptive quadrature of the
  Beta densities when no posterior parameter is a whole number up to ``MAX_SUM_TERMS``; the
  relative lift's mean is closed-form and its interval the quantiles of ``p_t/p_c`` by
  quadrature (:func:`~abtest.stats.beta_exact.beta_relative_lift`).
* ``"numeric"``: normal approximation with a flat prior, ``mean ~ N(x̄, s²/n)`` (CLT); the
  comparison with control is gbstats' Gaussian effect model (:func:`gaussian_effect`), which
  also takes an optional proper normal prior on the relative effect.

The probability that each arm is best among k is the one-dimensional integral
``∫ f_i(x) Π_{j≠i} F_j(x) dx`` by a fixed Gauss-Legendre rule
(:func:`~abtest.stats.posteriors.quadrature_probability_best`): exact to 1e-10 and
deterministic. Thompson sampling (:mod:`abtest.allocation`) estimates the same probability from
its own draws, within their Monte Carlo error. No figure here depends on a seed.

Where this differs from GrowthBook gbstats: gbstats' Bayesian engine (``EffectBayesianABTest``)
approximates the lift by a normal distribution (delta method) for binary metrics too. Our binary
path keeps the exact Beta posteriors for the chance to beat control, the risk and the relative
lift ``p_i / p_c - 1`` (posterior mean and equal-tailed interval). :func:`gaussian_effect`
reproduces gbstats' method exactly for callers that want its figures (tested against gbstats
0.8.0 output).

Degenerate data never raises: results carry ``status`` (``"ok"`` or why not) and ``reason``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import special

from abtest.stats.beta_exact import beta_chance_and_loss, beta_relative_lift
from abtest.stats.frequentist import estimate_lift
from abtest.stats.posteriors import (
    UNIFORM_PRIOR,
    BetaPrior,
    NormalPosterior,
    Posterior,
    arm_posterior,
    posterior_problem,
    quadrature_probability_best,
)
from abtest.stats.summary import NAN, NAN_PAIR, MetricKind, SampleStats, check_kind

EffectScale = Literal["relative", "absolute"]


@dataclass(frozen=True)
class EffectPrior:
    """Normal prior ``N(mean, variance)`` on the *relative* effect, as gbstats' ``GaussianPrior``.

    ``proper=False`` (the default) means a flat prior: the posterior is the likelihood.
    """

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False


@dataclass(frozen=True)
class EffectResult:
    """gbstats-style Gaussian posterior of the treatment effect ``Δ`` against control.

    Attributes
    ----------
    scale : {"relative", "absolute"}
        ``Δ = m_t/m_c - 1`` or ``Δ = m_t - m_c``.
    expected, std : float
        Posterior mean and standard deviation of ``Δ``.
    credible_interval : tuple of float
        Equal-tailed interval of ``Δ``.
    chance_to_win : float
        ``P(Δ > 0)``.
    risk_control : float
        ``E[max(0, Δ)]``: expected loss of keeping control.
    risk_treatment : float
        ``E[max(0, -Δ)]``: expected loss of shipping the treatment.
    status, reason : str
        ``"ok"`` and ``""``, or why the figures are NaN.
    """

    scale: EffectScale
    expected: float
    std: float
    credible_interval: tuple[float, float]
    chance_to_win: float
    risk_control: float
    risk_treatment: float
    status: str = "ok"
    reason: str = ""


@dataclass(frozen=True)
class ArmResult:
    """Bayesian figures of one arm; the ``*_control`` / lift fields are NaN for control itself.

    Attributes
    ----------
    index, n : int
        Position in the input and number of units.
    posterior_mean : float
        Posterior mean of the arm's rate (binary) or mean (numeric).
    credible_interval : tuple of float
        Equal-tailed credible interval of that rate or mean.
    probability_best : float
        Posterior probability that this arm has the highest rate/mean (quadrature).
    chance_to_beat_control : float
        ``P(θ_i > θ_c)``.
    expected_loss : float
        ``E[max(0, θ_c - θ_i)]``, absolute scale: what shipping this arm instead of control
        costs in expectation (Stucchio 2015).
    expected_loss_control : float
        ``E[max(0, θ_i - θ_c)]``, absolute scale: what keeping control instead costs.
    relative_lift : float
        Posterior mean of ``θ_i / θ_c - 1`` (binary: NaN when the control's ``α <= 1``, where
        ``E[1/θ_c]`` diverges).
    relative_lift_interval : tuple of float
        Equal-tailed credible interval of the relative lift.
    """

    index: int
    n: int
    posterior_mean: float
    credible_interval: tuple[float, float]
    probability_best: float
    chance_to_beat_control: float
    expected_loss: float
    expected_loss_control: float
    relative_lift: float
    relative_lift_interval: tuple[float, float]


@dataclass(frozen=True)
class BayesianComparison:
    """Result of :func:`bayesian_compare`: per-arm figures, or an empty tuple and the reason."""

    kind: MetricKind
    control_index: int
    credibility: float
    arms: tuple[ArmResult, ...]
    status: str = "ok"
    reason: str = ""


def normal_risk(mean: float, sd: float) -> tuple[float, float]:
    """``E[max(0, Δ)]`` and ``E[max(0, -Δ)]`` for ``Δ ~ N(mean, sd²)``.

    ``E[max(0, Δ)] = mean Φ(mean/sd) + sd φ(mean/sd)`` (the first moment of a normal truncated
    at 0); the second follows from ``max(0, Δ) - max(0, -Δ) = Δ``.

    References
    ----------
    .. [1] Johnson, N. L., Kotz, S., Balakrishnan, N. (1994). *Continuous Univariate
       Distributions*, vol. 1, 2nd ed., section 10.1 (truncated normal moments).
    .. [2] GrowthBook gbstats, ``bayesian/tests.py`` (``EffectBayesianABTest.get_risk``).
    """
    z = mean / sd
    positive = mean * special.ndtr(z) + sd * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    return float(positive), float(positive - mean)


def gaussian_effect(
    treatment: SampleStats,
    control: SampleStats,
    kind: MetricKind,
    scale: EffectScale = "relative",
    prior: EffectPrior = EffectPrior(),
    credibility: float = 0.95,
) -> EffectResult:
    """Normal posterior of the effect against control: gbstats' ``EffectBayesianABTest``.

    The data give ``Δ̂`` with variance ``v`` (absolute: ``v_t + v_c``; relative: the
    delta-method variance of :func:`abtest.stats.frequentist.estimate_lift`, with
    ``v = p(1-p)/n`` for binary and ``s²/n`` for numeric arms, as gbstats). The likelihood
    ``N(Δ̂, v)`` times the prior ``N(m₀, v₀)`` gives the conjugate posterior with precision
    ``1/v + 1/v₀`` and mean ``(Δ̂/v + m₀/v₀) / (1/v + 1/v₀)``; a flat prior leaves ``N(Δ̂, v)``.
    The prior is stated on the relative scale; for ``scale="absolute"`` it is rescaled by the
    control mean (``m₀|m_c|``, ``v₀ m_c²``), as gbstats does.

    Parameters
    ----------
    treatment, control : SampleStats
    kind : {"binary", "numeric"}
    scale : {"relative", "absolute"}
    prior : EffectPrior
    credibility : float
        Mass of the equal-tailed credible interval.

    References
    ----------
    .. [1] GrowthBook gbstats 0.8.0, ``bayesian/tests.py`` (``EffectBayesianABTest``).
    .. [2] Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed., section 2.5 (normal
       likelihood with known variance and a normal prior).
    .. [3] Deng, A., Knoblich, U., Lu, J. (2018). "Applying the Delta Method in Metric
       Analytics". KDD 2018.
    """
    _check_credibility(credibility)
    problem = _effect_problem(treatment, control, kind, scale)
    if problem is not None:
        return EffectResult(scale, NAN, NAN, NAN_PAIR, NAN, NAN, NAN, *problem)
    lift = estimate_lift(treatment, control, kind)
    estimate, variance = (
        (lift.relative, lift.relative_variance)
        if scale == "relative"
        else (lift.absolute, lift.absolute_variance)
    )
    mean, sd = _posterior_effect(estimate, variance, _scaled_prior(prior, control, scale))
    interval = NormalPosterior(mean, sd).interval(credibility)
    risk_control, risk_treatment = normal_risk(mean, sd)
    return EffectResult(
        scale=scale,
        expected=mean,
        std=sd,
        credible_interval=interval,
        chance_to_win=float(special.ndtr(mean / sd)),
        risk_control=risk_control,
        risk_treatment=risk_treatment,
    )


def bayesian_compare(
    arms: Sequence[SampleStats],
    kind: MetricKind,
    control_index: int = 0,
    prior: BetaPrior = UNIFORM_PRIOR,
    effect_prior: EffectPrior = EffectPrior(),
    credibility: float = 0.95,
    with_lift: bool = True,
) -> BayesianComparison:
    """Posterior of every arm, the probability each is best, and each against control.

    Binary arms use exact Beta-Binomial posteriors (``prior``); numeric arms the normal
    approximation, compared with control through :func:`gaussian_effect` on the absolute scale
    (chance to beat control, risks) and on the relative scale (lift), with ``effect_prior``.
    ``probability_best`` is exact by quadrature; nothing is sampled.

    Parameters
    ----------
    arms : sequence of SampleStats
        One entry per arm.
    kind : {"binary", "numeric"}
    control_index : int
        Which arm is control.
    prior : BetaPrior
        Prior of every binary arm's rate.
    effect_prior : EffectPrior
        Prior on the relative effect for numeric arms (flat by default).
    credibility : float
        Mass of every equal-tailed credible interval.
    with_lift : bool
        False leaves the relative lift and its interval NaN. The results page shows the lift of
        its fixed and sequential tests instead, and the binary lift's quantile solve was half
        of a full analysis' time (bench/analysis_speed).

    Returns
    -------
    BayesianComparison
        ``status != "ok"`` and no arms when there is nothing to compare (one arm, no traffic,
        a numeric arm with fewer than 2 units or zero variance).

    References
    ----------
    .. [1] Stucchio, C. (2015). "Bayesian A/B Testing at VWO". VWO whitepaper.
    .. [2] Miller, E. (2015). "Formulas for Bayesian A/B Testing".
       https://www.evanmiller.org/bayesian-ab-testing.html
    .. [3] GrowthBook gbstats 0.8.0, ``bayesian/tests.py``.
    """
    _check_credibility(credibility)
    problem = posterior_problem(arms, kind)
    if problem is not None:
        return BayesianComparison(kind, control_index, credibility, (), *problem)
    if not 0 <= control_index < len(arms):
        raise ValueError(f"control_index {control_index} outside 0..{len(arms) - 1}")
    posteriors = [arm_posterior(arm, kind, prior) for arm in arms]
    best = quadrature_probability_best(posteriors)
    lifts = (
        _lifts(arms, posteriors, control_index, kind, effect_prior, credibility)
        if with_lift
        else {}
    )
    results = tuple(
        _arm_result(
            i,
            arms,
            posteriors,
            lifts.get(i),
            best[i],
            control_index,
            kind,
            effect_prior,
            credibility,
        )
        for i in range(len(arms))
    )
    return BayesianComparison(kind, control_index, credibility, results)


def _lifts(
    arms: Sequence[SampleStats],
    posteriors: Sequence[Posterior],
    c: int,
    kind: MetricKind,
    effect_prior: EffectPrior,
    credibility: float,
) -> dict[int, tuple[float, tuple[float, float]]]:
    """Every treatment's relative lift (posterior mean, credible interval)."""
    if kind == "binary":
        return _binary_lifts(posteriors, c, credibility)
    effects = {
        i: gaussian_effect(arms[i], arms[c], kind, "relative", effect_prior, credibility)
        for i in range(len(arms))
        if i != c
    }
    return {i: (effect.expected, effect.credible_interval) for i, effect in effects.items()}


def _binary_lifts(
    posteriors: Sequence[Posterior], c: int, credibility: float
) -> dict[int, tuple[float, tuple[float, float]]]:
    """Every treatment's relative lift (mean, interval), in one vectorised solve."""
    treatments = [i for i in range(len(posteriors)) if i != c]
    means, intervals = beta_relative_lift(
        [posteriors[i] for i in treatments], posteriors[c], credibility
    )
    return {
        i: (float(mean), (float(low), float(high)))
        for i, mean, (low, high) in zip(treatments, means, intervals, strict=True)
    }


def _arm_result(
    i: int,
    arms: Sequence[SampleStats],
    posteriors: Sequence[Posterior],
    lift: tuple[float, tuple[float, float]] | None,
    best: float,
    control_index: int,
    kind: MetricKind,
    effect_prior: EffectPrior,
    credibility: float,
) -> ArmResult:
    posterior = posteriors[i]
    versus = (
        (NAN, NAN, NAN, NAN, NAN_PAIR)
        if i == control_index
        else _versus_control(
            i, arms, posteriors, lift, control_index, kind, effect_prior, credibility
        )
    )
    return ArmResult(
        i, arms[i].n, posterior.mean, posterior.interval(credibility), float(best), *versus
    )


def _versus_control(
    i: int,
    arms: Sequence[SampleStats],
    posteriors: Sequence[Posterior],
    lift: tuple[float, tuple[float, float]] | None,
    c: int,
    kind: MetricKind,
    effect_prior: EffectPrior,
    credibility: float,
) -> tuple[float, float, float, float, tuple[float, float]]:
    """(chance to beat control, loss of shipping, loss of keeping control, lift, lift interval)."""
    mean, interval = lift if lift is not None else (NAN, NAN_PAIR)
    if kind == "binary":
        chance, keep_loss = beta_chance_and_loss(posteriors[i], posteriors[c])
        ship_loss = keep_loss - (posteriors[i].mean - posteriors[c].mean)
        return chance, float(max(ship_loss, 0.0)), keep_loss, mean, interval
    absolute = gaussian_effect(arms[i], arms[c], kind, "absolute", effect_prior, credibility)
    return absolute.chance_to_win, absolute.risk_treatment, absolute.risk_control, mean, interval


def _effect_problem(
    treatment: SampleStats, control: SampleStats, kind: MetricKind, scale: EffectScale
) -> tuple[str, str] | None:
    check_kind(kind)
    if treatment.n == 0 or control.n == 0:
        return "no_data", "an arm has no units yet"
    if scale == "relative" and control.mean == 0:
        return "zero_baseline", "the control mean is 0: the relative effect is undefined"
    lift = estimate_lift(treatment, control, kind)
    variance = lift.relative_variance if scale == "relative" else lift.absolute_variance
    if not variance > 0:
        return "zero_variance", "the effect's variance is 0: every unit has the same value"
    return None


def _scaled_prior(prior: EffectPrior, control: SampleStats, scale: EffectScale) -> EffectPrior:
    if scale == "relative":
        return prior
    m_c = control.mean
    return EffectPrior(prior.mean * abs(m_c), prior.variance * m_c**2, prior.proper)


def _posterior_effect(estimate: float, variance: float, prior: EffectPrior) -> tuple[float, float]:
    """Conjugate normal update of ``N(estimate, variance)`` by ``prior`` (if proper)."""
    if not prior.proper:
        return estimate, math.sqrt(variance)
    precision = 1.0 / variance + 1.0 / prior.variance
    mean = (estimate / variance + prior.mean / prior.variance) / precision
    return mean, math.sqrt(1.0 / precision)


def _check_credibility(credibility: float) -> None:
    if not 0 < credibility < 1:
        raise ValueError(f"credibility must be in (0, 1), got {credibility!r}")
