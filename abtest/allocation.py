"""Thompson sampling: traffic weights proportional to each arm's probability of being best.

Weights for *new* units only: assignment stays sticky (DESIGN.md). The probabilities come from
the same Monte Carlo sampler as the dashboard's "probability best"
(:func:`abtest.stats.bayesian.sample_posteriors`, :func:`abtest.stats.bayesian.probability_best`).

The data are per allocation period: once the weights have moved, summing each arm over all
periods is confounded by time (an arm that got most of its traffic while the shop converted
well looks better than it is; simulated A/A under a 3%→7% drift promoted a false winner in 95% of
runs). Each arm's posterior is therefore formed from the results' post-stratified estimate
(:func:`abtest.stats.stratified.post_stratify`), the same estimator the results page shows
(DESIGN.md: one estimator for the page, the allocation and the promotion).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from abtest.stats.posteriors import (
    UNIFORM_PRIOR,
    BetaPosterior,
    BetaPrior,
    Posterior,
    arm_posterior,
    posterior_problem,
    probability_best,
    sample_posteriors,
)
from abtest.stats.stratified import post_stratify
from abtest.stats.summary import MetricKind, SampleStats

#: ``periods[t][i]``: the statistics of arm ``i`` in allocation period ``t``.
Periods = Sequence[Sequence[SampleStats]]

#: Monte Carlo draws per arm for allocation weights: the standard error of each weight,
#: ``sqrt(p(1-p)/draws)``, is at most 0.0071 at 5,000 draws (0.005 at 10,000). Traffic weights
#: need no finer resolution, and halving the draws halves the cost (Beta sampling is nearly all
#: of it), which keeps 16 arms under 10 ms (bench/thompson_speed.py). The dashboard's
#: probability best keeps its own, larger draw count on the same sampler.
DEFAULT_DRAWS = 5_000
#: No arm's weight goes below this share of new units (it keeps learning).
DEFAULT_FLOOR = 0.01
#: Weights stay put until every arm has this many units.
DEFAULT_MIN_UNITS = 100


@dataclass(frozen=True)
class AllocationResult:
    """Traffic weights for new units.

    Attributes
    ----------
    weights : tuple of float
        One weight per arm, each ``>= floor``, summing to 1.
    probability_best : tuple of float or None
        Monte Carlo ``P(arm is best)``; None when the gate kept the weights.
    posteriors : tuple of Posterior or None
        Each arm's posterior (``BetaPosterior`` or ``NormalPosterior``, with its mean and
        ``interval``); None when the gate kept the weights.
    reweighted : bool
        False when the weights were left as they were (``current_weights`` or equal).
    reason : str
        Why the weights were not moved; empty when they were.
    """

    weights: tuple[float, ...]
    probability_best: tuple[float, ...] | None
    posteriors: tuple[Posterior, ...] | None
    reweighted: bool
    reason: str = ""


def thompson_weights(
    periods: Periods,
    kind: MetricKind = "binary",
    floor: float = DEFAULT_FLOOR,
    min_units: int = DEFAULT_MIN_UNITS,
    draws: int = DEFAULT_DRAWS,
    seed: int | np.random.Generator | None = None,
    prior: BetaPrior = UNIFORM_PRIOR,
    current_weights: Sequence[float] | None = None,
    held_at_floor: Collection[int] = (),
    feasible: Callable[[int, np.random.Generator], np.ndarray] | None = None,
) -> AllocationResult:
    """Thompson sampling weights (randomized probability matching) with a floor per arm.

    Each arm's weight is the posterior probability that it is best, estimated from ``draws``
    joint posterior draws (:func:`period_posteriors`), then floored so that no arm starves (an
    arm kept at ``floor`` still gathers the data that could rehabilitate it, and keeps the later
    analysis unbiased enough to run). Arms in ``held_at_floor`` (e.g. harming a guardrail) get
    the floor and count as never best: the others' probabilities are among the eligible arms.
    Until every arm has ``min_units`` units the weights are not
    moved: ``current_weights`` are returned unchanged, or equal weights when none are given.

    Parameters
    ----------
    periods : sequence of sequence of SampleStats
        ``periods[t][i]``: arm ``i`` in allocation period ``t`` (one row when the weights never
        moved).
    kind : {"binary", "numeric"}
        Beta posteriors (with ``prior``) or normal posteriors, see :func:`period_posteriors`.
    floor : float
        Minimum weight of any arm; ``floor * len(arms)`` must be at most 1.
    min_units : int
        Every arm needs this many units before the weights move.
    draws : int
        Monte Carlo draws per arm (default :data:`DEFAULT_DRAWS`; standard error of a
        weight at most ``0.5 / sqrt(draws)``).
    seed : int, numpy Generator or None
        Same seed, same weights.
    prior : BetaPrior
        Prior of binary arms' rates.
    current_weights : sequence of float, optional
        The weights in force, returned unchanged when the gate holds.
    held_at_floor : collection of int
        Arms given the floor weight regardless of their probability of being best.
    feasible : callable, optional
        ``feasible(draws, rng)``: a ``draws × k`` boolean matrix saying, per joint posterior
        draw, which arms are acceptable (e.g. their guardrail within tolerance of control's in
        a draw of the guardrail posteriors); an arm only counts as best in draws where it is.
        This is Thompson sampling for a constrained bandit: an arm that is probably harmful
        loses traffic as its harm becomes probable, before any test holds it back.

    Raises
    ------
    ValueError
        No arms, ``floor`` outside ``[0, 1/len(arms)]``, or ``current_weights`` of the wrong
        length or not summing to 1 — configuration errors, not data.

    References
    ----------
    .. [1] Thompson, W. R. (1933). "On the likelihood that one unknown probability exceeds
       another in view of the evidence of two samples". Biometrika 25(3/4), 285-294.
    .. [2] Scott, S. L. (2010). "A modern Bayesian look at the multi-armed bandit". Applied
       Stochastic Models in Business and Industry 26(6), 639-658.
    .. [3] Russo, D. et al. (2018). "A Tutorial on Thompson Sampling". Foundations and Trends in
       Machine Learning 11(1), section 7 (probability matching over a batch of new units).
    """
    totals = arm_totals(periods)
    held = _held_weights(totals, floor, current_weights)
    reason = _gate_reason(totals, kind, min_units)
    posteriors = reason or period_posteriors(periods, kind, prior)
    if isinstance(posteriors, str):
        return AllocationResult(held, None, None, reweighted=False, reason=posteriors)
    rng = np.random.default_rng(seed)
    samples = sample_posteriors(posteriors, draws, rng)
    allowed = ~np.isin(np.arange(len(totals)), list(held_at_floor))
    if feasible is not None:
        allowed = allowed & feasible(draws, rng)
    usable = allowed.any(axis=1) if allowed.ndim == 2 else np.full(draws, allowed.any())
    masked = np.where(allowed, samples, -np.inf)[usable]
    best = probability_best(masked) * usable.mean() if masked.size else np.zeros(len(totals))
    weights = apply_floor(best, floor)
    return AllocationResult(
        tuple(float(w) for w in weights), tuple(float(p) for p in best), posteriors, True
    )


def arm_totals(periods: Periods) -> tuple[SampleStats, ...]:
    """Each arm's statistics summed over the periods (counts for the gates and the records)."""
    return tuple(sum(column[1:], column[0]) for column in zip(*periods, strict=True))


def period_posteriors(
    periods: Periods, kind: MetricKind, prior: BetaPrior = UNIFORM_PRIOR
) -> tuple[Posterior, ...] | str:
    """Each arm's posterior from its post-stratified estimate, or why there is none.

    Numeric: ``N(m, Var(m))`` of the stratified mean. Binary: the ``prior`` updated with the
    stratified rate ``m`` observed on the Kish effective sample ``n_eff = m(1 - m) / Var(m)``,
    i.e. ``Beta(α + m n_eff, β + (1 - m) n_eff)``: its mean is the unbiased stratified rate
    (the prior counted once, not once per period) and its variance never vanishes, so an arm
    with no conversion yet still has a proper posterior (``n_eff`` is then the arm's units).
    With a single period this is the conjugate posterior of the counts, exactly as the results
    page's chance to be best forms it.

    References
    ----------
    .. [1] Miratrix, L. W., Sekhon, J. S., Yu, B. (2013). "Adjusting treatment effect estimates
       by post-stratification in randomized experiments". J. R. Stat. Soc. B 75(2), 369-396.
    .. [2] Kish, L. (1965). *Survey Sampling*. Wiley, section 8.2 (effective sample size of a
       weighted estimate).
    """
    if len(periods) == 1:  # the weights never moved: pooling is the stratified estimate
        return tuple(arm_posterior(arm, kind, prior) for arm in periods[0])
    stratified = post_stratify(periods)
    if not stratified.periods_used:
        return "no allocation period has 2 units in every arm"
    if kind == "numeric":
        problem = posterior_problem(stratified.arms, kind)
        return problem[1] if problem else tuple(
            arm_posterior(arm, kind) for arm in stratified.arms)
    return tuple(_binary_posterior(arm, prior) for arm in stratified.arms)


def _binary_posterior(stratified: SampleStats, prior: BetaPrior) -> BetaPosterior:
    rate, variance = stratified.mean, stratified.variance / stratified.n
    effective = rate * (1 - rate) / variance if variance > 0 else stratified.n
    return BetaPosterior(prior.alpha + rate * effective, prior.beta + (1 - rate) * effective)


def apply_floor(weights: np.ndarray, floor: float) -> np.ndarray:
    """Raise every weight below ``floor`` to it, taking the mass proportionally from the others.

    Repeats until no weight is below the floor (taking mass can push another arm under it); the
    result sums to 1. ``floor * k == 1`` gives equal weights.
    """
    weights = np.asarray(weights, dtype=float)
    floored = np.zeros(weights.size, dtype=bool)
    while True:
        free = ~floored
        free_mass = 1.0 - floor * floored.sum()
        share = weights[free] / weights[free].sum() if weights[free].sum() > 0 else None
        result = np.full(weights.size, floor)
        result[free] = free_mass * share if share is not None else free_mass / free.sum()
        below = free & (result < floor)
        if not below.any():
            return result
        floored |= below


def _held_weights(
    arms: Sequence[SampleStats], floor: float, current_weights: Sequence[float] | None
) -> tuple[float, ...]:
    """Validate the configuration and return the weights to keep when not reweighting."""
    k = len(arms)
    if k == 0:
        raise ValueError("thompson_weights needs at least one arm")
    if not 0 <= floor <= 1 / k:
        raise ValueError(f"floor {floor} must be in [0, 1/{k}] so that {k} floors fit in 1")
    if current_weights is None:
        return (1.0 / k,) * k
    if len(current_weights) != k or not np.isclose(sum(current_weights), 1.0):
        raise ValueError("current_weights must have one weight per arm and sum to 1")
    return tuple(current_weights)


def _gate_reason(arms: Sequence[SampleStats], kind: MetricKind, min_units: int) -> str:
    """Why the weights must not move yet, or an empty string."""
    if len(arms) == 1:
        return "a single arm: it gets all the traffic"
    thin = [i for i, arm in enumerate(arms) if arm.n < min_units]
    if thin:
        return f"arm(s) {thin} have fewer than {min_units} units"
    problem = posterior_problem(arms, kind)
    return problem[1] if problem else ""
