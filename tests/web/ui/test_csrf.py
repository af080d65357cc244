"""CSRF: every form POST needs the session's token; the bearer-key JSON API needs none."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.web.ui.conftest import PASSWORD, count_experiments, stored
from tests.web.ui.test_form import urgency


def test_a_form_post_without_token_is_refused_and_saves_nothing(
    app: Flask, editor: FlaskClient
) -> None:
    answer = editor.post("/experiments/-/new", data=urgency())
    assert answer.status_code == 400
    assert "CSRF" in answer.get_data(as_text=True)
    assert count_experiments(app) == 0


def test_a_wrong_token_is_refused(app: Flask, editor: FlaskClient) -> None:
    answer = editor.post("/experiments/-/new", data={**urgency(), "csrf_token": "forged"})
    assert answer.status_code == 400
    assert count_experiments(app) == 0


def test_actions_sign_in_and_json_helpers_need_the_token(
    app: Flask, editor: FlaskClient, accounts: dict[str, str], define: Callable[..., Any]
) -> None:
    define()
    answer = editor.post("/experiments/urgency-close/start", data={"confirm": "yes"})
    assert answer.status_code == 400
    assert stored(app, "urgency-close").status == "draft"
    assert editor.post("/experiments/-/preview", data=urgency()).status_code == 400
    anonymous = app.test_client()
    assert anonymous.post("/login", data={"username": "ed", "password": PASSWORD}).status_code \
        == 400


def test_the_json_api_uses_bearer_keys_not_csrf(
    app: Flask, client: FlaskClient, admin_headers: dict[str, str],
    playbook: Callable[[str], dict[str, Any]]
) -> None:
    answer = client.post("/api/v1/experiments", json=playbook("fab-order"), headers=admin_headers)
    assert answer.status_code == 201
    assert count_experiments(app) == 1
