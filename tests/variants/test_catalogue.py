"""The packaged unit catalogue and the validation of unit files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from variants import Catalogue, Unit, Variant, load_catalogue, render

REQUIRED_VARIANTS = {
    "countdown": {"off", "on"},
    "stock_left": {"off", "on"},
    "loyal_price": {"off", "on"},
    "social_proof": {"off", "on"},
    "fab_order": {"fab", "afb", "bfa", "baf"},
    "sms_opener": {"order_kept", "gift", "price_expiry", "named", "shop"},
    "reminder_reason": {"price", "gift", "how_to_pay", "forgot"},
}
CATALOGUE = load_catalogue()
EVERY_VARIANT = [
    (unit.key, variant_key) for unit in CATALOGUE.values() for variant_key in unit.variants
]


@pytest.mark.parametrize("unit_key", REQUIRED_VARIANTS)
def test_packaged_catalogue_holds_the_required_units(unit_key: str) -> None:
    unit = CATALOGUE[unit_key]
    assert unit.key == unit_key
    assert REQUIRED_VARIANTS[unit_key] <= set(unit.variants)
    assert all(variant.key == key for key, variant in unit.variants.items())
    assert unit.name and unit.name_en and unit.description


@pytest.mark.parametrize(("unit_key", "variant_key"), EVERY_VARIANT)
def test_every_variant_renders_with_its_defaults(unit_key: str, variant_key: str) -> None:
    variant = CATALOGUE[unit_key].variants[variant_key]
    text = render(f"<{{{unit_key}}}>", {unit_key: variant_key}, CATALOGUE)
    assert text.startswith("<") and text.endswith(">")
    for name in variant.parameters:
        assert str(variant.defaults[name]) in text
    assert "{" not in text and "}" not in text


@pytest.mark.parametrize("unit_key", ["countdown", "stock_left", "loyal_price", "social_proof"])
def test_binary_units_say_nothing_when_off(unit_key: str) -> None:
    assert render(f"[{{{unit_key}}}]", {unit_key: "off"}, CATALOGUE) == "[]"
    assert render(f"[{{{unit_key}}}]", {unit_key: "on"}, CATALOGUE) != "[]"


def test_fab_order_variants_put_the_sentences_in_the_order_their_key_names() -> None:
    sentence_by_letter = {"f": "feature", "a": "advantage", "b": "benefit"}
    for key, variant in CATALOGUE["fab_order"].variants.items():
        assert variant.parameters == tuple(sentence_by_letter[letter] for letter in key)
    assert CATALOGUE["fab_order"].parameters == ("feature", "advantage", "benefit")


def test_sms_openers_differ_within_the_first_seven_characters() -> None:
    openers = [
        render("{sms_opener}", {"sms_opener": key}, CATALOGUE)[:7]
        for key in CATALOGUE["sms_opener"].variants
    ]
    assert len(set(openers)) == len(openers), openers


def test_unit_parameters_collect_every_variant_parameter_once() -> None:
    assert CATALOGUE["stock_left"].parameters == ("stock",)
    assert CATALOGUE["social_proof"].parameters == ("n", "rate")


def test_default_catalogue_is_cached_and_read_only() -> None:
    assert load_catalogue() is CATALOGUE
    stock_left = CATALOGUE["stock_left"]
    with pytest.raises(TypeError):
        CATALOGUE["stock_left"] = stock_left  # type: ignore[index]
    with pytest.raises(TypeError):
        stock_left.variants["on"] = stock_left.variants["off"]  # type: ignore[index]
    with pytest.raises(TypeError):
        stock_left.variants["on"].defaults["stock"] = 99  # type: ignore[index]


def test_catalogue_rejects_two_units_with_one_key() -> None:
    unit = Unit("u", "单元", "Unit", "d", {"a": Variant("a", "甲"), "b": Variant("b", "乙")})
    with pytest.raises(ValueError, match="'u' appears twice"):
        Catalogue([unit, unit])


GOOD_UNIT = """\
key: teaser
name: 预告
name_en: Teaser
description: a test unit
variants:
  - key: "off"
    text: ""
  - key: "on"
    text: 还剩{n}件
    defaults: {n: 3}
"""


def write_unit(directory: Path, text: str, name: str = "teaser.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_directory_of_good_files_loads(tmp_path: Path) -> None:
    write_unit(tmp_path, GOOD_UNIT)
    catalogue = load_catalogue(str(tmp_path))
    assert list(catalogue) == ["teaser"]
    assert catalogue["teaser"].variants["on"] == Variant("on", "还剩{n}件", {"n": 3})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("key: [unclosed\n", "not readable YAML"),
        ("- just\n- a list\n", "valid dictionary"),
        (GOOD_UNIT.replace("name: 预告\n", ""), "name: Field required"),
        (GOOD_UNIT.replace("key: teaser", "key: other"), "must match the file name"),
        (GOOD_UNIT.replace('"off"', "off"), "quote the key"),
        (GOOD_UNIT.replace('text: ""', "text: 关"), "'off' must have an empty text"),
        (GOOD_UNIT.replace("{n: 3}", "{n: 3, m: 4}"), "does not use: m"),
        (GOOD_UNIT.replace("还剩{n}件", "还剩{0}件"), "unescaped '{'"),
        (GOOD_UNIT.replace("还剩{n}件", '"{n.__class__}"'), "unescaped '{'"),
        (GOOD_UNIT + '  - key: "on"\n    text: 又一个\n', "more than once: on"),
        (GOOD_UNIT.replace('key: "on"', "key: on-sale"), "variants.1.key"),
        (GOOD_UNIT.replace("{n: 3}", "{n: [3]}"), "variants.1.defaults.n"),
        (GOOD_UNIT + "colour: red\n", "colour: Extra inputs"),
        (GOOD_UNIT.split('  - key: "on"')[0], "variants: List should have at least 2 items"),
    ],
)
def test_a_bad_file_gives_a_value_error_naming_file_and_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    bad = write_unit(tmp_path, text)
    with pytest.raises(ValueError) as raised:
        load_catalogue(tmp_path)
    assert str(bad) in str(raised.value)
    assert problem in str(raised.value)


def test_a_file_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "latin.yaml"
    bad.write_bytes(GOOD_UNIT.encode("gb18030"))
    with pytest.raises(ValueError, match="latin.yaml: not readable YAML"):
        load_catalogue(tmp_path)


def test_an_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no unit files"):
        load_catalogue(tmp_path)


def test_importing_variants_loads_neither_flask_nor_sqlalchemy() -> None:
    code = (
        "import sys, variants; variants.load_catalogue();"
        " print(sorted(m for m in ('flask', 'sqlalchemy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
