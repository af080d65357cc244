"""The experiment form: create and edit through the real schema and compile_design, errors next
to their field with nothing saved, the live preview and the sample-size calculator."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

import variants
from abtest.stats.power import days_needed, sample_size
from experiments.definitions import parse_definition
from tests.web.ui.conftest import count_experiments, post_form, stored
from web.ui.definition_form import anchor, form_values, read_form

NEW = "/experiments/-/new"
URGENCY_FIELDS: dict[str, Any] = {
    "key": "urgency-close",
    "name": "催单收尾话术（紧迫感组合）",
    "hypothesis": "对犹豫中的顾客，同时给出截止时间和真实库存能提高下单转化；"
                  "老客价对复购顾客额外有效， 但三者叠加可能显得“套路”，投诉率不能上升。",
    "template": "亲，{countdown}{stock_left}{loyal_price}拍下后48小时内发货哦～",
    "units.countdown.variants": ["off", "on"],
    "units.countdown.params.deadline": "24点",
    "units.countdown.params.event": "双11",
    "units.stock_left.variants": ["off", "on"],
    "units.stock_left.params.stock": "3",
    "units.loyal_price.variants": ["off", "on"],
    "units.loyal_price.params.price": "89",
    "design": "factorial",
    "targeting.channel": ["chat", "qianniu"],
    "coverage": "1.0",
    "layer.name": "chat-close", "layer.start": "0.0", "layer.end": "1.0",
    "metrics.primary.name": "conversion", "metrics.primary.kind": "binary",
    "metrics.primary.higher_is_better": "on",
    "metrics.secondary.0.name": "revenue", "metrics.secondary.0.kind": "numeric",
    "metrics.secondary.0.higher_is_better": "on",
    "metrics.secondary.1.name": "", "metrics.secondary.1.kind": "binary",
    "metrics.guardrails.0.name": "complaint", "metrics.guardrails.0.kind": "binary",
    "allocation.mode": "thompson", "allocation.period_hours": "24",
    "allocation.floor": "0.07", "allocation.min_units": "200",
    "promotion.enabled": "on", "promotion.probability_best": "0.9",
    "promotion.min_units_per_arm": "500",
    "ss-baseline": "", "ss-mde": "", "ss-traffic": "", "ss-arms": "2",
}


def urgency(**changes: Any) -> dict[str, Any]:
    return {**URGENCY_FIELDS, **changes}


def test_created_definition_equals_what_the_api_stores(
    app: Flask, editor: FlaskClient, playbook: Callable[[str], dict[str, Any]]
) -> None:
    answer = post_form(editor, NEW, urgency(), NEW)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    assert answer.headers["Location"] == "/experiments/urgency-close"
    experiment = stored(app, "urgency-close")
    api_stores = parse_definition(playbook("urgency-close")).definition.model_dump(mode="json")
    assert experiment is not None and experiment.definition == api_stores
    page = editor.get("/experiments/urgency-close").get_data(as_text=True)
    assert "亲，今天24点前下单，锁定双11同价只剩最后3件" in page


@pytest.mark.parametrize("key", ["urgency-close", "sms-opener", "fab-order"])
def test_form_values_read_back_into_the_same_definition(
    key: str, playbook: Callable[[str], dict[str, Any]]
) -> None:
    definition = parse_definition(playbook(key)).definition.model_dump(mode="json")
    parsed = read_form(form_values(definition), variants.load_catalogue())
    assert parsed.issues == []
    assert parse_definition(parsed.definition).definition.model_dump(mode="json") == definition


def test_targeting_fields_compile_into_the_condition_language() -> None:
    form = MultiDict([*MultiDict(urgency()).items(multi=True),
                      ("targeting.segment", "core"), ("targeting.segment", "dormant"),
                      ("targeting.hour_from", "22"), ("targeting.hour_to", "2"),
                      ("targeting.attr.0.key", "vip_level"), ("targeting.attr.0.op", "$gte"),
                      ("targeting.attr.0.value", "3"),
                      ("targeting.attr.1.key", "city"), ("targeting.attr.1.op", "$in"),
                      ("targeting.attr.1.value", "杭州, 上海")])
    targeting = read_form(form, variants.load_catalogue()).definition["targeting"]
    assert targeting == {"channel": {"$in": ["chat", "qianniu"]},
                         "segment": {"$in": ["core", "dormant"]},
                         "$or": [{"hour": {"$gte": 22}}, {"hour": {"$lt": 2}}],
                         "vip_level": {"$gte": 3}, "city": {"$in": ["杭州", "上海"]}}
    raw = MultiDict([*form.items(multi=True), ("targeting_json", '{"channel": "sms"}')])
    assert read_form(raw, variants.load_catalogue()).definition["targeting"] == {"channel": "sms"}


def test_errors_are_shown_next_to_their_fields_and_nothing_is_saved(
    app: Flask, editor: FlaskClient
) -> None:
    answer = post_form(editor, NEW, urgency(**{"key": "Not A Slug", "allocation.floor": "2"}),
                       NEW)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert 'id="error-key-1"' in page and "String should match pattern" not in page
    assert "“标识”只能使用小写字母、数字和连字符（-），以字母或数字开头，最多 64 个字符。" in page
    assert 'id="error-allocation-floor-1"' in page
    assert "“下限：每个组合最少份额”必须小于 1。" in page
    assert count_experiments(app) == 0
    # Schema fixed, catalogue and targeting rules broken: each message on its own field.
    answer = post_form(editor, NEW, urgency(targeting_json='{"channel": {"$bogus": 1}}'), NEW)
    assert 'id="error-targeting-1"' in answer.get_data(as_text=True)
    answer = post_form(editor, NEW, urgency(
        template="亲，{countdown}{stock_left}{loyal_price}{social_proof}"), NEW)
    page = answer.get_data(as_text=True)
    assert 'id="error-template-1"' in page and "social_proof" in page
    assert count_experiments(app) == 0
    assert 'value="urgency-close"' in page  # the form keeps what was typed
    editor.get("/language/en")
    english = post_form(editor, NEW, urgency(key="Not A Slug"), NEW).get_data(as_text=True)
    assert ("Key: use lower-case letters, digits and hyphens (-), starting with a letter or "
            "digit, at most 64." in english)


def test_malformed_form_only_input_is_reported_with_the_rest(
    app: Flask, editor: FlaskClient
) -> None:
    answer = post_form(editor, NEW, urgency(**{
        "design": "arms", "arms": "countdown=on|stock_left", "targeting_json": "{not json",
        "metrics.primary.name": ""}), NEW)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="error-arms-1"' in page and "malformed arm key" in page
    assert 'id="error-targeting_json-1"' in page and "“条件（JSON）”不是有效的 JSON" in page
    assert 'id="error-metrics-primary-name-1"' in page
    assert count_experiments(app) == 0


def test_a_duplicate_key_is_refused_on_the_key_field(app: Flask, editor: FlaskClient,
                                                     define: Callable[..., Any]) -> None:
    define("fab-order")
    answer = post_form(editor, NEW, urgency(key="fab-order", **{"layer.name": ""}), NEW)
    assert answer.status_code == 422
    assert 'id="error-key-1"' in answer.get_data(as_text=True)
    assert count_experiments(app) == 1


def test_editing_a_draft_prefills_and_audits_the_change(
    app: Flask, editor: FlaskClient, define: Callable[..., Any]
) -> None:
    define()
    form = editor.get("/experiments/urgency-close/edit").get_data(as_text=True)
    assert 'value="催单收尾话术（紧迫感组合）"' in form and "qianniu" in form
    answer = post_form(editor, "/experiments/urgency-close/edit",
                       urgency(name="收尾话术 v2", hypothesis="第一行\r\n第二行"),
                       "/experiments/urgency-close/edit")
    assert answer.status_code == 302
    assert stored(app, "urgency-close").name == "收尾话术 v2"
    assert stored(app, "urgency-close").definition["hypothesis"] == "第一行\n第二行"
    page = editor.get("/experiments/urgency-close", headers={"Accept-Language": "en"})
    text = page.get_data(as_text=True)
    assert "changed: name, hypothesis" in text


def test_preview_renders_every_arm_with_the_real_compiler(
    editor: FlaskClient, playbook: Callable[[str], dict[str, Any]]
) -> None:
    answer = post_form(editor, "/experiments/-/preview", urgency(key="", name=""), NEW)
    assert answer.status_code == 200
    design = parse_definition(playbook("urgency-close"))
    assert answer.json["arms"] == [{"key": key, "text": text} for key, text in
                                   zip(design.arm_keys, design.texts, strict=True)]
    assert len(answer.json["arms"]) == 8
    assert answer.json["arms"][0]["text"] == "亲，拍下后48小时内发货哦～"
    broken = post_form(editor, "/experiments/-/preview", urgency(template="{nope}"), NEW)
    assert broken.json["arms"] == [] and "template" in broken.json["errors"]


def test_preview_needs_the_editor_role(signed_in: Callable[[str], FlaskClient]) -> None:
    assert post_form(signed_in("vi"), "/experiments/-/preview", urgency(),
                     "/experiments").status_code == 403


def test_sample_size_calculator_uses_the_power_module(editor: FlaskClient) -> None:
    fields = {"ss-baseline": "5", "ss-mde": "10", "ss-traffic": "2000", "ss-arms": "8"}
    answer = post_form(editor, "/experiments/-/sample-size", fields, NEW)
    plan = sample_size("binary", 0.05, 0.10, arms=8)
    assert answer.status_code == 200
    assert answer.json["n_per_arm"] == plan.n_per_arm
    assert answer.json["days"] == days_needed(plan.n_per_arm, 2000, arms=8).days
    bad = post_form(editor, "/experiments/-/sample-size", {**fields, "ss-baseline": "150"}, NEW)
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["ss-baseline"]
    impossible = post_form(editor, "/experiments/-/sample-size", {**fields, "ss-baseline": "95"},
                           NEW)  # +10% of 95% is past 100%: the engine's reason, in Chinese
    [message] = impossible.json["errors"]["ss-mde"]
    assert impossible.status_code == 422 and "1.04" in message and "target" not in message


def test_calculator_errors_are_keyed_like_the_slots_on_the_form(editor: FlaskClient) -> None:
    """Each error's key is the id of a field whose ``error-<key>`` slot the form renders, so
    the page's script can show it beside that field."""
    blank = {"ss-baseline": "", "ss-mde": "abc", "ss-traffic": "0", "ss-arms": "1"}
    answer = post_form(editor, "/experiments/-/sample-size", blank, NEW)
    assert answer.status_code == 422
    form = editor.get(NEW).get_data(as_text=True)
    assert sorted(answer.json["errors"]) == sorted(blank)
    for field in answer.json["errors"]:
        assert f'id="{field}"' in form and f'id="error-{field}"' in form


@pytest.mark.parametrize(("path", "field"), [
    ("layer.range.0", "layer.range"), ("units.stock_left.params", "units.stock_left.params"),
    ("metrics.secondary.3.kind", "metrics.secondary.3.kind"), ("weights.2", "weights"),
    ("metrics.primary", "metrics"), ("allocation.thompson.floor", "allocation"), ("", "")])
def test_error_paths_find_their_field(path: str, field: str) -> None:
    assert anchor(path) == field


def test_blank_thompson_and_promotion_fields_show_and_take_the_schema_defaults(
    app: Flask, editor: FlaskClient
) -> None:
    page = editor.get(NEW).get_data(as_text=True)
    for name, shown in [("allocation.floor", "0.01"), ("allocation.period_hours", "24"),
                        ("promotion.probability_best", "0.95")]:
        assert f'name="{name}"' in page and f'placeholder="{shown}"' in page
    blank = urgency(**{"allocation.floor": "", "allocation.period_hours": "",
                       "promotion.probability_best": ""})
    assert post_form(editor, NEW, blank, NEW).status_code == 302
    definition = stored(app, "urgency-close").definition
    assert (definition["allocation"]["floor"], definition["allocation"]["period_hours"]) == (
        0.01, 24)
    assert definition["promotion"]["probability_best"] == 0.95
