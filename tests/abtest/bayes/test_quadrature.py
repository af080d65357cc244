"""P(best) by quadrature against independent references: closed forms and 2e6-draw Monte Carlo."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as sps

from abtest.stats.posteriors import BetaPosterior, NormalPosterior, quadrature_probability_best
from tests.abtest.bayes.references import miller_prob_b_beats_a

MC_DRAWS = 2_000_000


def _monte_carlo(posteriors: list, seed: int) -> np.ndarray:
    """Independent reference: argmax shares of ``MC_DRAWS`` draws, scipy's own samplers."""
    rng = np.random.default_rng(seed)
    columns = [
        sps.beta.rvs(p.alpha, p.beta, size=MC_DRAWS, random_state=rng)
        if isinstance(p, BetaPosterior)
        else sps.norm.rvs(p.mean, p.sd, size=MC_DRAWS, random_state=rng)
        for p in posteriors
    ]
    winners = np.argmax(np.column_stack(columns), axis=1)
    return np.bincount(winners, minlength=len(posteriors)) / MC_DRAWS


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (BetaPosterior(31, 271), BetaPosterior(40, 262)),
        (BetaPosterior(1, 1), BetaPosterior(3, 7)),
        (BetaPosterior(201, 9801), BetaPosterior(9, 391)),  # narrow beside wide
    ],
)
def test_two_betas_match_evan_millers_closed_form(a, b):
    best = quadrature_probability_best([a, b])
    exact = miller_prob_b_beats_a(a.alpha, a.beta, b.alpha, b.beta)
    assert best[1] == pytest.approx(exact, abs=1e-10)
    assert best[0] == pytest.approx(1 - exact, abs=1e-10)


def test_rates_near_zero_match_an_exact_rational_closed_form():
    """``A ~ Beta(1, m)``: ``P(B > A) = E[1 - (1-B)^m] = 1 - B(2, n+m) / B(2, n)`` for
    ``B ~ Beta(2, n)``, and ``B(2, n) = 1/(n(n+1))``: exact in rationals. (Miller's sum loses
    5e-10 here to cancellation, so it is not the reference.)"""
    m, n = 200_001, 200_000
    exact = 1 - Fraction(n * (n + 1), (n + m) * (n + m + 1))
    best = quadrature_probability_best([BetaPosterior(1, m), BetaPosterior(2, n)])
    assert best[1] == pytest.approx(float(exact), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (NormalPosterior(10.0, 1.0), NormalPosterior(10.5, 2.0)),
        (NormalPosterior(-3.0, 0.001), NormalPosterior(-2.9, 0.5)),  # 500x narrower
        (NormalPosterior(1e6, 50.0), NormalPosterior(1e6 + 400.0, 80.0)),
    ],
)
def test_two_normals_match_phi_of_the_standardised_difference(a, b):
    exact = sps.norm.cdf((b.mean - a.mean) / np.hypot(a.sd, b.sd))
    best = quadrature_probability_best([a, b])
    assert best[1] == pytest.approx(exact, abs=1e-10)
    assert best.sum() == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize(
    "posteriors",
    [
        [BetaPosterior(1 + s, 1 + 4000 - s) for s in (80, 84, 88, 92, 96, 100, 104, 108)],
        [BetaPosterior(1, 1), BetaPosterior(5, 40), BetaPosterior(301, 2701), BetaPosterior(3, 2)],
        [NormalPosterior(5.0, 0.1), NormalPosterior(5.05, 0.001), NormalPosterior(4.9, 1.0)],
        [NormalPosterior(100 + i, 2.0 + i) for i in range(6)],
    ],
)
def test_many_arms_match_high_draw_monte_carlo(posteriors):
    exact = quadrature_probability_best(posteriors)
    reference = _monte_carlo(posteriors, seed=len(posteriors))
    sigma = np.sqrt(np.maximum(exact * (1 - exact), 1e-6) / MC_DRAWS)
    assert np.all(np.abs(exact - reference) <= 4.5 * sigma)
    assert exact.sum() == pytest.approx(1.0, abs=1e-9)
    assert np.all(exact >= 0)


@pytest.mark.parametrize(
    "posterior", [BetaPosterior(1, 1), BetaPosterior(41, 961), NormalPosterior(3.0, 0.2)]
)
@pytest.mark.parametrize("k", [2, 3, 8])
def test_identical_posteriors_are_each_best_with_one_over_k(posterior, k):
    assert quadrature_probability_best([posterior] * k) == pytest.approx(
        np.full(k, 1 / k), abs=1e-10
    )


def test_an_arm_far_below_the_others_is_never_best():
    best = quadrature_probability_best(
        [BetaPosterior(11, 9991), BetaPosterior(501, 9501), BetaPosterior(511, 9491)]
    )
    assert best[0] == pytest.approx(0.0, abs=1e-12)
    exact = miller_prob_b_beats_a(501, 9501, 511, 9491)
    assert best[2] == pytest.approx(exact, abs=1e-9)


def test_mixed_families_are_refused():
    with pytest.raises(ValueError, match="all be Beta or all be normal"):
        quadrature_probability_best([BetaPosterior(2, 3), NormalPosterior(0.4, 0.1)])
