"""The weekly report rendered by headless Chromium: it loads nothing from the network, the
Chinese text and the charts show, and a full-page screenshot is kept under artifacts/."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from experiments.reports import build_weekly_report, write_report
from tests.e2e.conftest import screenshot
from tests.experiments.report_seed import KEY, WEEK, seed_week


def test_report_renders_offline_with_chinese_and_charts(session: Session, playbook, page: Any,
                                                        browser_errors, tmp_path: Path) -> None:
    seed_week(session, playbook)
    report = build_weekly_report(session, WEEK, now=WEEK.end + timedelta(hours=8))
    [path] = write_report(report, tmp_path, ["html"])
    requested: list[str] = []

    def refuse(route: Any) -> None:
        requested.append(route.request.url)
        route.abort()

    page.route("http*://**", refuse)
    page.goto(path.as_uri())
    assert page.locator("h1").inner_text() == f"话术实验周报 · {WEEK.label}"
    assert page.locator(f"section#{KEY} h3").first.inner_text() == "流量与曝光"
    images = page.locator("img")
    assert images.count() == 4
    widths = images.evaluate_all("imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
    assert all(width > 300 for width in widths), widths
    shot = screenshot(page, f"weekly_report_{WEEK.label}")
    assert shot.stat().st_size > 50_000
    assert requested == [] and browser_errors.page_errors == []
