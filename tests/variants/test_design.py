"""Factorial and explicit designs, and the arm key that names an arm."""

from __future__ import annotations

import pytest

from variants import arm_key, arms, parse_arm_key

URGENCY_UNITS = {
    "countdown": ["off", "on"],
    "stock_left": ["off", "on"],
    "loyal_price": ["off", "on"],
}
HALF_FRACTION = [  # 2^(3-1) design, defining relation I = ABC
    {"countdown": "off", "stock_left": "off", "loyal_price": "on"},
    {"countdown": "off", "stock_left": "on", "loyal_price": "off"},
    {"countdown": "on", "stock_left": "off", "loyal_price": "off"},
    {"countdown": "on", "stock_left": "on", "loyal_price": "on"},
]


def test_full_factorial_gives_eight_distinct_arms_in_product_order() -> None:
    keys = [arm_key(arm) for arm in arms(URGENCY_UNITS)]
    assert keys == [
        "countdown=off|stock_left=off|loyal_price=off",
        "countdown=off|stock_left=off|loyal_price=on",
        "countdown=off|stock_left=on|loyal_price=off",
        "countdown=off|stock_left=on|loyal_price=on",
        "countdown=on|stock_left=off|loyal_price=off",
        "countdown=on|stock_left=off|loyal_price=on",
        "countdown=on|stock_left=on|loyal_price=off",
        "countdown=on|stock_left=on|loyal_price=on",
    ]


def test_factorial_follows_the_units_order_and_sizes() -> None:
    design = arms({"sms_opener": ["gift", "named", "shop"], "reminder_reason": ["price", "forgot"]})
    assert len(design) == 6
    assert design[1] == {"sms_opener": "gift", "reminder_reason": "forgot"}
    assert [list(arm) for arm in design] == [["sms_opener", "reminder_reason"]] * 6


def test_explicit_arms_are_validated_and_returned_in_the_units_order() -> None:
    reordered = [dict(reversed(arm.items())) for arm in HALF_FRACTION]
    design = arms(URGENCY_UNITS, explicit=reordered)
    assert design == HALF_FRACTION
    assert [list(arm) for arm in design] == [list(URGENCY_UNITS)] * 4


def test_explicit_arms_alone_must_agree_with_the_first_arm() -> None:
    assert arms(explicit=HALF_FRACTION) == HALF_FRACTION
    with pytest.raises(ValueError, match="arm 2 chooses"):
        arms(explicit=[{"countdown": "on"}, {"countdown": "off", "stock_left": "on"}])


def test_explicit_arms_may_be_given_positionally() -> None:
    """The issue's signature: ``arms(units)`` "accepts an explicit list of arms instead"."""
    assert arms(HALF_FRACTION) == arms(explicit=HALF_FRACTION) == HALF_FRACTION
    with pytest.raises(ValueError, match="arm 5 repeats arm 1"):
        arms([*HALF_FRACTION, HALF_FRACTION[0]])


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        (lambda: arms(HALF_FRACTION, explicit=HALF_FRACTION), "units must map each unit"),
        (lambda: arms("countdown=on"), "not str"),
        (lambda: arms(3), "not int"),  # type: ignore[arg-type]
        (lambda: arms([HALF_FRACTION[0], ["countdown", "on"]]), "arm 2 must be a"),
        (lambda: arms({"countdown": "on"}), "must list its variants, not the string 'on'"),
    ],
    ids=["list-and-explicit", "string", "number", "arm-not-a-dict", "variants-a-string"],
)
def test_designs_of_the_wrong_shape_say_so(call, problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        call()


@pytest.mark.parametrize(
    ("explicit", "problem"),
    [
        ([{"countdown": "on", "stock_left": "on"}], "arm 1 chooses"),
        ([{**HALF_FRACTION[0], "social_proof": "on"}], "arm 1 chooses"),
        (
            [HALF_FRACTION[0], {**HALF_FRACTION[1], "loyal_price": "maybe"}],
            "arm 2: loyal_price=maybe",
        ),
        ([*HALF_FRACTION, dict(reversed(HALF_FRACTION[2].items()))], "arm 5 repeats arm 3"),
        ([], "at least one arm"),
    ],
)
def test_bad_explicit_arms_are_refused(explicit: list[dict[str, str]], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        arms(URGENCY_UNITS, explicit=explicit)


@pytest.mark.parametrize(
    ("units", "problem"),
    [
        (None, "give units="),
        ({}, "at least one unit"),
        ({"countdown": []}, "lists no variants"),
        ({"countdown": ["on", "on"]}, "lists a variant twice"),
        ({"count down": ["on"]}, "not a valid unit or variant key"),
        ({"countdown": ["on|off"]}, "not a valid unit or variant key"),
    ],
)
def test_bad_factorial_units_are_refused(units: dict[str, list[str]] | None, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        arms(units)


def test_arm_key_round_trips_every_arm() -> None:
    for arm in arms(URGENCY_UNITS):
        key = arm_key(arm)
        assert parse_arm_key(key) == arm
        assert list(parse_arm_key(key)) == list(arm)
    assert arm_key({"countdown": "on", "stock_left": "on", "loyal_price": "off"}) == (
        "countdown=on|stock_left=on|loyal_price=off"
    )


@pytest.mark.parametrize(
    "key",
    [
        "",
        "countdown",
        "countdown=",
        "=on",
        "countdown=on|",
        "countdown=on=off",
        "count down=on",
        "countdown=on|countdown=off",
        "countdown=on||stock_left=off",
        "countdown:on",
    ],
)
def test_malformed_arm_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="malformed arm key"):
        parse_arm_key(key)


@pytest.mark.parametrize("choices", [{}, {"countdown": "on=1"}, {"a|b": "on"}, {"倒计时": "on"}])
def test_arm_key_refuses_choices_it_could_not_parse_back(choices: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        arm_key(choices)
