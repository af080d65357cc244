"""Rendering scripts: parameters, errors that name the culprit, no code evaluation."""

from __future__ import annotations

import pytest

from variants import Catalogue, Unit, Variant, check_choices, load_catalogue, render

CATALOGUE = load_catalogue()
URGENCY = "{countdown}{stock_left}{loyal_price}"


class Spy:
    """A parameter value that records every attribute lookup and formatting attempt."""

    def __init__(self) -> None:
        object.__setattr__(self, "touched", [])

    def __getattribute__(self, name: str) -> object:
        if name != "touched":
            object.__getattribute__(self, "touched").append(name)
        return object.__getattribute__(self, name)

    def __str__(self) -> str:
        self.touched.append("__str__")
        return "spy"

    def __format__(self, spec: str) -> str:
        self.touched.append("__format__")
        return "spy"


def test_the_spy_sees_what_str_format_would_do() -> None:
    """Guards the tests below: str.format on a spy is caught, so an empty record means safe."""
    spy = Spy()
    user_text = "{0.__class__}{0}"
    user_text.format(spy)
    assert spy.touched == ["__class__", "__format__"]


def catalogue_with(text: str, defaults: dict[str, str | int | float] | None = None) -> Catalogue:
    """A one-unit catalogue whose 'on' variant has ``text`` (built by hand: no YAML validation)."""
    variants = {"off": Variant("off", ""), "on": Variant("on", text, defaults or {})}
    return Catalogue([Unit("probe", "探针", "Probe", "test unit", variants)])


def test_render_fills_each_slot_with_the_chosen_variant_and_parameters() -> None:
    choices = {"countdown": "on", "stock_left": "on", "loyal_price": "off"}
    text = render(f"【爆款】{URGENCY}！", choices, CATALOGUE, {"stock_left": {"stock": 2}})
    assert text == "【爆款】今天24点前下单，锁定双11同价只剩最后2件！"


def test_params_override_defaults_per_unit_and_accept_numbers() -> None:
    params = {"reminder_reason": {"price": 59.9}, "sms_opener": {"buyer": "李先生"}}
    choices = {"sms_opener": "named", "reminder_reason": "price"}
    text = render("{sms_opener}{reminder_reason}", choices, CATALOGUE, params)
    assert text == "李先生，您拍下的宝贝还未付款，当前价格59.9元已为您锁定，24小时内付款有效。"


def test_fab_order_reorders_the_products_own_sentences() -> None:
    sentences = {"feature": "F。", "advantage": "A。", "benefit": "B。"}
    rendered = {
        key: render("{fab_order}", {"fab_order": key}, CATALOGUE, {"fab_order": sentences})
        for key in ("fab", "afb", "bfa", "baf")
    }
    assert rendered == {
        "fab": "F。A。B。",
        "afb": "A。F。B。",
        "bfa": "B。F。A。",
        "baf": "B。A。F。",
    }


def test_a_unit_used_twice_in_the_template_renders_twice() -> None:
    assert (
        render("{stock_left}/{stock_left}", {"stock_left": "on"}, CATALOGUE)
        == "只剩最后3件/只剩最后3件"
    )


def test_check_choices_returns_each_units_text() -> None:
    units = check_choices({"countdown": "off", "loyal_price": "on"}, CATALOGUE)
    assert units == {"countdown": "", "loyal_price": "老客专享价99元"}


@pytest.mark.parametrize(
    ("template", "choices", "params", "named"),
    [
        ("{nope}", {"nope": "on"}, None, "unknown unit 'nope'"),
        ("{countdown}", {"countdown": "maybe"}, None, "no variant 'maybe' (variants: off, on"),
        ("{countdown}{stock_left}", {"countdown": "on"}, None, "without a choice: stock_left"),
        ("{countdown}", {"countdown": "on", "stock_left": "on"}, None, "no slot for: stock_left"),
        (
            "{countdown}",
            {"countdown": "on"},
            {"stock_left": {"stock": 1}},
            "not chosen: stock_left",
        ),
        ("{stock_left}", {"stock_left": "on"}, {"stock_left": {"stok": 1}}, "no parameter stok"),
        ("{stock_left}", {"stock_left": "on"}, {"stock_left": {"stock": True}}, "not bool"),
        ("{stock_left}", {"stock_left": "on"}, {"stock_left": {"stock": None}}, "not NoneType"),
    ],
)
def test_errors_name_the_culprit(
    template: str, choices: dict[str, str], params: dict | None, named: str
) -> None:
    with pytest.raises(ValueError) as raised:
        render(template, choices, CATALOGUE, params)
    assert named in str(raised.value)


def test_a_parameter_without_default_or_value_is_named() -> None:
    catalogue = catalogue_with("为{buyer}保留{hours}小时", {"hours": 24})
    with pytest.raises(ValueError, match="'probe' variant 'on' needs parameter buyer"):
        render("{probe}", {"probe": "on"}, catalogue)
    assert (
        render("{probe}", {"probe": "on"}, catalogue, {"probe": {"buyer": "您"}})
        == "为您保留24小时"
    )
    assert render("{probe}", {"probe": "off"}, catalogue) == "", "off uses no parameter"


@pytest.mark.parametrize("field", ["{x.__class__}", "{0}", "{stock.__init__.__globals__}", "{}"])
def test_format_fields_in_a_template_are_errors_not_lookups(field: str) -> None:
    with pytest.raises(ValueError, match="unescaped '{'"):
        render(f"{{stock_left}}{field}", {"stock_left": "on"}, CATALOGUE)


@pytest.mark.parametrize("field", ["{stock.__class__}", "{0}", "{stock.__init__.__globals__}"])
def test_format_fields_in_a_variant_text_never_touch_the_value(field: str) -> None:
    spy = Spy()
    with pytest.raises(ValueError, match="unescaped '{'"):
        render("{probe}", {"probe": "on"}, catalogue_with(field), {"probe": {"stock": spy}})
    assert spy.touched == []


def test_an_object_as_parameter_value_is_refused_without_being_touched() -> None:
    spy = Spy()
    with pytest.raises(ValueError, match="must be str, int or float, not Spy"):
        render("{probe}", {"probe": "on"}, catalogue_with("{stock}"), {"probe": {"stock": spy}})
    assert spy.touched == []


def test_doubled_braces_are_literal_braces() -> None:
    template = "{{stock_left}} {{x.__class__}} {{0}} {stock_left}"
    assert (
        render(template, {"stock_left": "on"}, CATALOGUE)
        == "{stock_left} {x.__class__} {0} 只剩最后3件"
    )
    assert render("{probe}", {"probe": "on"}, catalogue_with("{{{n}}}", {"n": 7})) == "{7}"


def test_parameter_values_are_not_expanded_again() -> None:
    params = {"stock_left": {"stock": "{stock}"}, "countdown": {"event": "{stock_left}"}}
    text = render(
        "{countdown}|{stock_left}", {"countdown": "on", "stock_left": "on"}, CATALOGUE, params
    )
    assert text == "今天24点前下单，锁定{stock_left}同价|只剩最后{stock}件"


def test_chinese_text_round_trips_code_point_for_code_point() -> None:
    template = "𠮷野家「限时」：{stock_left}——￥、，。！\u3000{loyal_price}😀"
    params = {"stock_left": {"stock": "叁"}, "loyal_price": {"price": "九十九"}}
    text = render(template, {"stock_left": "on", "loyal_price": "on"}, CATALOGUE, params)
    expected = "𠮷野家「限时」：只剩最后叁件——￥、，。！\u3000老客专享价九十九元😀"
    assert [ord(char) for char in text] == [ord(char) for char in expected]
    assert text.encode("utf-8").decode("utf-8") == expected
