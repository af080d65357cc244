"""Independent reference computations shared by the bayes tests (closed forms and quadrature)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import integrate
from scipy import stats as sps
from scipy.special import betaln

from abtest.stats.posteriors import BetaPosterior, NormalPosterior


def miller_prob_b_beats_a(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """Evan Miller's exact ``P(p_B > p_A)`` for Beta posteriors (integer ``a_b``).

    ``sum_{i=0}^{a_B-1} B(a_A+i, b_A+b_B) / ((b_B+i) B(1+i, b_B) B(a_A, b_A))``,
    https://www.evanmiller.org/bayesian-ab-testing.html (equation 1).
    """
    i = np.arange(int(a_b))
    log_terms = betaln(a_a + i, b_a + b_b) - np.log(b_b + i) - betaln(1 + i, b_b) - betaln(a_a, b_a)
    return float(np.exp(log_terms).sum())


def stucchio_loss(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """``E[max(p_B - p_A, 0)]`` by Stucchio (2015), "Bayesian A/B Testing at VWO", section 4.

    ``mu_B h(a_A, b_A, a_B+1, b_B) - mu_A h(a_A+1, b_A, a_B, b_B)`` with ``h`` Miller's sum.
    """
    mu_a, mu_b = a_a / (a_a + b_a), a_b / (a_b + b_b)
    return mu_b * miller_prob_b_beats_a(a_a, b_a, a_b + 1, b_b) - mu_a * miller_prob_b_beats_a(
        a_a + 1, b_a, a_b, b_b
    )


def scipy_posterior(posterior: BetaPosterior | NormalPosterior) -> sps.rv_continuous:
    """The posterior as a frozen scipy distribution, for quadrature."""
    if isinstance(posterior, BetaPosterior):
        return sps.beta(posterior.alpha, posterior.beta)
    return sps.norm(posterior.mean, posterior.sd)


def quad_probability_best(dists: Sequence[sps.rv_continuous]) -> np.ndarray:
    """``P(X_i = max) = ∫ f_i(x) prod_{j != i} F_j(x) dx`` by scipy.integrate.quad."""
    lo = min(d.ppf(1e-13) for d in dists)
    hi = max(d.isf(1e-13) for d in dists)
    peaks = sorted(float(d.mean()) for d in dists)

    def integrand(x: float, i: int) -> float:
        others = np.prod([d.cdf(x) for j, d in enumerate(dists) if j != i])
        return float(dists[i].pdf(x) * others)

    return np.array(
        [
            integrate.quad(integrand, lo, hi, args=(i,), points=peaks, limit=500, epsabs=1e-12)[0]
            for i in range(len(dists))
        ]
    )
