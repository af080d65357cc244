"""Coverage and weights to bucket ranges, hash to arm: GrowthBook's bucketing spec.

Frozen by golden tests, like :mod:`abtest.hashing`:

``equal_weights(n)``
    ``[1/n] * n``; ``[]`` for ``n < 1``.
``bucket_ranges(n, coverage, weights)``
    ``coverage`` ``None`` means 1 and is clamped to [0, 1]. ``weights`` that are not ``n`` finite,
    non-negative numbers summing to 1 ± 0.01 are replaced by ``equal_weights(n)``. Arm ``i`` owns
    ``[c_i, c_i + coverage * w_i)`` with ``c_i = w_0 + ... + w_(i-1)``: every arm keeps its start
    as coverage grows, so raising coverage never moves a unit that was already covered.
``choose_variation(n, ranges)``
    The first ``i`` with ``start_i <= n < end_i``; ``-1`` when ``n`` is outside every range.
``in_namespace(unit_id, (name, start, end))``
    ``start <= hash("__" + name, unit_id, 1) < end``: mutually exclusive experiments take
    disjoint slices of one namespace.
``assign(seed, unit_id, weights, coverage, hash_version)``
    ``choose_variation(hash(seed, unit_id, hash_version), bucket_ranges(len(weights), coverage,
    weights))`` with ``seed`` the experiment key.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from abtest.hashing import hash as unit_hash

Range = tuple[float, float]

WEIGHT_SUM_TOLERANCE = 0.01


def equal_weights(n: int) -> list[float]:
    """``n`` equal shares of traffic; none for ``n < 1``."""
    return [1 / n] * n if n >= 1 else []


def _usable_weights(n: int, weights: Sequence[float] | None) -> Sequence[float]:
    """``weights`` when they describe ``n`` arms, else equal weights (GrowthBook's fallback).

    A NaN or infinite weight makes the sum fail the tolerance test, so it needs no check of its own.
    """
    if (
        weights is None
        or len(weights) != n
        or not abs(sum(weights) - 1) <= WEIGHT_SUM_TOLERANCE
        or min(weights) < 0
    ):
        return equal_weights(n)
    return weights


def bucket_ranges(n: int, coverage: float | None, weights: Sequence[float] | None) -> list[Range]:
    """Half-open range of the unit interval owned by each of ``n`` arms."""
    coverage = 1.0 if coverage is None else min(max(coverage, 0.0), 1.0)
    ranges = []
    start = 0.0
    for weight in _usable_weights(n, weights):
        ranges.append((start, start + coverage * weight))
        start += weight
    return ranges


def choose_variation(n: float, ranges: Sequence[Range]) -> int:
    """Index of the range holding ``n``, or -1 when ``n`` falls outside coverage."""
    for index, (start, end) in enumerate(ranges):
        if start <= n < end:
            return index
    return -1


def in_namespace(unit_id: str, namespace: tuple[str, float, float]) -> bool:
    """Whether ``unit_id`` falls in the ``[start, end)`` slice of the named namespace."""
    name, start, end = namespace
    position = unit_hash("__" + name, unit_id, 1)
    return position is not None and start <= position < end


def assign(
    seed: str,
    unit_id: str,
    weights: Sequence[float],
    coverage: float = 1.0,
    hash_version: int = 2,
) -> int:
    """Arm index of ``unit_id`` in the experiment keyed ``seed``, or -1 outside coverage.

    Deterministic: the same seed, unit id, weights, coverage and version give the same arm in
    every process. Raises ``ValueError`` for a hash version the spec does not define, because a
    silent -1 would look like "outside coverage".
    """
    position = unit_hash(seed, unit_id, hash_version)
    if position is None:
        raise ValueError(f"unknown hash version {hash_version!r}")
    return choose_variation(position, _experiment_ranges(coverage, tuple(weights)))


@lru_cache(maxsize=1024)
def _experiment_ranges(coverage: float, weights: tuple[float, ...]) -> tuple[Range, ...]:
    """Ranges once per experiment setting: ``assign`` runs per request, settings change rarely."""
    return tuple(bucket_ranges(len(weights), coverage, weights))
