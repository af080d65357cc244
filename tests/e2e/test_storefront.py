"""The demo storefront in a real browser: shoppers see their Chinese script, buy, answer the
survey; everything lands in the database through the public API. Script parameters with markup
are shown as text and never run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select

from experiments.definitions import create_experiment, design_of, get_experiment
from experiments.lifecycle import start_experiment
from experiments.models import Assignment, Event, Feedback
from experiments.survey import survey_summary
from tests.e2e.conftest import BrowserErrors, LiveServer, screenshot
from tests.fixtures_db import issue_token
from variants.design import parse_arm_key

SHOPPERS = 3


def _start(server: LiveServer, definition: dict[str, Any]) -> dict[str, str]:
    """Create and start an experiment; its arm texts by arm key."""
    with server.transaction() as session:
        create_experiment(session, definition)
        design = design_of(start_experiment(session, definition["key"]))
        return dict(zip(design.arm_keys, design.texts, strict=True))


def _visit(page: Any, server: LiveServer, query: str = "") -> tuple[str, str]:
    """Open the store and wait for the assignment; (unit id, arm) as the page shows them."""
    page.goto(f"{server.url}/demo/store{query}")
    expect(page.locator("#arm")).not_to_have_text("")
    return page.locator("#unit-id").text_content(), page.locator("#arm").text_content()


def _buy_and_answer(page: Any, arm: str, comment: str, shot: str) -> str | None:
    """Buy, then answer the survey naming as moving the first unit the shopper heard (the
    survey offers only units whose variant says something); returns that unit."""
    page.get_by_role("button", name="立即购买").click()
    expect(page.locator("#order-status")).to_have_text("下单成功，谢谢惠顾！")
    expect(page.locator("#survey")).to_be_visible()
    heard = [unit for unit, variant in parse_arm_key(arm).items() if variant == "on"]
    offered = page.locator("#moved-by option").evaluate_all("os => os.map(o => o.value)")
    assert offered == ["", *heard]
    page.get_by_label("有帮助").check()
    page.get_by_label("打分（1–5）").select_option("5")
    moved = heard[0] if heard else None
    if moved:
        page.get_by_label("哪句话打动了你？").select_option(moved)
    page.get_by_label("还想说点什么（可选）").fill(comment)
    screenshot(page, shot)
    page.get_by_role("button", name="提交反馈").click()
    expect(page.locator("#survey-status")).to_have_text("谢谢你的反馈！")
    return moved


def test_shoppers_see_their_script_buy_and_answer_the_survey(
    live_server: LiveServer, new_page: Callable[[], Any], browser_errors: BrowserErrors,
    playbook: Callable[[str], dict[str, Any]],
) -> None:
    texts = _start(live_server, playbook("urgency-close"))
    seen: dict[str, str] = {}
    moved: dict[str, str] = {}
    for i in range(SHOPPERS):
        page = new_page()
        unit, arm = _visit(page, live_server, "?channel=chat")
        expect(page.locator("#script")).to_have_text(texts[arm])
        expect(page.locator("#in-experiment")).to_have_text("in experiment")
        named = _buy_and_answer(page, arm, f"第{i}位顾客：话术很自然", f"demo_store_survey_{i}")
        if named:
            moved[unit] = named
        screenshot(page, f"demo_store_shopper_{i}")
        assert _visit(page, live_server, "?channel=chat") == (unit, arm), "not sticky"
        seen[unit] = arm

    assert len(seen) == SHOPPERS, "each browser context is a new shopper"
    with live_server.transaction() as session:
        experiment = get_experiment(session, "urgency-close")
        assigned = dict(session.execute(select(Assignment.unit_id, Assignment.arm).where(
            Assignment.experiment_id == experiment.id)).all())
        events = session.execute(select(Event.unit_id, Event.name, Event.value)).all()
        feedback = session.scalars(select(Feedback)).all()
        summary = survey_summary(session, "urgency-close")
    assert assigned == seen
    assert sorted((u, n) for u, n, _ in events) == sorted(
        (u, n) for u in seen for n in ("conversion", "revenue"))
    assert {v for _, n, v in events if n == "revenue"} == {199.0}
    assert {(f.unit_id, f.arm, f.rating, f.helpful) for f in feedback} == {
        (u, a, 5, True) for u, a in seen.items()}
    assert summary.overall.responses == SHOPPERS and summary.overall.csat == 1.0
    assert {(f.unit_id, f.moved_by, f.moved_by_variant) for f in feedback if f.moved_by} == {
        (u, m, "on") for u, m in moved.items()}
    assert sum(c.count for c in summary.moved) == len(moved)
    assert [c.comment for c in summary.comments] == [
        f"第{i}位顾客：话术很自然" for i in reversed(range(SHOPPERS))]
    assert browser_errors.page_errors == []


def test_results_api_counts_the_purchases(
    live_server: LiveServer, page: Any, playbook: Callable[[str], dict[str, Any]],
) -> None:
    _start(live_server, playbook("urgency-close"))
    _visit(page, live_server, "?unit=shopper-42&segment=vip")
    expect(page.locator("#unit-id")).to_have_text("shopper-42")
    page.get_by_role("button", name="立即购买").click()
    expect(page.locator("#order-status")).to_have_text("下单成功，谢谢惠顾！")
    admin = {"Authorization": "Bearer " + issue_token(live_server.app, "admin")}
    answer = page.request.get(f"{live_server.url}/api/v1/experiments/urgency-close/results",
                              headers=admin)
    assert answer.ok, answer.text()
    document = answer.json()
    assert sum(document["units"]) == 1
    conversions = {a["arm"]: a["mean"] for a in document["metrics"][0]["arms"] if a["units"]}
    assert list(conversions.values()) == [1.0]


def test_shopper_outside_the_targeting_sees_the_control_script(
    live_server: LiveServer, page: Any, playbook: Callable[[str], dict[str, Any]],
) -> None:
    texts = _start(live_server, playbook("urgency-close"))
    _, arm = _visit(page, live_server, "?channel=app")
    expect(page.locator("#in-experiment")).to_have_text("not in experiment")
    control = next(iter(texts))
    assert arm == control
    expect(page.locator("#script")).to_have_text(texts[control])


def test_markup_in_a_script_parameter_is_shown_as_text(
    live_server: LiveServer, page: Any, browser_errors: BrowserErrors,
) -> None:
    attack = "<script>alert(1)</script>"
    image = "<img src=x onerror=alert(2)>"
    texts = _start(live_server, {
        "key": "xss-probe", "name": "XSS 探针", "template": "亲，{countdown}",
        "units": [{"unit": "countdown", "variants": ["on"],
                   "params": {"event": attack, "deadline": image}}],
        "metrics": {"primary": {"name": "conversion", "kind": "binary"}},
    })
    _visit(page, live_server, "?experiment=xss-probe")
    (text,) = texts.values()
    assert attack in text and image in text
    expect(page.locator("#script")).to_have_text(text)
    assert page.locator("#script img, #script script").count() == 0
    page.wait_for_timeout(300)  # let a broken image's onerror fire, were it markup
    screenshot(page, "demo_store_xss")
    assert browser_errors.dialogs == [], "a script parameter ran as code"
    assert browser_errors.page_errors == []


def test_unknown_experiment_is_reported_on_the_page(live_server: LiveServer, page: Any) -> None:
    page.goto(f"{live_server.url}/demo/store?experiment=no-such-test")
    expect(page.locator("#error")).to_contain_text("出错了：")
    expect(page.get_by_role("button", name="立即购买")).to_be_disabled()
