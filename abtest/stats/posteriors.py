"""Each arm's posterior, and joint draws from them: shared by the Bayesian comparison
(:mod:`abtest.stats.bayesian`) and Thompson sampling (:mod:`abtest.allocation`), so the
dashboard's "probability best" and the allocation weights are one number.

* ``"binary"``: conjugate Beta-Binomial, ``p ~ Beta(a + successes, b + failures)`` with a
  ``Beta(a, b)`` prior (``Beta(1, 1)``, uniform, by default).
* ``"numeric"``: normal approximation with a flat prior, ``mean ~ N(x̄, s²/n)`` (CLT).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from abtest.stats.summary import MetricKind, SampleStats, check_kind


@dataclass(frozen=True)
class BetaPrior:
    """``Beta(alpha, beta)`` prior on a conversion rate; ``Beta(1, 1)`` is uniform."""

    alpha: float = 1.0
    beta: float = 1.0


#: The default ``Beta(1, 1)`` prior.
UNIFORM_PRIOR = BetaPrior()


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
