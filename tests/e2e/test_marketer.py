"""The marketer's whole day in a real browser: sign in, compose urgency-close in the form (unit
picker, variants, parameters, live preview of every arm, sample-size calculator), start it, let
shoppers buy and answer the survey on the demo store, read their numbers on the experiment page
and the list, promote the winner (new shoppers then get it). A page POST without the CSRF token
is refused, and markup in an experiment's texts shows as text on every marketer page.

Every page the marketer opens is watched: an unexpected dialog or a JavaScript error fails the
test (the lifecycle buttons' confirm() dialogs are accepted, as the marketer would)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from abtest.stats.power import days_needed, sample_size
from experiments.definitions import create_experiment, design_of, get_experiment, parse_definition
from experiments.lifecycle import start_experiment
from experiments.models import Event, Feedback
from experiments.users import create_user
from tests.e2e.conftest import BrowserErrors, LiveServer, screenshot
from variants.design import parse_arm_key

PASSWORD = "correct horse battery staple"
TEMPLATE_HEAD, TEMPLATE_TAIL = "亲，", "拍下后48小时内发货哦～"
UNITS = {"countdown": {"deadline": "24点", "event": "双11"}, "stock_left": {"stock": "7"},
         "loyal_price": {"price": "89"}}
SHOPPERS = 4
CALCULATOR = {"baseline": 5.0, "mde": 10.0, "traffic": 2000}


@pytest.fixture
def marketer(live_server: LiveServer, new_page: Callable[..., Any],
             browser_errors: BrowserErrors) -> Iterator[Any]:
    """A signed-in editor's page, watched like every other page of the test."""
    with live_server.transaction() as session:
        create_user(session, "mei", PASSWORD, "editor")
    page = new_page(accept_confirms=True)
    page.goto(f"{live_server.url}/login")
    screenshot(page, "marketer_login")
    page.locator("#username").fill("mei")
    page.locator("#password").fill(PASSWORD)
    page.locator("#sign-in").click()
    expect(page).to_have_url(f"{live_server.url}/experiments")
    yield page
    browser_errors.assert_none()


def _expected_arms() -> list[tuple[str, str]]:
    """(arm key, text) of every arm the inputs below define, by the core's own compiler."""
    design = parse_definition({
        "key": "urgency-close", "name": "expected",
        "template": TEMPLATE_HEAD + "".join(f"{{{unit}}}" for unit in UNITS) + TEMPLATE_TAIL,
        "units": [{"unit": unit, "variants": ["off", "on"], "params": params}
                  for unit, params in UNITS.items()],
        "metrics": {"primary": {"name": "conversion", "kind": "binary"}}})
    return list(zip(design.arm_keys, design.texts, strict=True))


def _compose_script(page: Any) -> None:
    """Template through the unit picker, then the variants and parameters of each unit."""
    template = page.locator("#f-template")
    template.fill(TEMPLATE_HEAD)
    for unit in UNITS:
        page.locator("#unit-picker").select_option(unit)
        page.locator("#insert-unit").click()
    template.press("End")
    page.keyboard.insert_text(TEMPLATE_TAIL)
    expect(template).to_have_value(
        TEMPLATE_HEAD + "{countdown}{stock_left}{loyal_price}" + TEMPLATE_TAIL)
    for unit, params in UNITS.items():
        for variant in ("off", "on"):
            page.locator(f'input[name="units.{unit}.variants"][value="{variant}"]').check()
        for name, value in params.items():
            page.locator(f"#f-units-{unit}-params-{name}").fill(value)


def _check_preview(page: Any) -> None:
    """Every arm's text in the live preview; the stock number only where stock_left is on."""
    expected = _expected_arms()
    assert len(expected) == 8
    # retried until the debounced refresh after the last keystroke has landed
    expect(page.locator("#preview li .script")).to_have_text([text for _, text in expected])
    expect(page.locator("#preview li code")).to_have_text([key for key, _ in expected])
    expect(page.locator("#preview-status")).to_have_text(f"{len(expected)} arms")
    for key, text in expected:
        assert ("只剩最后7件" in text) == (parse_arm_key(key)["stock_left"] == "on"), text


def _check_calculator(page: Any) -> None:
    """A bad and a blank input get their message beside the field; good inputs the days."""
    expect(page.locator("#ss-arms")).to_have_value("8")  # filled in from the preview
    page.locator("#ss-baseline").fill("150")
    page.locator("#ss-mde").fill(str(CALCULATOR["mde"]))
    page.locator("#ss-traffic").fill("")
    page.locator("#estimate").click()
    expect(page.locator("#error-ss-baseline")).to_have_text("数值大小必须介于 0.01 到 99.99 之间。")
    expect(page.locator("#error-ss-traffic")).to_have_text("该字段是必填字段。")
    expect(page.locator("#error-ss-mde")).to_have_text("")
    expect(page.locator("#estimate-result")).to_have_text("")
    screenshot(page, "marketer_form_calculator_errors")

    for name, value in CALCULATOR.items():
        page.locator(f"#ss-{name}").fill(str(value))
    page.locator("#estimate").click()
    plan = sample_size("binary", CALCULATOR["baseline"] / 100, CALCULATOR["mde"] / 100, arms=8)
    days = days_needed(plan.n_per_arm, CALCULATOR["traffic"], arms=8).days
    expect(page.locator("#estimate-result")).to_have_text(
        f"按你的流量，大约需要 {days} 天（每个组合 {plan.n_per_arm} 位顾客）。")
    for name in CALCULATOR:
        expect(page.locator(f"#error-ss-{name}")).to_have_text("")


def _fill_urgency_close(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/experiments/-/new")
    page.locator("#f-key").fill("urgency-close")
    page.locator("#f-name").fill("催单收尾话术（紧迫感组合）")
    _compose_script(page)
    _check_preview(page)
    page.locator("#f-targeting-channel").select_option(["chat", "qianniu"])
    page.locator("#f-metrics-secondary-0-name").fill("revenue")
    page.locator("#f-metrics-secondary-0-kind").select_option("numeric")
    _check_calculator(page)
    screenshot(page, "marketer_form_with_preview")
    page.locator("#save").click()


@dataclass(frozen=True)
class Visit:
    """What one shopper saw and did on the demo store."""

    arm: str
    text: str
    paid: float | None
    rating: int
    helpful: bool
    moved: str | None
    confused: str | None


def _shop(new_page: Callable[..., Any], server: LiveServer, i: int) -> Visit:
    """Shopper ``i`` visits the store; the even ones buy and name the first unit they heard
    as moving, the odd ones do not buy and name it as confusing."""
    buy = i % 2 == 0
    page = new_page()
    page.goto(f"{server.url}/demo/store?channel=chat&unit=shopper-{i}")
    expect(page.locator("#arm")).not_to_have_text("")
    arm = page.locator("#arm").text_content()
    heard = [unit for unit, variant in parse_arm_key(arm).items() if variant == "on"]
    named = heard[0] if heard else None
    if buy:
        page.get_by_role("button", name="立即购买").click()
        expect(page.locator("#order-status")).to_have_text("下单成功，谢谢惠顾！")
    expect(page.locator("#survey")).to_be_visible()
    page.get_by_label("有帮助" if buy else "没帮助").check()
    rating = 4 if buy else 2
    page.get_by_label("打分（1–5）").select_option(str(rating))
    if named:
        page.get_by_label("哪句话打动了你？" if buy else "哪句话让你困惑？").select_option(named)
    page.get_by_role("button", name="提交反馈").click()
    expect(page.locator("#survey-status")).to_have_text("谢谢你的反馈！")
    return Visit(arm, page.locator("#script").text_content(),
                 float(page.locator("#price").text_content()) if buy else None, rating, buy,
                 named if buy else None, None if buy else named)


def _cells(rows: Any) -> list[list[str]]:
    return rows.evaluate_all(
        "trs => trs.map(tr => [...tr.cells].map(td => td.textContent.trim()))")


def _check_arm_numbers(page: Any, visits: list[Visit]) -> None:
    """Units, conversion rate and revenue per unit of each arm, as the shoppers made them."""
    units, bought, paid = Counter(), Counter(), defaultdict(float)
    for visit in visits:
        units[visit.arm] += 1
        bought[visit.arm] += visit.paid is not None
        paid[visit.arm] += visit.paid or 0.0
    conversion = {row[0].split()[0]: row for row in _cells(
        page.locator("#metric-conversion tbody tr"))}
    revenue = {row[0].split()[0]: row for row in _cells(page.locator("#metric-revenue tbody tr"))}
    assert sum(int(row[1]) for row in conversion.values()) == SHOPPERS
    for arm, count in units.items():
        assert conversion[arm][1:3] == [str(count), f"{100 * bought[arm] / count:.1f}%"], arm
        assert revenue[arm][1:3] == [str(count), f"{paid[arm] / count:.2f}"], arm
    assert any(bought.values())


def _check_survey(page: Any, visits: list[Visit]) -> None:
    """Responses, rating, helpful share and the named unit variants, as the shoppers answered."""
    ratings = [visit.rating for visit in visits]
    csat = sum(rating >= 4 for rating in ratings) / len(ratings)
    helpful = sum(visit.helpful for visit in visits) / len(visits)
    expect(page.locator("#survey-overall")).to_have_text(
        f"回答数: {len(visits)} · 平均评分: {sum(ratings) / len(ratings):.2f} · "
        f"CSAT: {100 * csat:.1f}% · 认为有帮助: {100 * helpful:.1f}%")
    for name, title in (("moved", "打动顾客的话术"), ("confused", "让顾客困惑的话术")):
        named = Counter(getattr(visit, name) for visit in visits if getattr(visit, name))
        ranked = sorted(named.items(), key=lambda item: (-item[1], item[0]))
        if not ranked:
            expect(page.locator(f"#survey-{name}")).to_have_count(0)
            continue
        expect(page.locator(f"#survey-{name}")).to_have_text(re.compile(
            rf"{title}:\s*" + r",\s*".join(rf"{unit}=on × {count}" for unit, count in ranked)))


def _check_list(page: Any, server: LiveServer, visits: list[Visit]) -> None:
    """Status, days running, traffic and a leader among the arms that converted best."""
    page.goto(f"{server.url}/experiments")
    (row,) = _cells(page.locator("#row-urgency-close"))
    units, bought = Counter(v.arm for v in visits), Counter(v.arm for v in visits if v.paid)
    best = max(bought[arm] / units[arm] for arm in units)
    assert row[1:4] == ["运行中", "0", str(SHOPPERS)]
    assert row[4] in {arm for arm in units if bought[arm] / units[arm] == best}, row
    screenshot(page, "marketer_experiments_list")


def test_define_start_sell_read_and_promote(
    live_server: LiveServer, marketer: Any, new_page: Callable[..., Any],
    browser_errors: BrowserErrors,
) -> None:
    _fill_urgency_close(marketer, live_server)
    expect(marketer.locator("#experiment-name")).to_have_text("催单收尾话术（紧迫感组合）")
    with marketer.expect_navigation():
        marketer.locator("#action-start").click()
    assert browser_errors.confirmations == ["确定要启动实验“催单收尾话术（紧迫感组合）”吗？"]
    with live_server.transaction() as session:
        experiment = get_experiment(session, "urgency-close")
        assert experiment.status == "running"
        texts = dict(zip(design_of(experiment).arm_keys, design_of(experiment).texts,
                         strict=True))
    assert list(texts.items()) == _expected_arms()

    visits = [_shop(new_page, live_server, i) for i in range(SHOPPERS)]
    for visit in visits:
        assert texts[visit.arm] == visit.text
    with live_server.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Event).where(
            Event.name == "conversion")) == sum(v.paid is not None for v in visits)
        assert session.scalar(select(func.count()).select_from(Feedback)) == SHOPPERS

    marketer.reload()
    _check_arm_numbers(marketer, visits)
    _check_survey(marketer, visits)
    expect(marketer.locator("#verdict")).to_have_text(re.compile(r"^结论:\s*\S+"))
    screenshot(marketer, "marketer_experiment_page")
    _check_list(marketer, live_server, visits)
    marketer.goto(f"{live_server.url}/reports")
    expect(marketer.locator("h1")).not_to_have_text("")
    screenshot(marketer, "marketer_reports")

    winner = next(v.arm for v in visits if v.paid is not None)
    marketer.goto(f"{live_server.url}/experiments/urgency-close")
    marketer.locator("#promote-arm").select_option(winner)
    with marketer.expect_navigation():
        marketer.locator("#action-promote").click()
    with live_server.transaction() as session:
        experiment = get_experiment(session, "urgency-close")
        assert (experiment.status, experiment.winner_arm) == ("promoted", winner)
    newcomer = new_page()
    newcomer.goto(f"{live_server.url}/demo/store?channel=chat&unit=after-promotion")
    expect(newcomer.locator("#script")).to_have_text(texts[winner])


def test_page_post_without_csrf_token_is_refused(
    live_server: LiveServer, marketer: Any, playbook: Callable[[str], dict[str, Any]],
) -> None:
    with live_server.transaction() as session:
        create_experiment(session, playbook("urgency-close"))
    answer = marketer.request.post(f"{live_server.url}/experiments/urgency-close/start",
                                   form={"confirm": "yes"}, max_redirects=0)
    assert answer.status == 400
    with live_server.transaction() as session:
        assert get_experiment(session, "urgency-close").status == "draft"
    marketer.goto(f"{live_server.url}/experiments/urgency-close")
    with marketer.expect_navigation():
        marketer.locator("#action-start").click()  # the page's own form carries the token
    with live_server.transaction() as session:
        assert get_experiment(session, "urgency-close").status == "running"


def test_markup_in_experiment_texts_shows_as_text_on_marketer_pages(
    live_server: LiveServer, marketer: Any, new_page: Callable[..., Any],
    browser_errors: BrowserErrors, playbook: Callable[[str], dict[str, Any]],
) -> None:
    script, image = "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"
    definition = playbook("urgency-close")
    definition.update(name=f"名称{script}", hypothesis=f"假设{image}")
    definition["units"][1]["params"] = {"stock": image}
    with live_server.transaction() as session:
        create_experiment(session, definition)
    texts = list(parse_definition(definition).texts)
    assert sum(image in text for text in texts) == 4

    marketer.goto(f"{live_server.url}/experiments")
    expect(marketer.locator("#row-urgency-close a")).to_have_text(definition["name"])
    marketer.goto(f"{live_server.url}/experiments/urgency-close/edit")
    expect(marketer.locator("#f-name")).to_have_value(definition["name"])
    expect(marketer.locator("#f-units-stock_left-params-stock")).to_have_value(image)
    expect(marketer.locator("#preview li .script")).to_have_text(texts)  # the live preview
    screenshot(marketer, "marketer_xss_form_preview")

    with live_server.transaction() as session:
        start_experiment(session, "urgency-close")
    comment = f"评论{script}{image}"
    shopper = new_page()
    shopper.goto(f"{live_server.url}/demo/store?channel=chat&unit=xss-shopper")
    shopper.get_by_role("button", name="立即购买").click()
    shopper.get_by_label("有帮助").check()
    shopper.get_by_label("打分（1–5）").select_option("5")
    shopper.get_by_label("还想说点什么（可选）").fill(comment)
    shopper.get_by_role("button", name="提交反馈").click()
    expect(shopper.locator("#survey-status")).to_have_text("谢谢你的反馈！")

    marketer.goto(f"{live_server.url}/experiments/urgency-close")
    expect(marketer.locator("#experiment-name")).to_have_text(definition["name"])
    expect(marketer.locator("#hypothesis")).to_have_text(definition["hypothesis"])
    expect(marketer.locator("#arms td.script")).to_have_text(texts)
    expect(marketer.locator("#survey .comments li")).to_have_text([f"5★ {comment}"])
    marketer.goto(f"{live_server.url}/experiments")
    expect(marketer.locator("#row-urgency-close a")).to_have_text(definition["name"])
    marketer.go_back()
    marketer.wait_for_timeout(300)  # let a broken image's onerror fire, were it markup
    assert marketer.locator('img[src="x"]').count() == 0
    assert marketer.locator("script", has_text="alert(").count() == 0
    screenshot(marketer, "marketer_xss_experiment_page")
    browser_errors.assert_none()

