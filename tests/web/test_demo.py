"""The /demo/store page: public, configured from DEMO_API_KEY, settings passed as escaped JSON,
and the page and snippet served; the browser behaviour is in tests/e2e."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.app import create_app
from web.demo import ENV_VARIABLE


def _settings(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="demo-settings">(.*?)</script>', html,
                      re.S)
    assert found, "the settings JSON is missing"
    return json.loads(found.group(1))


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Apps on one SQLite file: the page reads no table, so PostgreSQL adds nothing here."""
    apps: list[Flask] = []

    def build(**config: Any) -> Flask:
        apps.append(create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
                                "TESTING": True, **config}))
        return apps[-1]

    yield build
    for app in apps:
        app.extensions["abtest"].engine.dispose()


@pytest.fixture
def demo(make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(DEMO_API_KEY="sf_demo_token").test_client()


def test_store_page_is_public_and_carries_the_settings(demo: FlaskClient) -> None:
    page = demo.get("/demo/store")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    settings = _settings(html)
    assert settings["apiKey"] == "sf_demo_token"
    assert settings["endpoint"] == "http://localhost/api/v1"
    assert settings["experiment"] == "urgency-close"
    assert settings["attributes"] == {"channel": "chat"}
    assert settings["unitId"] is None
    assert settings["unitNames"]["stock_left"] == "库存紧张"
    assert settings["silentVariants"]["stock_left"] == ["off"]
    assert "/static/abtest.js" in html and "/static/demo/store.js" in html
    assert "这段话术对你有帮助吗？" in html and "哪句话打动了你？" in html


def test_query_parameters_choose_experiment_shopper_and_attributes(demo: FlaskClient) -> None:
    query = "?experiment=sms-opener&channel=qianniu&segment=vip&unit=shopper-7"
    settings = _settings(demo.get(f"/demo/store{query}").get_data(as_text=True))
    assert settings["experiment"] == "sms-opener"
    assert settings["attributes"] == {"channel": "qianniu", "segment": "vip"}
    assert settings["unitId"] == "shopper-7"


def test_markup_in_query_parameters_stays_inside_the_json(demo: FlaskClient) -> None:
    payload = "</script><script>alert(1)</script>"
    html = demo.get("/demo/store", query_string={"experiment": payload}).get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert _settings(html)["experiment"] == payload


def test_without_a_key_the_page_explains_how_to_set_one(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VARIABLE, raising=False)
    html = make_app().test_client().get("/demo/store").get_data(as_text=True)
    assert "abtest apikey create --scope storefront" in html
    assert "DEMO_API_KEY" in html and ENV_VARIABLE in html
    assert 'id="demo-settings"' not in html


def test_the_key_can_come_from_the_environment(
    make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VARIABLE, "sf_from_env")
    html = make_app().test_client().get("/demo/store").get_data(as_text=True)
    assert _settings(html)["apiKey"] == "sf_from_env"


@pytest.mark.parametrize("path", ["/static/abtest.js", "/static/demo/store.js",
                                  "/static/demo/store.css"])
def test_static_files_are_served(demo: FlaskClient, path: str) -> None:
    answer = demo.get(path)
    assert answer.status_code == 200
    answer.close()


def test_snippet_inserts_text_only_as_text(demo: FlaskClient) -> None:
    """The page script must never turn server text into markup."""
    answer = demo.get("/static/demo/store.js")
    source = answer.get_data(as_text=True)
    answer.close()
    assert "innerHTML" not in source and "insertAdjacentHTML" not in source
    assert 'byId("script").textContent = result.text' in source
