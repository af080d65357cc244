"""Bayesian comparison of k arms from SampleStats: posteriors, chance to win, risk, lift.

Two posterior models, one per metric kind:

* ``"binary"``: conjugate Beta-Binomial. Arm rate ``p ~ Beta(a + successes, b + failures)`` with
  a ``Beta(a, b)`` prior (``Beta(1, 1)``, uniform, by default). Exact: per-arm credible intervals
  are Beta quantiles; chance to beat control and expected loss are Evan Miller's and Stucchio's
  closed-form sums (vectorised, :func:`beta_chance_and_loss`), or adaptive quadrature of the Beta
  densities when no posterior parameter is a whole number up to :data:`MAX_SUM_TERMS`.
* ``"numeric"``: normal approximation with a flat prior, ``mean ~ N(x̄, s²/n)`` (CLT); the
  comparison with control is gbstats' Gaussian effect model (:func:`gaussian_effect`), which
  also takes an optional proper normal prior on the relative effect.

The probability that each arm is best among k uses Monte Carlo: a ``draws × k`` matrix from
:func:`sample_posteriors`, argmax per row, bincount. It is the same sampler Thompson sampling
uses (:mod:`abtest.allocation`), so the dashboard's "probability best" and the allocation weights
are one number; the counts sum to ``draws`` so the probabilities sum to exactly 1. Pass ``seed``
for reproducible figures; the Monte Carlo standard error is ``sqrt(p(1-p)/draws)``.

Where this differs from GrowthBook gbstats: gbstats' Bayesian engine (``EffectBayesianABTest``)
approximates the lift by a normal distribution (delta method) for binary metrics too. Our binary
path keeps the exact Beta posteriors for the chance to beat control and the risk, and reports
the relative lift's posterior mean and equal-tailed interval from the Monte Carlo draws of
``p_i / p_c - 1``. :func:`gaussian_effect` reproduces gbstats' method exactly for callers that
want its figures (tested against gbstats 0.8.0 output).

Degenerate data never raises: results carry ``status`` (``"ok"`` or why not) and ``reason``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import integrate
from scipy import stats as sps
from scipy.special import betainc, betaincinv, betaln, logsumexp, xlog1py, xlogy

from abtest.stats.frequentist import estimate_lift
from abtest.stats.summary import NAN, NAN_PAIR, MetricKind, SampleStats, check_kind

EffectScale = Literal["relative", "absolute"]
#: Quadrature integrates a Beta density between these tail quantiles (mass left out ~ 2e-14).
_TAIL = 1e-14
#: Longest Miller sum :func:`beta_chance_and_loss` evaluates. A sum costs about 1 µs a term
#: (four ``betaln``/``log`` calls), quadrature a few ms whatever the counts: around 5,000 terms
#: quadrature becomes the cheaper of the two exact methods (timed with scipy 1.17).
MAX_SUM_TERMS = 5_000
#: Miller's four sums for ``P(p_B > p_A)`` over ``(α_A, β_A, α_B, β_B)``: the order in which the
#: parameters go into :func:`_miller_sum` (it sums over the third) and whether the answer is
#: ``1 -`` the sum. They follow from ``P(p_B > p_A) = 1 - P(p_A > p_B)`` and ``p -> 1 - p``.
_MILLER_FORMS = (
    ((0, 1, 2, 3), False),
    ((2, 3, 0, 1), True),
    ((3, 2, 1, 0), False),
    ((1, 0, 3, 2), True),
)


@dataclass(frozen=True)
class BetaPrior:
    """``Beta(alpha, beta)`` prior on a conversion rate; ``Beta(1, 1)`` is uniform."""

    alpha: float = 1.0
    beta: float = 1.0


#: The default ``Beta(1, 1)`` prior.
UNIFORM_PRIOR = BetaPrior()


@dataclass(frozen=True)
class EffectPrior:
    """Normal prior ``N(mean, variance)`` on the *relative* effect, as gbstats' ``GaussianPrior``.

    ``proper=False`` (the default) means a flat prior: the posterior is the likelihood.
    """

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False


@dataclass(frozen=True)
class BetaPosterior:
    """Posterior ``Beta(alpha, beta)`` of one arm's conversion rate."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        """``α / (α + β)``, without freezing a scipy distribution (that costs ~1 ms)."""
        return self.alpha / (self.alpha + self.beta)

    def interval(self, credibility: float) -> tuple[float, float]:
        """Equal-tailed credible interval (scipy, not frozen: freezing costs ~1 ms)."""
        low, high = sps.beta.interval(credibility, self.alpha, self.beta)
        return float(low), float(high)


@dataclass(frozen=True)
class NormalPosterior:
    """Posterior ``N(mean, sd²)`` of one arm's mean (flat prior, CLT)."""

    mean: float
    sd: float

    def interval(self, credibility: float) -> tuple[float, float]:
        """Equal-tailed credible interval."""
        low, high = sps.norm.interval(credibility, self.mean, self.sd)
        return float(low), float(high)


Posterior = BetaPosterior | NormalPosterior


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
        Posterior probability that this arm has the highest rate/mean (Monte Carlo).
    chance_to_beat_control : float
        ``P(θ_i > θ_c)``.
    expected_loss : float
        ``E[max(0, θ_c - θ_i)]``, absolute scale: what shipping this arm instead of control
        costs in expectation (Stucchio 2015).
    expected_loss_control : float
        ``E[max(0, θ_i - θ_c)]``, absolute scale: what keeping control instead costs.
    relative_lift : float
        Posterior mean of ``θ_i / θ_c - 1``.
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
    draws: int
    arms: tuple[ArmResult, ...]
    status: str = "ok"
    reason: str = ""


def arm_posterior(
    arm: SampleStats, kind: MetricKind, prior: BetaPrior = UNIFORM_PRIOR
) -> Posterior:
    """Posterior of one arm's rate (Beta-Binomial) or mean (normal, flat prior).

    Callers check :func:`posterior_problem` first: a numeric arm needs ``n >= 2`` and a positive
    variance for ``N(x̄, s²/n)`` to be a proper posterior.

    References
    ----------
    .. [1] Gelman, A. et al. (2013). *Bayesian Data Analysis*, 3rd ed., section 2.4 (Beta-Binomial
       conjugacy) and section 4.1 (normal approximation to the posterior).
    """
    if kind == "binary":
        return BetaPosterior(prior.alpha + arm.sum, prior.beta + arm.n - arm.sum)
    return NormalPosterior(arm.mean, math.sqrt(arm.variance / arm.n))


def posterior_problem(arms: Sequence[SampleStats], kind: MetricKind) -> tuple[str, str] | None:
    """Say why the arms' posteriors cannot be formed or compared, or return None."""
    check_kind(kind)
    if len(arms) < 2:
        return "single_arm", f"{len(arms)} arm(s): a comparison needs at least two"
    if all(arm.n == 0 for arm in arms):
        return "no_data", "no arm has units yet"
    for i, arm in enumerate(arms):
        if kind == "binary" and not 0 <= arm.sum <= arm.n:
            raise ValueError(f"arm {i}: successes {arm.sum} outside [0, n={arm.n}]")
        if kind == "numeric" and arm.n < 2:
            return "insufficient_data", f"arm {i} needs at least 2 units for a variance"
        if kind == "numeric" and arm.variance == 0:
            return "zero_variance", f"arm {i}: every unit has the same value (variance 0)"
    return None


def sample_posteriors(
    posteriors: Sequence[Posterior], draws: int, rng: np.random.Generator
) -> np.ndarray:
    """A ``draws × k`` matrix of independent posterior draws, one column per arm (vectorised).

    The one sampler behind :func:`probability_best` and Thompson sampling.
    """
    if all(isinstance(p, BetaPosterior) for p in posteriors):
        alphas = [p.alpha for p in posteriors]
        betas = [p.beta for p in posteriors]
        return rng.beta(alphas, betas, size=(draws, len(posteriors)))
    if all(isinstance(p, NormalPosterior) for p in posteriors):
        means = [p.mean for p in posteriors]
        sds = [p.sd for p in posteriors]
        return rng.normal(means, sds, size=(draws, len(posteriors)))
    raise ValueError("posteriors must all be Beta or all be normal")


def probability_best(samples: np.ndarray) -> np.ndarray:
    """Share of rows in which each column is the largest: ``P(arm i is best)`` by Monte Carlo.

    Sums to exactly 1. Standard error of each entry: ``sqrt(p(1-p)/draws)``.

    References
    ----------
    .. [1] Scott, S. L. (2010). "A modern Bayesian look at the multi-armed bandit". Applied
       Stochastic Models in Business and Industry 26(6), 639-658 (section 3: "randomized
       probability matching" computes these probabilities by simulation).
    """
    draws, k = samples.shape
    return np.bincount(samples.argmax(axis=1), minlength=k) / draws


def beta_chance_and_loss(treatment: BetaPosterior, control: BetaPosterior) -> tuple[float, float]:
    """``P(p_t > p_c)`` and ``E[max(0, p_t - p_c)]`` for independent Beta posteriors, exactly.

    The chance is Evan Miller's sum [1]_ (:func:`_beta_greater`); the loss is Stucchio's
    closed form [2]_ ``E[max(0, p_t - p_c)] = μ_t P(p_t⁺ > p_c) - μ_c P(p_t > p_c⁺)``, with
    ``p⁺ ~ Beta(α + 1, β)`` (since ``x f(x) = μ f⁺(x)`` for a Beta density ``f``). Each sum is
    vectorised and runs over the smallest whole-number parameter, so its cost is
    ``O(min(α_t, β_t, α_c, β_c))``. When no parameter is a whole number up to
    :data:`MAX_SUM_TERMS` (a fractional prior, or huge counts) the same quantities are
    integrals over the treatment density, done by :func:`_quadrature_chance_and_loss`.

    References
    ----------
    .. [1] Miller, E. (2015). "Formulas for Bayesian A/B Testing".
       https://www.evanmiller.org/bayesian-ab-testing.html
    .. [2] Stucchio, C. (2015). "Bayesian A/B Testing at VWO". VWO whitepaper, section 4
       (expected loss).
    """
    params = (treatment.alpha, treatment.beta, control.alpha, control.beta)
    if not any(_whole(p) and p <= MAX_SUM_TERMS for p in params):
        return _quadrature_chance_and_loss(treatment, control)
    t_plus = BetaPosterior(treatment.alpha + 1.0, treatment.beta)
    c_plus = BetaPosterior(control.alpha + 1.0, control.beta)
    chance = _beta_greater(treatment, control)
    loss = treatment.mean * _beta_greater(t_plus, control) - control.mean * _beta_greater(
        treatment, c_plus
    )
    return min(max(chance, 0.0), 1.0), max(loss, 0.0)


def _beta_greater(upper: BetaPosterior, lower: BetaPosterior) -> float:
    """``P(p_upper > p_lower)`` by the shortest of Miller's four sums (see :data:`_MILLER_FORMS`).

    At least one of the four parameters must be a whole number.
    """
    params = (lower.alpha, lower.beta, upper.alpha, upper.beta)
    _, order, complement = min(
        (params[order[2]], order, complement)
        for order, complement in _MILLER_FORMS
        if _whole(params[order[2]])
    )
    total = _miller_sum(*(params[k] for k in order))
    return 1.0 - total if complement else total


def _miller_sum(a: float, b: float, c: float, d: float) -> float:
    """``P(Y > X)`` for ``X ~ Beta(a, b)``, ``Y ~ Beta(c, d)``, whole ``c``: Miller (2015), eq. 1.

    ``Σ_{i=0}^{c-1} B(a+i, b+d) / ((d+i) B(1+i, d) B(a, b))``, the terms in logs and added by
    ``logsumexp`` so none under- or overflows.
    """
    i = np.arange(int(c), dtype=float)
    log_terms = betaln(a + i, b + d) - np.log(d + i) - betaln(1.0 + i, d) - betaln(a, b)
    return float(np.exp(logsumexp(log_terms)))


def _quadrature_chance_and_loss(
    treatment: BetaPosterior, control: BetaPosterior
) -> tuple[float, float]:
    """:func:`beta_chance_and_loss` by adaptive quadrature, for any positive parameters.

    With ``F_c`` the control CDF and ``F_c⁺`` that of ``Beta(α_c + 1, β_c)``,
    ``P(p_t > p_c) = E_t[F_c(p_t)]`` and
    ``E[max(0, p_t - p_c)] = E_t[p_t F_c(p_t) - μ_c F_c⁺(p_t)]``: integrals over the treatment
    density between its 1e-14 tail quantiles, split at its 5% and 95% quantiles (as scipy's
    ``rv_continuous.expect``), with scipy.special kernels evaluated point by point.

    References
    ----------
    .. [1] Piessens, R. et al. (1983). *QUADPACK*. Springer (``qagse``, behind
       ``scipy.integrate.quad``).
    """
    a_t, b_t, a_c, b_c = treatment.alpha, treatment.beta, control.alpha, control.beta
    log_norm, mean_c = betaln(a_t, b_t), control.mean

    def density(x: float) -> float:
        return float(np.exp(xlogy(a_t - 1.0, x) + xlog1py(b_t - 1.0, -x) - log_norm))

    def chance(x: float) -> float:
        return density(x) * betainc(a_c, b_c, x)

    def loss(x: float) -> float:
        return density(x) * (x * betainc(a_c, b_c, x) - mean_c * betainc(a_c + 1.0, b_c, x))

    lo, q05, q95 = betaincinv(a_t, b_t, [_TAIL, 0.05, 0.95])
    hi = 1.0 - betaincinv(b_t, a_t, _TAIL)
    options = {"points": (q05, q95), "epsabs": 1e-13, "epsrel": 1e-10, "limit": 200}
    p = integrate.quad(chance, lo, hi, **options)[0]
    risk = integrate.quad(loss, lo, hi, **options)[0]
    return float(min(max(p, 0.0), 1.0)), float(max(risk, 0.0))


def _whole(x: float) -> bool:
    return float(x).is_integer()


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
    positive = mean * sps.norm.cdf(z) + sd * sps.norm.pdf(z)
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
    interval = sps.norm.interval(credibility, mean, sd)
    risk_control, risk_treatment = normal_risk(mean, sd)
    return EffectResult(
        scale=scale,
        expected=mean,
        std=sd,
        credible_interval=(float(interval[0]), float(interval[1])),
        chance_to_win=float(sps.norm.sf(0.0, mean, sd)),
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
    draws: int = 100_000,
    seed: int | np.random.Generator | None = None,
) -> BayesianComparison:
    """Posterior of every arm, the probability each is best, and each against control.

    Binary arms use exact Beta-Binomial posteriors (``prior``); numeric arms the normal
    approximation, compared with control through :func:`gaussian_effect` on the absolute scale
    (chance to beat control, risks) and on the relative scale (lift), with ``effect_prior``.
    ``probability_best`` (and the binary lift's mean and interval) come from ``draws``
    Monte Carlo draws of the posteriors, reproducible with ``seed``.

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
    draws : int
        Monte Carlo draws per arm.
    seed : int, numpy Generator or None

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
        return BayesianComparison(kind, control_index, credibility, draws, (), *problem)
    if not 0 <= control_index < len(arms):
        raise ValueError(f"control_index {control_index} outside 0..{len(arms) - 1}")
    posteriors = [arm_posterior(arm, kind, prior) for arm in arms]
    samples = sample_posteriors(posteriors, draws, np.random.default_rng(seed))
    best = probability_best(samples)
    results = tuple(
        _arm_result(
            i, arms, posteriors, samples, best[i], control_index, kind, effect_prior, credibility
        )
        for i in range(len(arms))
    )
    return BayesianComparison(kind, control_index, credibility, draws, results)


def _arm_result(
    i: int,
    arms: Sequence[SampleStats],
    posteriors: Sequence[Posterior],
    samples: np.ndarray,
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
            i, arms, posteriors, samples, control_index, kind, effect_prior, credibility
        )
    )
    return ArmResult(
        i, arms[i].n, posterior.mean, posterior.interval(credibility), float(best), *versus
    )


def _versus_control(
    i: int,
    arms: Sequence[SampleStats],
    posteriors: Sequence[Posterior],
    samples: np.ndarray,
    c: int,
    kind: MetricKind,
    effect_prior: EffectPrior,
    credibility: float,
) -> tuple[float, float, float, float, tuple[float, float]]:
    """(chance to beat control, loss of shipping, loss of keeping control, lift, lift interval)."""
    if kind == "binary":
        chance, keep_loss = beta_chance_and_loss(posteriors[i], posteriors[c])
        ship_loss = keep_loss - (posteriors[i].mean - posteriors[c].mean)
        lift, interval = _monte_carlo_lift(samples[:, i], samples[:, c], credibility)
        return chance, float(max(ship_loss, 0.0)), keep_loss, lift, interval
    absolute = gaussian_effect(arms[i], arms[c], kind, "absolute", effect_prior, credibility)
    relative = gaussian_effect(arms[i], arms[c], kind, "relative", effect_prior, credibility)
    return (
        absolute.chance_to_win,
        absolute.risk_treatment,
        absolute.risk_control,
        relative.expected,
        relative.credible_interval,
    )


def _monte_carlo_lift(
    treatment: np.ndarray, control: np.ndarray, credibility: float
) -> tuple[float, tuple[float, float]]:
    """Posterior mean and equal-tailed interval of ``p_t/p_c - 1`` from paired draws."""
    lift = treatment / control - 1.0
    tail = (1.0 - credibility) / 2
    low, high = np.quantile(lift, [tail, 1.0 - tail])
    return float(lift.mean()), (float(low), float(high))


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
