"""User text is escaped everywhere; pages speak Chinese or English."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TRANSLATIONS = Path(__file__).resolve().parents[3] / "web" / "translations"


def test_user_text_is_escaped_on_list_form_and_page(
    editor: FlaskClient, define: Callable[..., Any], playbook: Callable[[str], dict[str, Any]]
) -> None:
    units = playbook("urgency-close")["units"]
    units[1]["params"] = {"stock": SCRIPT}
    define(name=SCRIPT, hypothesis=SCRIPT, units=units)
    for url in ("/experiments", "/experiments/urgency-close",
                "/experiments/urgency-close/edit"):
        page = editor.get(url).get_data(as_text=True)
        assert SCRIPT not in page, url
        assert ESCAPED in page, url
    page = editor.get("/experiments/urgency-close").get_data(as_text=True)
    assert f"只剩最后{ESCAPED}件" in page  # the rendered arm text, escaped too


def test_language_follows_the_browser_then_the_chosen_link(editor: FlaskClient) -> None:
    assert "新建实验" in editor.get("/experiments").get_data(as_text=True)  # default: Chinese
    english = editor.get("/experiments", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "New experiment" in english.get_data(as_text=True)
    chinese = editor.get("/experiments", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "新建实验" in chinese.get_data(as_text=True)
    switched = editor.get("/language/en?next=/experiments", headers={"Accept-Language": "zh-CN"})
    assert switched.headers["Location"] == "/experiments"
    page = editor.get("/experiments", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "New experiment" in page and 'lang="en"' in page
    assert editor.get("/language/zh?next=//evil.example").headers["Location"] == "/"
    assert "新建实验" in editor.get("/experiments").get_data(as_text=True)


def test_the_sign_in_page_is_translated_for_anonymous_visitors(client: FlaskClient) -> None:
    assert "用户名" in client.get("/login", headers={"Accept-Language": "zh"}).get_data(
        as_text=True)
    assert "User name" in client.get("/login", headers={"Accept-Language": "en"}).get_data(
        as_text=True)


def test_every_message_has_chinese_and_the_compiled_catalogues_are_current() -> None:
    with (TRANSLATIONS / "messages.pot").open("rb") as pot:
        wanted = {m.id for m in read_po(pot) if m.id}
    for language in ("zh", "en"):
        folder = TRANSLATIONS / language / "LC_MESSAGES"
        with (folder / "messages.po").open("rb") as po, (folder / "messages.mo").open("rb") as mo:
            source = {m.id: m.string for m in read_po(po) if m.id}
            compiled = {m.id: m.string for m in read_mo(mo) if m.id and m.string}
        assert set(source) == wanted, language
        assert compiled == {k: v for k, v in source.items() if v}, language
        if language == "zh":
            assert all(source.values()), [k for k, v in source.items() if not v]
