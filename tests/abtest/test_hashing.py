"""Hash vectors of our own, so a clone without ../shared still freezes the hash spec."""

from __future__ import annotations

import random

import pytest

from abtest.hashing import fnv1a32
from abtest.hashing import hash as unit_hash


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Published FNV-1a 32-bit vectors (Fowler/Noll/Vo, www.isthe.com/chongo/tech/comp/fnv)
        ("", 0x811C9DC5),
        ("a", 0xE40C292C),
        ("foobar", 0xBF9CF968),
        # One UTF-16 code unit 0xE9: ((0x811C9DC5 ^ 0xE9) * 0x01000193) mod 2**32; its UTF-8
        # bytes would give another value. A surrogate pair is two code units, as in JavaScript.
        ("é", 0x6C0B6C44),
        ("😀", 0xCB31C4B8),
    ],
)
def test_fnv1a32_vectors(text: str, expected: int) -> None:
    assert fnv1a32(text) == expected


@pytest.mark.parametrize(
    ("seed", "unit_id", "version", "expected"),
    [
        ("checkout-countdown", "user-1", 1, 0.806),
        ("checkout-countdown", "user-1", 2, 0.8124),
        ("checkout-countdown", "user-2", 2, 0.163),
        ("sms-opener", "42", 1, 0.124),
        ("sms-opener", "42", 2, 0.8234),
    ],
)
def test_golden_positions(seed: str, unit_id: str, version: int, expected: float) -> None:
    """Frozen: a change here re-shuffles running experiments (add a version instead)."""
    assert unit_hash(seed, unit_id, version) == expected


@pytest.mark.parametrize("version", [0, 3, -1, 99])
def test_unknown_version_has_no_position(version: int) -> None:
    assert unit_hash("seed", "unit", version) is None


@pytest.mark.parametrize(("version", "buckets"), [(1, 1000), (2, 10000)])
def test_positions_are_bucket_starts_in_unit_interval(version: int, buckets: int) -> None:
    for index in range(2000):
        position = unit_hash("experiment", f"unit-{index}", version)
        assert 0 <= position < 1
        assert round(position * buckets) == pytest.approx(position * buckets, abs=1e-6)


def _random_texts(rng: random.Random, count: int) -> list[str]:
    """ASCII, accented, CJK and astral (surrogate-pair) characters."""
    alphabet = "ab09-_. é€日本😀🎉"
    return ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(count)]


def test_version_2_equals_its_written_formula() -> None:
    """The seed-prefix cache must not change the documented formula."""
    rng = random.Random(7)
    for seed, value in zip(_random_texts(rng, 300), _random_texts(rng, 300), strict=True):
        expected = fnv1a32(str(fnv1a32(seed + value))) % 10000 / 10000
        assert unit_hash(seed, value, 2) == expected


def test_matches_growthbook_sdk_beyond_ascii() -> None:
    core = pytest.importorskip("growthbook.core")
    rng = random.Random(11)
    for seed, value in zip(_random_texts(rng, 300), _random_texts(rng, 300), strict=True):
        for version in (1, 2):
            assert unit_hash(seed, value, version) == core.gbhash(seed, value, version)
