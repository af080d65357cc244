"""Every case of GrowthBook's cross-SDK JSON file through our functions: the frozen hash spec.

The cases stay in ../shared (see ``tests/conftest.py``); each test is parametrized with one case.
"""

from __future__ import annotations

import pytest

from abtest.bucketing import bucket_ranges, choose_variation, equal_weights, in_namespace
from abtest.conditions import evaluate
from abtest.hashing import hash as unit_hash

# The file rounds some floats (1/3 is written 0.33333333); ranges are sums of products of floats.
TOLERANCE = 1e-8


def _named(index: int, case: list) -> str:
    """Index first: names repeat in the file (two "$not - pass" cases)."""
    return f"{index:03d} {case[0]}"


def _hash_id(index: int, case: list) -> str:
    seed, value, version, _ = case
    return f"{index:02d} v{version} seed={seed!r} value={value!r}"


def _weights_id(index: int, case: list) -> str:
    return f"n={case[0]}"


@pytest.mark.growthbook_cases("hash", _hash_id)
def test_hash(case: list) -> None:
    seed, value, version, expected = case
    assert unit_hash(seed, value, version) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.growthbook_cases("getBucketRange", _named)
def test_bucket_ranges(case: list) -> None:
    _, (n, coverage, weights), expected = case
    ends = [end for bucket in bucket_ranges(n, coverage, weights) for end in bucket]
    assert ends == pytest.approx([end for bucket in expected for end in bucket], abs=TOLERANCE)


@pytest.mark.growthbook_cases("chooseVariation", _named)
def test_choose_variation(case: list) -> None:
    _, position, ranges, expected = case
    assert choose_variation(position, [tuple(r) for r in ranges]) == expected


@pytest.mark.growthbook_cases("inNamespace", _named)
def test_in_namespace(case: list) -> None:
    _, unit_id, (name, start, end), expected = case
    assert in_namespace(unit_id, (name, start, end)) is expected


@pytest.mark.growthbook_cases("getEqualWeights", _weights_id)
def test_equal_weights(case: list) -> None:
    n, expected = case
    assert equal_weights(n) == pytest.approx(expected, abs=TOLERANCE)


@pytest.mark.growthbook_cases("evalCondition", _named)
def test_evaluate(case: list) -> None:
    _, condition, attributes, expected, *saved_groups = case
    assert evaluate(condition, attributes, *saved_groups) is expected
