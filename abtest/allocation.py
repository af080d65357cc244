"""Thompson sampling: traffic weights proportional to each arm's probability of being best.

Weights for *new* units only: assignment stays sticky (DESIGN.md). The probabilities come from
the same Monte Carlo sampler as the dashboard's "probability best"
(:func:`abtest.stats.bayesian.sample_posteriors`, :func:`abtest.stats.bayesian.probability_best`),
so the two always agree for a given seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from abtest.stats.posteriors import (
    UNIFORM_PRIOR,
    BetaPrior,
    Posterior,
    arm_posterior,
    posterior_problem,
    probability_best,
    sample_posteriors,
)
from abtest.stats.summary import MetricKind, SampleStats

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
    arms: Sequence[SampleStats],
    kind: MetricKind = "binary",
    floor: float = DEFAULT_FLOOR,
    min_units: int = DEFAULT_MIN_UNITS,
    draws: int = DEFAULT_DRAWS,
    seed: int | np.random.Generator | None = None,
    prior: BetaPrior = UNIFORM_PRIOR,
    current_weights: Sequence[float] | None = None,
) -> AllocationResult:
    """Thompson sampling weights (randomized probability matching) with a floor per arm.

    Each arm's weight is the posterior probability that it is best, estimated from ``draws``
    joint posterior draws, then floored so that no arm starves (an arm kept at ``floor`` still
    gathers the data that could rehabilitate it, and keeps the later analysis unbiased enough to
    run). Until every arm has ``min_units`` units the weights are not moved: ``current_weights``
    are returned unchanged, or equal weights when none are given.

    Parameters
    ----------
    arms : sequence of SampleStats
        Sufficient statistics per arm.
    kind : {"binary", "numeric"}
        Beta-Binomial posteriors (with ``prior``) or normal ``N(x̄, s²/n)`` posteriors.
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
    held = _held_weights(arms, floor, current_weights)
    reason = _gate_reason(arms, kind, min_units)
    if reason:
        return AllocationResult(held, None, None, reweighted=False, reason=reason)
    posteriors = tuple(arm_posterior(arm, kind, prior) for arm in arms)
    samples = sample_posteriors(posteriors, draws, np.random.default_rng(seed))
    best = probability_best(samples)
    weights = apply_floor(best, floor)
    return AllocationResult(
        tuple(float(w) for w in weights), tuple(float(p) for p in best), posteriors, True
    )


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
