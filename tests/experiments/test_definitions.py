"""Definition validation: shape (pydantic) and cross-field/catalogue rules name the field."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from experiments.definitions import parse_definition
from experiments.errors import InvalidInput

PLAYBOOKS = Path(__file__).resolve().parents[2] / "experiments" / "playbooks"


def minimal(**changes: object) -> dict:
    base = {
        "key": "stock-test",
        "name": "库存提示",
        "template": "亲，{stock_left}",
        "units": [{"unit": "stock_left", "variants": ["off", "on"], "params": {"stock": 3}}],
        "metrics": {"primary": {"name": "conversion", "kind": "binary"}},
    }
    return {**base, **changes}


@pytest.mark.parametrize("path", sorted(PLAYBOOKS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_playbook_is_valid(path: Path) -> None:
    design = parse_definition(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert design.definition.key == path.stem
    assert len(set(design.texts)) == len(design.arms)  # every arm says something different


def test_playbooks_have_the_promised_designs(playbook) -> None:
    urgency = parse_definition(playbook("urgency-close"))
    assert len(urgency.arms) == 8
    assert urgency.arm_keys[0] == "countdown=off|stock_left=off|loyal_price=off"
    assert urgency.definition.allocation.mode == "thompson"
    assert urgency.definition.metrics.guardrails[0].name == "complaint"
    assert len(parse_definition(playbook("fab-order")).arms) == 4
    assert parse_definition(playbook("sms-opener")).definition.metrics.primary.name == "payment"


def test_arms_render_with_params_and_control_defaults_to_first() -> None:
    design = parse_definition(minimal())
    assert design.arm_keys == ("stock_left=off", "stock_left=on")
    assert design.texts == ("亲，", "亲，只剩最后3件")
    assert design.control == 0
    assert design.default_weights() == [0.5, 0.5]


def test_explicit_arms_and_control() -> None:
    definition = minimal(
        template="{countdown}{stock_left}",
        units=[{"unit": "countdown", "variants": ["off", "on"]},
               {"unit": "stock_left", "variants": ["off", "on"]}],
        design="arms",
        arms=[{"countdown": "off", "stock_left": "off"}, {"countdown": "on", "stock_left": "on"}],
        control="countdown=on|stock_left=on",
        weights=[0.2, 0.8],
    )
    design = parse_definition(definition)
    assert design.arm_keys == ("countdown=off|stock_left=off", "countdown=on|stock_left=on")
    assert design.control == 1


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"units": [{"unit": "stock_left", "variants": ["off", "maybe"]}]},
         "units.0.variants.1", "unknown variant 'maybe' of unit 'stock_left'"),
        ({"units": [{"unit": "nope", "variants": ["a"]}]}, "units.0.unit", "unknown unit 'nope'"),
        ({"units": [{"unit": "stock_left", "variants": ["on"], "params": {"stok": 3}}]},
         "units.0.params", "no parameter stok"),
        ({"template": "{countdown}"}, "template", "countdown"),
        ({"template": "no slots"}, "template", "stock_left"),
        ({"weights": [1.0]}, "weights", "1 weights for 2 arms"),
        ({"weights": [0.5, 0.6]}, "weights", "sum to 1.1"),
        ({"control": "stock_left=maybe"}, "control", "not an arm"),
        ({"arms": [{"stock_left": "on"}]}, "arms", "factorial design takes no arms"),
        ({"design": "arms"}, "arms", "needs a non-empty arms list"),
        ({"design": "arms", "arms": [{"stock_left": "on"}, {"stock_left": "on"}]}, "arms",
         "repeats"),
        ({"targeting": {"country": {"$bogus": 1}}}, "targeting", ""),
        ({"coverage": 1.5}, "coverage", "less than or equal to 1"),
        ({"layer": {"name": "chat", "range": [0.6, 0.2]}}, "layer", "start < end"),
        ({"key": "Bad Key"}, "key", "pattern"),
        ({"metrics": {"primary": {"name": "conversion", "kind": "ratio"}}},
         "metrics.primary.kind", "binary"),
        ({"allocation": {"mode": "thompson", "floor": 0.6}}, "allocation.floor", "exceeds 1"),
        ({"surprise": 1}, "surprise", "Extra inputs"),
    ],
)
def test_bad_definitions_name_the_field(changes: dict, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_definition(minimal(**changes))
    fields = [issue.field for issue in caught.value.issues]
    assert caught.value.field == field or field in fields, fields
    assert words in " ".join(issue.message for issue in caught.value.issues)
