"""Versioned hash of a unit id into [0, 1): the single source of randomness in assignment.

The spec is GrowthBook's SDK spec (cross-SDK cases, specVersion 0.7.1), so an experiment bucketed
here puts every unit in the same arm as any GrowthBook SDK would. It is frozen by golden tests
(``tests/abtest/test_hashing.py``, ``tests/abtest/test_growthbook_cases.py``): changing an output
re-shuffles every running experiment, so a change means a new version, never an edit.

``fnv1a32(s)``
    32-bit FNV-1a over the UTF-16 code units of ``s`` (for ASCII text, its bytes)::

        h = 0x811C9DC5
        for each code unit c of s: h = ((h XOR c) * 0x01000193) mod 2**32

    UTF-16 code units because the JavaScript SDK hashes ``charCodeAt``; the published FNV-1a
    test vectors (``fnv1a32("a") == 0xE40C292C``) hold for ASCII.

``hash(seed, value, version)``, with ``+`` string concatenation and ``str`` decimal digits:
    version 1: ``(fnv1a32(value + seed) mod 1000) / 1000``                (1,000 buckets)
    version 2: ``(fnv1a32(str(fnv1a32(seed + value))) mod 10000) / 10000``  (10,000 buckets)
    any other version: ``None``

In assignment the seed is the experiment key and the value the unit id (``bucketing.assign``).
Version 2 is the default: its second round spreads the units of experiments whose keys differ by
a character, which version 1 leaves correlated.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import lru_cache

FNV_OFFSET_BASIS = 0x811C9DC5
FNV_PRIME = 0x01000193
_UINT32 = 0xFFFFFFFF
_NATIVE_UTF16 = "utf-16-le" if sys.byteorder == "little" else "utf-16-be"


def _code_units(text: str) -> Iterable[int]:
    """UTF-16 code units of ``text``, as JavaScript's ``charCodeAt`` sees them."""
    if text.isascii():
        return text.encode("ascii")
    return memoryview(text.encode(_NATIVE_UTF16, "surrogatepass")).cast("H")


def _fnv1a32_continue(state: int, text: str) -> int:
    """Fold ``text`` into an FNV-1a state, so a fixed prefix can be hashed once."""
    for unit in _code_units(text):
        state = ((state ^ unit) * FNV_PRIME) & _UINT32
    return state


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a of ``text`` (see the module docstring)."""
    return _fnv1a32_continue(FNV_OFFSET_BASIS, text)


@lru_cache(maxsize=1024)
def _seed_state(seed: str) -> int:
    """FNV state after ``seed``: version 2 hashes ``seed + value``, so each seed is folded once."""
    return fnv1a32(seed)


def hash(seed: str, value: str, version: int) -> float | None:
    """Position of ``value`` in [0, 1) for ``seed``; ``None`` for a version the spec lacks.

    Shadows the builtin on purpose: the name is part of the public API the issue fixed.
    """
    if version == 2:
        return fnv1a32(str(_fnv1a32_continue(_seed_state(seed), value))) % 10000 / 10000
    if version == 1:
        return fnv1a32(value + seed) % 1000 / 1000
    return None
