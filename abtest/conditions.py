"""Targeting conditions: GrowthBook's MongoDB-style condition language over JSON attributes.

A condition is a dict. ``$and`` / ``$or`` / ``$nor`` take lists of conditions, ``$not`` one
condition (``$nor`` is exactly "not ``$or``", so an empty ``$nor`` fails as the JavaScript SDK's
does); every other key is a dotted attribute path (``"father.age"``) through nested objects whose
value is either a literal, matched by equality, or an operator object such as
``{"$gte": 20, "$lt": 30}``. A missing attribute reads as ``null``.

Operators: ``$eq $ne $in $nin $all $ini $nini $alli $gt $gte $lt $lte $veq $vne $vgt $vgte
$vlt $vlte $regex $regexi $notRegex $notRegexi $exists $type $size $elemMatch $not $inGroup
$notInGroup``; the ``i`` forms ignore case, ``$inGroup`` reads lists from ``saved_groups``.

Semantics follow GrowthBook's cross-SDK cases, with JavaScript as the reference where they are
silent:

- Ordering (``$gt`` ...) is JavaScript's: two strings compare by UTF-16 code units, anything
  else as numbers, with ``null`` as 0 and numeric strings as their value (``"8" > 5``); a pair
  that is not a number (``"abc"``, arrays, objects) matches no ordering.
- An operand whose meaning differs between the JavaScript and Python SDKs is a bad condition,
  so a saved rule means the same in every SDK: ``$gt`` and kin take a number or a string, not
  a boolean or ``null`` (JavaScript orders ``2 > true``, growthbook-python orders nothing with a
  boolean); ``$exists`` takes a JSON scalar by its truthiness, as both SDKs do (``1`` means
  true; ``0``, ``""`` and ``null`` false), but no array or object (truthy in JavaScript, falsy
  in Python).
- Equality (literals, ``$eq``, ``$in``, ``$all``) is strict: same JSON type, compared by value
  (so ``true`` is not ``1`` and arrays or objects compare element by element, not by reference).
- Versions compare GrowthBook's padded version strings; a non-string attribute matches none of
  the ``$v*`` operators but ``$vne``. Regexes are Python ``re`` syntax, searched anywhere.

A bad condition (unknown operator, malformed regex, operand of the wrong type) evaluates to False:
it is rejected as a whole before any attribute is read, so ``$not`` cannot turn an error into a
match. :func:`validate_condition` reports the reason, for checking targeting when it is saved.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

SavedGroups = Mapping[str, Any]
OperatorTest = Callable[[Any, Any, SavedGroups], bool]
"""An operator's test: (attribute value, operand, saved groups) -> bool."""
_VERSION_DECORATION = re.compile(r"^v|\+.*$")
_VERSION_SEPARATOR = re.compile(r"[-.]")
_JS_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Infinity")
_JS_RADIX = {"0x": 16, "0o": 8, "0b": 2}
_NO_GROUPS: SavedGroups = MappingProxyType({})
_NUMBERS = (int, float)
_SCALARS = (str, int, float, bool, type(None))
_TYPE_NAMES = {
    type(None): "null",
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


class InvalidCondition(ValueError):
    """A condition nobody can evaluate: unknown operator or malformed operand."""


def evaluate(condition: dict, attributes: dict, saved_groups: SavedGroups | None = None) -> bool:
    """Whether ``attributes`` satisfy ``condition``; False for a bad condition, never raises."""
    try:
        validate_condition(condition)
        return _matches(condition, attributes, _NO_GROUPS if saved_groups is None else saved_groups)
    except (InvalidCondition, RecursionError):
        return False


def validate_condition(condition: Any) -> None:
    """Raise :class:`InvalidCondition` saying what is wrong with ``condition``, if anything."""
    if not isinstance(condition, dict):
        raise InvalidCondition(f"a condition must be an object, not {condition!r}")
    for key, value in condition.items():
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list):
                raise InvalidCondition(f"{key} takes a list of conditions, not {value!r}")
            for part in value:
                validate_condition(part)
        elif key == "$not":
            validate_condition(value)
        elif type(value) is dict:  # any other value is a literal, valid as it is
            _validate_value(value)


def _validate_value(expected: Any) -> None:
    """Check an attribute's condition value: any literal, or an object of known operators."""
    if not _is_operator_object(expected):
        return
    for name, operand in expected.items():
        operator = _OPERATORS.get(name)
        if operator is None:
            raise InvalidCondition(f"unknown operator {name}")
        if not operator.accepts(operand):
            raise InvalidCondition(f"{name} cannot take {operand!r}")


def _is_operator_object(value: Any) -> bool:
    """A non-empty object whose keys are all operators; any other object is a literal."""
    if type(value) is not dict or not value:
        return False
    for key in value:
        if type(key) is not str or not key.startswith("$"):
            return False
    return True


def _matches(condition: dict, attributes: Any, groups: SavedGroups) -> bool:
    for key, expected in condition.items():
        combinator = _COMBINATORS.get(key)
        if combinator is not None:
            matched = combinator(expected, attributes, groups)
        else:
            matched = _value_matches(expected, _read_path(attributes, key), groups)
        if not matched:
            return False
    return True


def _any_matches(conditions: list, attributes: Any, groups: SavedGroups) -> bool:
    """``$or``: an empty list passes, as in every GrowthBook SDK."""
    return not conditions or any(_matches(c, attributes, groups) for c in conditions)


_COMBINATORS: dict[str, Callable[[Any, Any, SavedGroups], bool]] = {
    "$and": lambda conditions, attrs, groups: all(_matches(c, attrs, groups) for c in conditions),
    "$or": _any_matches,
    "$nor": lambda conditions, attrs, groups: not _any_matches(conditions, attrs, groups),
    "$not": lambda condition, attrs, groups: not _matches(condition, attrs, groups),
}


def _read_path(attributes: Any, path: str) -> Any:
    """Value at a dotted path through nested objects; None where the path leads nowhere."""
    if "." not in path:
        return attributes.get(path) if type(attributes) is dict else None
    value = attributes
    for key in path.split("."):
        if type(value) is not dict:
            return None
        value = value.get(key)
    return value


def _value_matches(
    expected: Any, actual: Any, groups: SavedGroups, ignore_case: bool = False
) -> bool:
    """Apply a literal (equality) or an operator object to one attribute value."""
    if type(expected) is not dict or not _is_operator_object(expected):
        return _same(actual, expected, ignore_case)
    for name, operand in expected.items():
        if not _OPERATORS[name].test(actual, operand, groups):
            return False
    return True


def _json_type(value: Any) -> str:
    return _TYPE_NAMES.get(type(value), "unknown")


def _same(a: Any, b: Any, ignore_case: bool = False) -> bool:
    """Strict, by-value equality of JSON values (``true`` is not ``1``)."""
    if type(a) is type(b) and type(a) in _SCALARS and not ignore_case:
        return a == b
    kind = _json_type(a)
    if kind != _json_type(b):
        return False
    if kind == "array":
        return len(a) == len(b) and all(_same(x, y, ignore_case) for x, y in zip(a, b, strict=True))
    if kind == "object":
        return a.keys() == b.keys() and all(_same(a[k], b[k], ignore_case) for k in a)
    if ignore_case and kind == "string":
        return a.lower() == b.lower()
    return a == b


def _is_in(actual: Any, expected: list, ignore_case: bool = False) -> bool:
    """``actual`` is one of ``expected``; an array attribute needs one element that is."""
    if type(actual) is str and not ignore_case:
        return actual in expected  # a str only ever == an equal str
    candidates = actual if isinstance(actual, list) else (actual,)
    return any(_same(c, e, ignore_case) for c in candidates for e in expected)


def _to_js_number(value: Any) -> float | None:
    """JavaScript's ToNumber for JSON primitives; None for NaN and for arrays or objects."""
    if value is None:
        return 0.0
    if type(value) in (bool, int, float):
        return None if value != value else value  # NaN is unordered
    if isinstance(value, str):
        return _parse_js_number(value)
    return None


@lru_cache(maxsize=1024)
def _parse_js_number(text: str) -> float | None:
    """``Number(text)``: blank is 0, then decimal, ``Infinity`` or 0x/0o/0b literals."""
    text = text.strip(" \t\n\v\f\r\u00a0\u2028\u2029\ufeff")
    if not text:
        return 0.0
    if _JS_DECIMAL.fullmatch(text):
        return float(text.replace("Infinity", "inf"))
    radix, digits = _JS_RADIX.get(text[:2].lower()), text[2:]
    if not (radix and digits.isascii() and digits.isalnum()):
        return None
    try:
        return float(int(digits, radix))
    except ValueError:  # a digit beyond the radix, as in "0b12"
        return None


def _js_order(a: Any, b: Any) -> int | None:
    """-1, 0 or 1 as JavaScript's relational operators order ``a`` and ``b``; None if unordered."""
    if type(a) in _NUMBERS and type(b) in _NUMBERS and a == a and b == b:  # not NaN
        return (a > b) - (a < b)
    if type(a) is str and type(b) is str:
        if not (a.isascii() and b.isascii()):
            a, b = a.encode("utf-16-be", "surrogatepass"), b.encode("utf-16-be", "surrogatepass")
        return (a > b) - (a < b)
    x, y = _to_js_number(a), _to_js_number(b)
    if x is None or y is None:
        return None
    return (x > y) - (x < y)


@lru_cache(maxsize=1024)
def _padded_version(version: str) -> str:
    """GrowthBook's sortable form: drop ``v`` and ``+build``, pad numbers, ``~`` after releases.

    ``"1.2.3"`` becomes ``"    1-    2-    3-~"``, which sorts after ``"1.2.3-beta"``.
    """
    parts = _VERSION_SEPARATOR.split(_VERSION_DECORATION.sub("", version))
    if len(parts) == 3:
        parts.append("~")
    return "-".join(part.rjust(5) if part.isdigit() else part for part in parts)


@lru_cache(maxsize=256)
def _regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as error:
        raise InvalidCondition(f"malformed regex {pattern!r}: {error}") from error


def _saved_group(groups: SavedGroups, name: str) -> list:
    """Members of a saved group; an unknown group is empty, as in every GrowthBook SDK."""
    members = groups.get(name, [])
    if not isinstance(members, list):
        raise InvalidCondition(f"saved group {name!r} is not a list")
    return members


def _equal(actual: Any, operand: Any, _groups: SavedGroups) -> bool:
    return _same(actual, operand)


def _in_group(actual: Any, name: str, groups: SavedGroups) -> bool:
    return _is_in(actual, _saved_group(groups, name))


def _negated(test: OperatorTest) -> OperatorTest:
    return lambda actual, operand, groups: not test(actual, operand, groups)


def _ordered(holds: Callable[[int, int], bool]) -> OperatorTest:
    """``$gt`` and kin: ``holds(order, 0)`` on the JavaScript order of attribute and operand."""

    def test(actual: Any, operand: Any, _groups: SavedGroups) -> bool:
        order = _js_order(actual, operand)
        return order is not None and holds(order, 0)

    return test


def _versioned(holds: Callable[[str, str], bool]) -> OperatorTest:
    """``$vgt`` and kin: ``holds`` on padded versions; only string attributes have one."""

    def test(actual: Any, operand: str, _groups: SavedGroups) -> bool:
        return type(actual) is str and holds(_padded_version(actual), _padded_version(operand))

    return test


def _searching(ignore_case: bool) -> OperatorTest:
    """``$regex``: a match anywhere in a string attribute."""

    def test(actual: Any, pattern: str, _groups: SavedGroups) -> bool:
        return type(actual) is str and _regex(pattern, ignore_case).search(actual) is not None

    return test


def _membership(ignore_case: bool) -> OperatorTest:
    """``$in``: the attribute, or one element of an array attribute, is in the operand list."""
    return lambda actual, operand, _groups: _is_in(actual, operand, ignore_case)


def _containing_all(ignore_case: bool) -> OperatorTest:
    """``$all``: every condition value in the operand matches some element of the array."""

    def test(actual: Any, operand: list, groups: SavedGroups) -> bool:
        return isinstance(actual, list) and all(
            any(_value_matches(e, a, groups, ignore_case) for a in actual) for e in operand
        )

    return test


def _elem_match(actual: Any, operand: dict, groups: SavedGroups) -> bool:
    """Some element matches: operators test the element, a condition tests its fields."""
    if not isinstance(actual, list):
        return False
    if _is_operator_object(operand):
        return any(_value_matches(operand, item, groups) for item in actual)
    return any(_matches(operand, item, groups) for item in actual)


def _accepts_value_condition(operand: Any) -> bool:
    _validate_value(operand)
    return True


def _accepts_elem_match(operand: Any) -> bool:
    if not isinstance(operand, dict):
        return False
    if _is_operator_object(operand):
        _validate_value(operand)
    else:
        validate_condition(operand)
    return True


def _accepts_value_list(operand: Any) -> bool:
    return isinstance(operand, list) and all(map(_accepts_value_condition, operand))


def _accepts_regex(operand: Any) -> bool:
    return isinstance(operand, str) and _regex(operand, False) is not None


def _accepts_anything(_operand: Any) -> bool:
    return True


def _is_list(operand: Any) -> bool:
    return isinstance(operand, list)


def _is_str(operand: Any) -> bool:
    return isinstance(operand, str)


def _is_number_or_string(operand: Any) -> bool:
    return type(operand) in (int, float, str)


def _is_truthy_alike(operand: Any) -> bool:
    """A JSON scalar other than NaN: JavaScript and Python agree on its truthiness."""
    return type(operand) in _SCALARS and operand == operand


def _exists(actual: Any, operand: Any, _groups: SavedGroups) -> bool:
    return (actual is not None) == bool(operand)


@dataclass(frozen=True, slots=True)
class _Operator:
    """Which operands an operator accepts, and how it tests an attribute value against one."""

    accepts: Callable[[Any], bool]
    test: OperatorTest


_IN, _IN_IGNORING_CASE = _membership(False), _membership(True)
_REGEX, _REGEX_IGNORING_CASE = _searching(False), _searching(True)
_VERSION_EQUAL = _versioned(operator.eq)

_OPERATORS: dict[str, _Operator] = {
    "$eq": _Operator(_accepts_anything, _equal),
    "$ne": _Operator(_accepts_anything, _negated(_equal)),
    "$in": _Operator(_is_list, _IN),
    "$nin": _Operator(_is_list, _negated(_IN)),
    "$ini": _Operator(_is_list, _IN_IGNORING_CASE),
    "$nini": _Operator(_is_list, _negated(_IN_IGNORING_CASE)),
    "$all": _Operator(_accepts_value_list, _containing_all(False)),
    "$alli": _Operator(_accepts_value_list, _containing_all(True)),
    "$gt": _Operator(_is_number_or_string, _ordered(operator.gt)),
    "$gte": _Operator(_is_number_or_string, _ordered(operator.ge)),
    "$lt": _Operator(_is_number_or_string, _ordered(operator.lt)),
    "$lte": _Operator(_is_number_or_string, _ordered(operator.le)),
    "$veq": _Operator(_is_str, _VERSION_EQUAL),
    "$vne": _Operator(_is_str, _negated(_VERSION_EQUAL)),
    "$vgt": _Operator(_is_str, _versioned(operator.gt)),
    "$vgte": _Operator(_is_str, _versioned(operator.ge)),
    "$vlt": _Operator(_is_str, _versioned(operator.lt)),
    "$vlte": _Operator(_is_str, _versioned(operator.le)),
    "$regex": _Operator(_accepts_regex, _REGEX),
    "$regexi": _Operator(_accepts_regex, _REGEX_IGNORING_CASE),
    "$notRegex": _Operator(_accepts_regex, _negated(_REGEX)),
    "$notRegexi": _Operator(_accepts_regex, _negated(_REGEX_IGNORING_CASE)),
    "$exists": _Operator(_is_truthy_alike, _exists),
    "$type": _Operator(
        lambda operand: operand in _TYPE_NAMES.values(),
        lambda actual, operand, _groups: _json_type(actual) == operand,
    ),
    "$size": _Operator(
        _accepts_value_condition,
        lambda actual, operand, groups: (
            isinstance(actual, list) and _value_matches(operand, len(actual), groups)
        ),
    ),
    "$elemMatch": _Operator(_accepts_elem_match, _elem_match),
    "$not": _Operator(
        _accepts_value_condition,
        lambda actual, operand, groups: not _value_matches(operand, actual, groups),
    ),
    "$inGroup": _Operator(_is_str, _in_group),
    "$notInGroup": _Operator(_is_str, _negated(_in_group)),
}
