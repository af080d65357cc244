"""Error rates by simulation: A/A false positives, CI coverage, peeking, and SRM detection.

Data are drawn with fixed seeds as per-arm sufficient statistics (binomial counts, or sums of
normal draws), which is exactly what the SQL layer hands to :mod:`abtest.stats`.
"""

from __future__ import annotations

import numpy as np
import pytest

from abtest.stats.frequentist import compare
from abtest.stats.health import sample_ratio_mismatch
from abtest.stats.sequential import sequential_compare
from abtest.stats.summary import SampleStats


def binomial_rate(rejections: list[bool]) -> float:
    return float(np.mean(rejections))


def test_aa_false_positive_rate_of_fixed_horizon_z_test():
    """4,000 A/A tests at alpha = 0.05 reject between 3.5% and 6.5% of the time."""
    rng = np.random.default_rng(101)
    n, p, sims = 3000, 0.08, 4000
    t, c = rng.binomial(n, p, sims), rng.binomial(n, p, sims)
    rejections = [
        compare(SampleStats.binary(n, int(a)), SampleStats.binary(n, int(b)), "binary").significant
        for a, b in zip(t, c, strict=True)
    ]
    assert 0.035 <= binomial_rate(rejections) <= 0.065


def test_binary_lift_intervals_cover_the_truth_95_percent():
    rng = np.random.default_rng(202)
    n_t, n_c, p_t, p_c, sims = 4000, 3600, 0.12, 0.10, 3000
    t, c = rng.binomial(n_t, p_t, sims), rng.binomial(n_c, p_c, sims)
    results = [
        compare(SampleStats.binary(n_t, int(a)), SampleStats.binary(n_c, int(b)), "binary")
        for a, b in zip(t, c, strict=True)
    ]
    absolute = np.mean([r.absolute_ci[0] <= p_t - p_c <= r.absolute_ci[1] for r in results])
    relative = np.mean([r.relative_ci[0] <= p_t / p_c - 1 <= r.relative_ci[1] for r in results])
    assert 0.93 <= absolute <= 0.97
    assert 0.93 <= relative <= 0.97


def normal_arm(rng: np.random.Generator, mean: float, sd: float, n: int, sims: int) -> list:
    """Sufficient statistics of ``sims`` samples of ``n`` normal values each."""
    draws = rng.normal(mean, sd, size=(sims, n))
    return [
        SampleStats(n, float(s), float(q))
        for s, q in zip(draws.sum(1), (draws**2).sum(1), strict=True)
    ]


def test_welch_lift_intervals_cover_the_truth_95_percent():
    rng = np.random.default_rng(303)
    sims = 2500
    t, c = normal_arm(rng, 52.0, 30.0, 150, sims), normal_arm(rng, 50.0, 15.0, 250, sims)
    results = [compare(a, b, "numeric") for a, b in zip(t, c, strict=True)]
    absolute = np.mean([r.absolute_ci[0] <= 2.0 <= r.absolute_ci[1] for r in results])
    relative = np.mean([r.relative_ci[0] <= 0.04 <= r.relative_ci[1] for r in results])
    assert 0.93 <= absolute <= 0.97
    assert 0.93 <= relative <= 0.97


def daily_cumulative_counts(rng, sims: int, days: int, per_day: int, p: float) -> np.ndarray:
    """Cumulative conversions after each day, shape (sims, days)."""
    return rng.binomial(per_day, p, size=(sims, days)).cumsum(axis=1)


def daily_looks(t: np.ndarray, c: np.ndarray, per_day: int):
    """Cumulative (treatment, control) stats of one experiment, one pair per day."""
    for day, (a, b) in enumerate(zip(t, c, strict=True), start=1):
        yield SampleStats.binary(per_day * day, int(a)), SampleStats.binary(per_day * day, int(b))


def ever_rejects(t: np.ndarray, c: np.ndarray, per_day: int, test) -> bool:
    return any(test(*arms, "binary").significant for arms in daily_looks(t, c, per_day))


@pytest.mark.slow
def test_sequential_survives_daily_peeking_while_naive_z_test_does_not():
    """A/A, 2,000 experiments x 28 daily looks, 300 units per arm per day, 10% conversion.

    Rejecting as soon as any look is significant: the always-valid p-value keeps the false
    positive rate below alpha; the fixed-horizon z-test does not (Johari et al. 2017).
    """
    rng = np.random.default_rng(404)
    sims, days, per_day = 2000, 28, 300
    t = daily_cumulative_counts(rng, sims, days, per_day, 0.10)
    c = daily_cumulative_counts(rng, sims, days, per_day, 0.10)
    sequential = np.mean(
        [ever_rejects(a, b, per_day, sequential_compare) for a, b in zip(t, c, strict=True)]
    )
    naive = np.mean([ever_rejects(a, b, per_day, compare) for a, b in zip(t, c, strict=True)])
    assert sequential <= 0.05, sequential
    assert naive > 0.15, naive  # far above alpha (0.28 here): 28 looks at a fixed-horizon test


@pytest.mark.slow
def test_confidence_sequence_covers_the_truth_at_every_look():
    """Time-uniform coverage: the CS misses the true lift at some daily look <= 5% of the time."""
    rng = np.random.default_rng(505)
    sims, days, per_day, p_t, p_c = 600, 28, 300, 0.11, 0.10
    t = daily_cumulative_counts(rng, sims, days, per_day, p_t)
    c = daily_cumulative_counts(rng, sims, days, per_day, p_c)
    misses_abs, misses_rel = [], []
    for a, b in zip(t, c, strict=True):
        looks = [sequential_compare(*arms, "binary") for arms in daily_looks(a, b, per_day)]
        misses_abs.append(any(not r.absolute_ci[0] <= p_t - p_c <= r.absolute_ci[1] for r in looks))
        misses_rel.append(
            any(not r.relative_ci[0] <= p_t / p_c - 1 <= r.relative_ci[1] for r in looks)
        )
    assert np.mean(misses_abs) <= 0.05
    assert np.mean(misses_rel) <= 0.05


def test_srm_detects_a_50_5_to_49_5_imbalance_at_large_n():
    """400,000 units at 50.5/49.5: noncentrality 4e5 * 4 * 0.005^2 = 40, power at 0.001 ~ 99.9%."""
    rng = np.random.default_rng(606)
    n = 400_000
    first = rng.binomial(n, 0.505, 500)
    alarms = [sample_ratio_mismatch([int(k), n - int(k)], [1, 1]).mismatch for k in first]
    assert np.mean(alarms) >= 0.99


@pytest.mark.slow
def test_srm_false_alarm_rate_on_a_fair_split_is_at_the_threshold():
    """On a true 20/30/50 split, alarms stay within binomial noise of the threshold.

    4,000 splits: at 0.001 about 4 alarms are expected (P(>= 14) ~ 1e-4 under Poisson(4)); at 0.05
    the p-values are calibrated to 5% +/- 1% (about three binomial standard errors).
    """
    rng = np.random.default_rng(707)
    weights = [0.2, 0.3, 0.5]
    results = [
        sample_ratio_mismatch(list(k), weights) for k in rng.multinomial(50_000, weights, 4000)
    ]
    assert np.mean([r.mismatch for r in results]) <= 0.0035
    assert 0.04 <= np.mean([r.p_value < 0.05 for r in results]) <= 0.06
