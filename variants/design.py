"""Experimental designs over units: full factorial or an explicit (fractional) list of arms.

An arm is a ``{unit_key: variant_key}`` dict; its key ``countdown=on|stock_left=off`` names it in
storage and reports, so keys are identifiers and the format has exactly one reading.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from variants.text import IDENTIFIER

Arm = dict[str, str]
_KEY = re.compile(IDENTIFIER)


def arms(
    units: Mapping[str, Sequence[str]] | Sequence[Mapping[str, str]] | None = None,
    explicit: Sequence[Mapping[str, str]] | None = None,
) -> list[Arm]:
    """The arms of a design, in a stable order.

    ``arms(units)`` is the full factorial (itertools.product in the units' order: 2×2×2 = 8).
    ``arms([...])`` or ``arms(explicit=[...])`` validates and returns chosen arms (a fractional
    design): each arm chooses the same units, no arm twice. Add ``units`` to also require each
    choice to come from that unit's list.
    Arms come back as new dicts in one unit order (``units``' or else the first arm's).
    """
    if units is not None and not isinstance(units, Mapping):
        if explicit is not None:
            raise TypeError("units must map each unit to its variants when explicit= is given")
        units, explicit = None, _arm_list(units)
    if explicit is None:
        if units is None:
            raise ValueError("give units= (full factorial) or explicit= (a list of arms)")
        _check_units(units)
        combinations = itertools.product(*units.values())
        return [dict(zip(units, combination, strict=True)) for combination in combinations]
    if not explicit:
        raise ValueError("explicit= needs at least one arm")
    if units is not None:
        _check_units(units)
    return _check_explicit(explicit, units or {key: () for key in explicit[0]})


def _arm_list(explicit: object) -> Sequence[Mapping[str, str]]:
    """``explicit`` if it is a list of arms; TypeError naming what it is otherwise."""
    if isinstance(explicit, str | bytes) or not isinstance(explicit, Sequence):
        raise TypeError("give units as {unit: [variants]} or the arms as a list of"
                        f" {{unit: variant}} dicts, not {type(explicit).__name__}")
    return explicit


def _check_units(units: Mapping[str, Sequence[str]]) -> None:
    if not units:
        raise ValueError("a design needs at least one unit")
    for unit_key, variant_keys in units.items():
        _check_key(unit_key)
        if isinstance(variant_keys, str):
            raise TypeError(f"unit {unit_key!r} must list its variants, not the string"
                            f" {variant_keys!r}")
        if not variant_keys:
            raise ValueError(f"unit {unit_key!r} lists no variants")
        if len(set(variant_keys)) != len(variant_keys):
            raise ValueError(f"unit {unit_key!r} lists a variant twice: {list(variant_keys)}")
        for variant_key in variant_keys:
            _check_key(variant_key)


def _check_explicit(
    explicit: Sequence[Mapping[str, str]], units: Mapping[str, Sequence[str]]
) -> list[Arm]:
    """Validate each arm against ``units`` (an empty variant list accepts any variant)."""
    numbers_by_key: dict[str, int] = {}
    for number, arm in enumerate(explicit, start=1):
        if not isinstance(arm, Mapping):
            raise TypeError(f"arm {number} must be a {{unit: variant}} dict, not {arm!r}")
        if set(arm) != set(units):
            raise ValueError(f"arm {number} chooses {sorted(arm)}, expected {sorted(units)}")
        for unit_key, allowed in units.items():
            if allowed and arm[unit_key] not in allowed:
                raise ValueError(
                    f"arm {number}: {unit_key}={arm[unit_key]} is not in {list(allowed)}"
                )
        key = arm_key({unit_key: arm[unit_key] for unit_key in units})
        if key in numbers_by_key:
            raise ValueError(f"arm {number} repeats arm {numbers_by_key[key]}: {key}")
        numbers_by_key[key] = number
    return [parse_arm_key(key) for key in numbers_by_key]


def arm_key(choices: Mapping[str, str]) -> str:
    """``countdown=on|stock_left=off`` in the choices' order; inverse of parse_arm_key()."""
    if not choices:
        raise ValueError("an arm chooses at least one unit")
    for key in (*choices, *choices.values()):
        _check_key(key)
    return "|".join(f"{unit_key}={variant_key}" for unit_key, variant_key in choices.items())


def _check_key(key: str) -> None:
    if not _KEY.fullmatch(key):
        raise ValueError(f"{key!r} is not a valid unit or variant key: keys are identifiers")


def parse_arm_key(key: str) -> Arm:
    """The choices named by ``key`` (as built by arm_key()); ValueError if malformed."""
    choices: Arm = {}
    for part in key.split("|"):
        unit_key, equals, variant_key = part.partition("=")
        if not (equals and _KEY.fullmatch(unit_key) and _KEY.fullmatch(variant_key)):
            raise ValueError(f"malformed arm key {key!r}: expected unit=variant|unit=variant...")
        if unit_key in choices:
            raise ValueError(f"malformed arm key {key!r}: unit {unit_key!r} chosen twice")
        choices[unit_key] = variant_key
    return choices
