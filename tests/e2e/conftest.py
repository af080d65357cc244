"""Real-browser fixtures: the app on a live port, Debian's Chromium driven by Playwright.

``live_server`` serves a fresh app (werkzeug ``make_server`` on port 0, in a daemon thread) on
the db fixtures' database, so these tests run on SQLite and, where configured, PostgreSQL. The
browser is ``CHROMIUM_PATH`` (default /usr/bin/chromium; CI installs it); without it the tests
are skipped saying so (fail in CI). Nothing is downloaded: no ``playwright install``
(see ../shared/notes/ci-recipes.md, section A). Screenshots go to ``artifacts/`` at the repository
root (gitignored) for a human to look at.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from tests.conftest import missing_prerequisite
from tests.fixtures_db import issue_token

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROME_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
VIEWPORT = {"width": 1000, "height": 1100}


@dataclass(frozen=True)
class LiveServer:
    """A running app: its base URL, the app (for its database) and its storefront token."""

    url: str
    app: Flask
    storefront_token: str

    def transaction(self) -> AbstractContextManager[Session]:
        """A session on the app's database, committed on exit."""
        return self.app.extensions["abtest"].session_factory.begin()


@dataclass
class BrowserErrors:
    """What a page did that a test must notice: dialogs (alert = script ran), JS errors.

    A page watched with ``accept_confirms`` accepts confirm() dialogs as a user clicking OK
    would (the marketer's lifecycle buttons ask one) and lists them in ``confirmations``;
    any other dialog is still an unexpected one."""

    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    confirmations: list[str] = field(default_factory=list)

    def watch(self, page: Any, accept_confirms: bool = False) -> None:
        def on_dialog(dialog: Any) -> None:
            if accept_confirms and dialog.type == "confirm":
                self.confirmations.append(dialog.message)
                dialog.accept()
                return
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))

    def assert_none(self) -> None:
        """Fail if any watched page opened an unexpected dialog or threw a JS error."""
        assert self.dialogs == [], f"unexpected dialogs (did user text run?): {self.dialogs}"
        assert self.page_errors == [], f"JavaScript errors: {self.page_errors}"


@pytest.fixture
def live_server(make_app: Callable[..., Flask]) -> Iterator[LiveServer]:
    """The app on 127.0.0.1:<free port>, with a storefront key as its DEMO_API_KEY."""
    app = make_app()
    token = issue_token(app, "storefront")
    app.config["DEMO_API_KEY"] = token
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, token)
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        missing_prerequisite(f"Chromium not found at {CHROMIUM} (set CHROMIUM_PATH; CI installs "
                    "Debian's chromium): real-browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROME_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def browser_errors() -> BrowserErrors:
    return BrowserErrors()


@pytest.fixture
def new_page(browser: Any, browser_errors: BrowserErrors) -> Iterator[Callable[..., Any]]:
    """Factory of pages, each in its own context: a separate shopper (own localStorage)."""
    contexts: list[Any] = []

    def open_page(accept_confirms: bool = False) -> Any:
        context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        browser_errors.watch(page, accept_confirms)
        return page

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page PNG under artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
