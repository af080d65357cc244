"""The marketer's whole day in a real browser: sign in, define urgency-close through the form,
start it, let shoppers buy on the demo store, read the numbers on the experiment page, promote
the winner (new shoppers then get it). And a page POST without the CSRF token is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from experiments.definitions import create_experiment, design_of, get_experiment
from experiments.models import Event, Feedback
from experiments.users import create_user
from tests.e2e.conftest import VIEWPORT, LiveServer, screenshot

PASSWORD = "correct horse battery staple"
UNITS = {"countdown": {"deadline": "24点", "event": "双11"}, "stock_left": {"stock": "3"},
         "loyal_price": {"price": "89"}}
SHOPPERS = 4


@pytest.fixture
def marketer(live_server: LiveServer, browser: Any) -> Iterator[Any]:
    """A signed-in editor's page; confirm() dialogs are accepted as the marketer would."""
    with live_server.transaction() as session:
        create_user(session, "mei", PASSWORD, "editor")
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{live_server.url}/login")
    page.locator("#username").fill("mei")
    page.locator("#password").fill(PASSWORD)
    page.locator("#sign-in").click()
    expect(page).to_have_url(f"{live_server.url}/experiments")
    yield page
    context.close()


def _fill_urgency_close(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/experiments/-/new")
    page.locator("#f-key").fill("urgency-close")
    page.locator("#f-name").fill("催单收尾话术（紧迫感组合）")
    page.locator("#f-template").fill("亲，{countdown}{stock_left}{loyal_price}拍下后48小时内发货哦～")
    for unit, params in UNITS.items():
        for variant in ("off", "on"):
            page.locator(f'input[name="units.{unit}.variants"][value="{variant}"]').check()
        for name, value in params.items():
            page.locator(f"#f-units-{unit}-params-{name}").fill(value)
    page.locator("#f-targeting-channel").select_option(["chat", "qianniu"])
    page.locator("#f-metrics-secondary-0-name").fill("revenue")
    page.locator("#f-metrics-secondary-0-kind").select_option("numeric")
    page.locator("#save").click()


def _shop(new_page: Callable[[], Any], server: LiveServer, buy: bool) -> tuple[str, str]:
    """One shopper visits the store (buys, answers the survey); (arm, script text) seen."""
    page = new_page()
    page.goto(f"{server.url}/demo/store?channel=chat")
    expect(page.locator("#arm")).not_to_have_text("")
    if buy:
        page.get_by_role("button", name="立即购买").click()
        expect(page.locator("#order-status")).to_have_text("下单成功，谢谢惠顾！")
    expect(page.locator("#survey")).to_be_visible()
    page.get_by_label("没帮助" if not buy else "有帮助").check()
    page.get_by_label("打分（1–5）").select_option("4" if buy else "2")
    page.get_by_role("button", name="提交反馈").click()
    expect(page.locator("#survey-status")).to_have_text("谢谢你的反馈！")
    return page.locator("#arm").text_content(), page.locator("#script").text_content()


def _units_on_page(page: Any) -> dict[str, int]:
    rows = page.locator("#metric-conversion tbody tr")
    return {rows.nth(i).locator("td").nth(0).locator("code").text_content():
            int(rows.nth(i).locator("td").nth(1).text_content()) for i in range(rows.count())}


def test_define_start_sell_read_and_promote(
    live_server: LiveServer, marketer: Any, new_page: Callable[[], Any],
) -> None:
    _fill_urgency_close(marketer, live_server)
    expect(marketer.locator("#experiment-name")).to_have_text("催单收尾话术（紧迫感组合）")
    with marketer.expect_navigation():
        marketer.locator("#action-start").click()
    with live_server.transaction() as session:
        experiment = get_experiment(session, "urgency-close")
        assert experiment.status == "running"
        texts = dict(zip(design_of(experiment).arm_keys, design_of(experiment).texts,
                         strict=True))
    assert len(texts) == 8

    bought = [_shop(new_page, live_server, buy=i % 2 == 0) for i in range(SHOPPERS)]
    for arm, text in bought:
        assert texts[arm] == text

    marketer.reload()
    on_page = _units_on_page(marketer)
    assert sum(on_page.values()) == SHOPPERS
    for arm, _ in bought:
        assert on_page[arm] >= 1
    screenshot(marketer, "marketer_experiment_page")
    with live_server.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Event).where(
            Event.name == "conversion")) == SHOPPERS // 2
        assert session.scalar(select(func.count()).select_from(Feedback)) == SHOPPERS

    winner = bought[0][0]
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
