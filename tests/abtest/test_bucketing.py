"""Our own bucketing behaviour beyond GrowthBook's cases: the composition the service calls."""

from __future__ import annotations

import math

import pytest

from abtest.bucketing import assign, bucket_ranges, choose_variation, in_namespace
from abtest.hashing import hash as unit_hash


def test_assign_composes_hash_ranges_and_choice() -> None:
    weights = [0.2, 0.3, 0.5]
    for index in range(500):
        unit_id = f"user-{index}"
        position = unit_hash("checkout-countdown", unit_id, 2)
        expected = choose_variation(position, bucket_ranges(3, 0.8, weights))
        assert assign("checkout-countdown", unit_id, weights, coverage=0.8) == expected


def test_assign_is_deterministic_and_depends_on_the_experiment() -> None:
    arms = [assign("exp-a", f"u{i}", [0.5, 0.5]) for i in range(200)]
    assert arms == [assign("exp-a", f"u{i}", [0.5, 0.5]) for i in range(200)]
    assert arms != [assign("exp-b", f"u{i}", [0.5, 0.5]) for i in range(200)]


def test_assign_uses_version_1_when_asked() -> None:
    position = unit_hash("exp", "unit", 1)
    expected = choose_variation(position, bucket_ranges(2, 1.0, [0.5, 0.5]))
    assert assign("exp", "unit", [0.5, 0.5], hash_version=1) == expected


def test_assign_outside_zero_coverage() -> None:
    assert {assign("exp", f"u{i}", [0.5, 0.5], coverage=0.0) for i in range(100)} == {-1}


def test_assign_rejects_unknown_hash_version() -> None:
    with pytest.raises(ValueError, match="unknown hash version 3"):
        assign("exp", "unit", [0.5, 0.5], hash_version=3)


@pytest.mark.parametrize(
    "weights",
    [[1.5, -0.5], [math.nan, 1.0], [math.inf, 0.0]],
    ids=["negative", "nan", "infinite"],
)
def test_unusable_weights_fall_back_to_equal(weights: list[float]) -> None:
    assert bucket_ranges(2, 1.0, weights) == [(0.0, 0.5), (0.5, 1.0)]


def test_namespace_slices_partition_units() -> None:
    """Experiments on disjoint slices of one namespace never share a unit."""
    slices = [("checkout", 0.0, 0.3), ("checkout", 0.3, 0.7), ("checkout", 0.7, 1.0)]
    for index in range(1000):
        memberships = [in_namespace(f"user-{index}", s) for s in slices]
        assert memberships.count(True) == 1
