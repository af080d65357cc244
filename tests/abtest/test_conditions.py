"""Targeting beyond GrowthBook's cases: bad conditions, JavaScript ordering, strict equality."""

from __future__ import annotations

import pytest

from abtest.conditions import InvalidCondition, evaluate, validate_condition

ATTRIBUTES = {"name": "ana", "age": 30, "tags": ["vip", "sms"], "version": "2.1.0"}

BAD_CONDITIONS = {
    "unknown operator": {"age": {"$between": [1, 2]}},
    "malformed regex": {"name": {"$regex": "(unclosed"}},
    "regex not a string": {"name": {"$regex": 5}},
    "$in not a list": {"age": {"$in": 30}},
    "$nin not a list": {"age": {"$nin": 30}},
    "$all not a list": {"tags": {"$all": "vip"}},
    "$gt on a list": {"age": {"$gt": [1]}},
    "$gt on a boolean": {"age": {"$gt": True}},
    "$lte on null": {"age": {"$lte": None}},
    "$vgt on a number": {"version": {"$vgt": 2}},
    "$exists on an array": {"age": {"$exists": []}},
    "$exists on an object": {"age": {"$exists": {"a": 1}}},
    "$type unknown name": {"age": {"$type": "integer"}},
    "$elemMatch not an object": {"tags": {"$elemMatch": "vip"}},
    "$inGroup not a name": {"name": {"$inGroup": ["a"]}},
    "$and not a list": {"$and": {"age": 30}},
    "$or item not an object": {"$or": ["age"]},
    "condition not an object": ["age"],
    "nested bad operator": {"$or": [{"age": 30}, {"tags": {"$elemMatch": {"$nope": 1}}}]},
    "bad operator inside $size": {"tags": {"$size": {"$around": 2}}},
}


@pytest.mark.parametrize("condition", BAD_CONDITIONS.values(), ids=BAD_CONDITIONS.keys())
def test_bad_condition_is_false_and_validation_says_why(condition: object) -> None:
    assert evaluate(condition, ATTRIBUTES) is False
    with pytest.raises(InvalidCondition):
        validate_condition(condition)


@pytest.mark.parametrize("condition", BAD_CONDITIONS.values(), ids=BAD_CONDITIONS.keys())
def test_not_cannot_turn_a_bad_condition_into_a_match(condition: object) -> None:
    assert evaluate({"$not": condition}, ATTRIBUTES) is False
    assert evaluate({"$nor": [condition]}, ATTRIBUTES) is False


def test_bad_operator_behind_a_failing_branch_still_fails_under_not() -> None:
    """``age`` fails first, so evaluation alone would never reach ``$bogus``."""
    assert evaluate({"$not": {"age": 99, "name": {"$bogus": 1}}}, ATTRIBUTES) is False


def test_saved_group_that_is_not_a_list_is_false() -> None:
    condition = {"name": {"$notInGroup": "staff"}}
    assert evaluate(condition, ATTRIBUTES, {"staff": "ana"}) is False


def test_deeply_nested_condition_is_false_not_recursion_error() -> None:
    condition: dict = {"age": 30}
    for _ in range(5000):
        condition = {"$not": condition}
    assert evaluate(condition, ATTRIBUTES) is False


def test_valid_condition_passes_validation() -> None:
    validate_condition(
        {
            "$or": [{"age": {"$gte": 18, "$lt": 65}}, {"tags": {"$elemMatch": {"$eq": "vip"}}}],
            "version": {"$vgte": "2.0.0"},
            "name": {"$not": {"$regexi": "^bot"}},
        }
    )


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        ({"n": {"$gt": 5}}, {"n": " 8 "}, True),  # Number(" 8 ") is 8
        ({"n": {"$lt": 1}}, {"n": ""}, True),  # Number("") is 0
        ({"n": {"$gt": 5}}, {"n": "0x10"}, True),  # hexadecimal literal
        ({"n": {"$gt": 5}}, {"n": "1_000"}, False),  # not a JS number: NaN orders nothing
        ({"n": {"$lte": 5}}, {"n": "abc"}, False),
        ({"n": {"$gte": 0}}, {"n": None}, True),  # null is 0
        ({"n": {"$gt": 0}}, {"n": True}, True),  # true is 1
        ({"n": {"$gt": 0}}, {"n": [5]}, False),  # arrays are not ordered here
        ({"n": {"$gte": 0}}, {"n": float("nan")}, False),
        ({"s": {"$gt": "10"}}, {"s": "9"}, True),  # two strings compare as text
        ({"s": {"$gt": "\uffff"}}, {"s": "😀"}, False),  # UTF-16 code units, as in JS
    ],
)
def test_ordering_follows_javascript(condition: dict, attributes: dict, expected: bool) -> None:
    assert evaluate(condition, attributes) is expected


SCALARS = [True, False, 1, 0, 0.5, -2, "", "0", "yes", None]
PRESENCES = {"value": {"x": 0}, "text": {"x": "a"}, "null": {"x": None}, "missing": {}}


@pytest.mark.parametrize("operand", SCALARS, ids=repr)
@pytest.mark.parametrize("attributes", PRESENCES.values(), ids=PRESENCES.keys())
def test_exists_reads_a_scalar_operand_by_its_truthiness(operand: object,
                                                        attributes: dict) -> None:
    """``{"$exists": 1}`` means true and ``0`` false, as in GrowthBook's JS and Python SDKs."""
    present = attributes.get("x") is not None
    condition = {"x": {"$exists": operand}}
    assert evaluate(condition, attributes) is (present == bool(operand))
    assert evaluate({"$not": condition}, attributes) is (present != bool(operand))
    core = pytest.importorskip("growthbook.core")
    for form in (condition, {"$not": condition}):
        assert evaluate(form, attributes) is core.evalCondition(attributes, form)


@pytest.mark.parametrize("operand", [True, False], ids=repr)
@pytest.mark.parametrize("operator", ["$gt", "$gte", "$lt", "$lte"])
def test_ordering_against_a_boolean_matches_nothing(operator: str, operand: bool) -> None:
    """JavaScript orders ``2 > true``; growthbook-python orders nothing with a boolean. We
    refuse the operand, which agrees with growthbook-python outside ``$not``."""
    core = pytest.importorskip("growthbook.core")
    condition = {"x": {operator: operand}}
    with pytest.raises(InvalidCondition, match="cannot take"):
        validate_condition(condition)
    for value in [*SCALARS, [1], {"a": 1}]:
        assert evaluate(condition, {"x": value}) is core.evalCondition({"x": value}, condition)


@pytest.mark.parametrize(
    ("condition", "attributes", "expected"),
    [
        ({"n": 1}, {"n": True}, False),
        ({"n": {"$eq": 1}}, {"n": 1.0}, True),
        ({"n": {"$in": [1, 2]}}, {"n": True}, False),
        ({"n": {"$in": [1, 2]}}, {"n": "1"}, False),
        ({"o": {"$eq": {"a": [1, 2]}}}, {"o": {"a": [1, 2]}}, True),
        ({"o": {"$in": [{"a": 1}]}}, {"o": {"a": 1}}, True),
        ({"o": {}}, {"o": {}}, True),  # an empty object is a literal, not an operator object
        ({"$nor": []}, {}, False),  # the negation of an empty $or, as in the JS SDK
    ],
)
def test_equality_is_strict_and_by_value(condition: dict, attributes: dict, expected: bool) -> None:
    assert evaluate(condition, attributes) is expected


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"version": {"$vlt": "3.0.0"}}, False),  # a missing version is not "0"
        ({"version": {"$vne": "3.0.0"}}, True),
        ({"name": {"$regex": "null"}}, False),  # a missing value is not the text "null"
        ({"name": {"$notRegex": "ana"}}, True),
    ],
)
def test_missing_attribute_is_no_version_and_no_text(condition: dict, expected: bool) -> None:
    assert evaluate(condition, {}) is expected
