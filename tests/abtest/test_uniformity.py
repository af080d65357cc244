"""Assignment is statistically uniform, and coverage only ever adds units.

Per-arm counts must lie within z = 3.29 binomial standard deviations (two-sided 0.1%, PlanOut's
bound) and the whole table must pass a chi-square goodness-of-fit test at p > 0.001. The hash is
deterministic, so these are fixed checks, not flaky ones: a failure means a biased hash or wrong
ranges.
"""

from __future__ import annotations

import math
from collections import Counter

import pytest
from scipy.stats import chisquare

from abtest.bucketing import assign, equal_weights

UNITS = 100_000
Z = 3.29
MIN_P_VALUE = 0.001
OUTSIDE = -1


def _counts(seed: str, weights: list[float], coverage: float) -> Counter[int]:
    return Counter(assign(seed, f"user-{i}", weights, coverage) for i in range(UNITS))


def _expected_shares(weights: list[float], coverage: float) -> dict[int, float]:
    shares = {arm: coverage * weight for arm, weight in enumerate(weights)}
    if coverage < 1:
        shares[OUTSIDE] = 1 - coverage
    return shares


def _assert_uniform(counts: Counter[int], shares: dict[int, float]) -> None:
    assert set(counts) <= set(shares), f"arms outside the ranges: {set(counts) - set(shares)}"
    for arm, share in shares.items():
        bound = Z * math.sqrt(UNITS * share * (1 - share))
        assert abs(counts[arm] - UNITS * share) <= bound, f"arm {arm}: {counts[arm]} units"
    observed = [counts[arm] for arm in shares]
    expected = [UNITS * share for share in shares.values()]
    assert chisquare(observed, expected).pvalue > MIN_P_VALUE


@pytest.mark.parametrize("arms", range(2, 9))
def test_equal_weights_are_uniform(arms: int) -> None:
    weights = equal_weights(arms)
    _assert_uniform(_counts(f"uniform-{arms}", weights, 1.0), _expected_shares(weights, 1.0))


@pytest.mark.parametrize(
    ("weights", "coverage"),
    [([0.1, 0.2, 0.7], 1.0), ([0.5, 0.5], 0.3), ([0.05, 0.15, 0.3, 0.5], 0.6)],
    ids=["unequal", "reduced-coverage", "unequal-reduced-coverage"],
)
def test_weights_and_coverage_are_honoured(weights: list[float], coverage: float) -> None:
    shares = _expected_shares(weights, coverage)
    _assert_uniform(_counts("weighted", weights, coverage), shares)


def test_raising_coverage_never_moves_a_covered_unit() -> None:
    weights = [0.2, 0.3, 0.5]
    before = [assign("ramp-up", f"user-{i}", weights, 0.25) for i in range(UNITS // 5)]
    for coverage in (0.5, 0.9, 1.0):
        after = [assign("ramp-up", f"user-{i}", weights, coverage) for i in range(UNITS // 5)]
        moved = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a not in (b, -1)]
        assert moved == []
        assert after.count(OUTSIDE) < before.count(OUTSIDE)
        before = after
