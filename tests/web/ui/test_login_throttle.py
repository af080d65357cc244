"""The sign-in page under password guessing, on both backends: after 5 failures an attempt
during the wait is a 429 with Retry-After and a clear message, the right password works once
the wait is over, and the count is in the database, so two app instances (two workers)
share it. The clock is mocked, nothing sleeps.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from experiments.users import create_user
from tests.web.ui.conftest import PASSWORD, csrf_token
from web.ui import auth

WRONG = "not-the-password"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sign-in clock, set by the test: ``clock[0]`` is now (epoch seconds)."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(auth, "clock", lambda: now[0])
    return now


def try_password(client: FlaskClient, username: str, password: str,
                 address: str = "192.0.2.7") -> Any:
    return client.post("/login", headers={"Accept-Language": "en"},
                       environ_base={"REMOTE_ADDR": address},
                       data={"username": username, "password": password,
                             "csrf_token": csrf_token(client)})


def test_five_failures_then_wait_then_the_right_password_works(
    app: Flask, accounts: dict[str, str], clock: list[float]
) -> None:
    client = app.test_client()
    for _ in range(5):
        answer = try_password(client, "ed", WRONG)
        assert answer.status_code == 200
        assert "Wrong user name or password." in answer.get_data(as_text=True)
    for password in (WRONG, PASSWORD):  # during the wait even the right one is refused
        refused = try_password(client, "ed", password)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
        assert "Too many failed sign-ins" in refused.get_data(as_text=True)
        assert "Try again in 1 s." in refused.get_data(as_text=True)
    clock[0] += 1
    assert try_password(client, "ed", PASSWORD).status_code == 302
    assert client.get("/experiments").status_code == 200


def test_the_wait_doubles_with_each_further_failure(
    app: Flask, accounts: dict[str, str], clock: list[float]
) -> None:
    client = app.test_client()
    for _ in range(5):
        try_password(client, "ed", WRONG)
    waits = []
    for _ in range(4):
        waits.append(int(try_password(client, "ed", WRONG).headers["Retry-After"]))
        clock[0] += waits[-1]
        assert try_password(client, "ed", WRONG).status_code == 200
    assert waits == [1, 2, 4, 8]


def test_two_app_instances_share_the_count(
    make_app: Callable[..., Flask], clock: list[float]
) -> None:
    """Two workers on one database: failures on either count for both."""
    first, second = make_app(), make_app()
    with first.extensions["abtest"].session_factory.begin() as session:
        create_user(session, "ed", PASSWORD, "editor")
    clients = [first.test_client(), second.test_client()]
    for number in range(5):
        assert try_password(clients[number % 2], "ed", WRONG).status_code == 200
    for client in clients:
        assert try_password(client, "ed", PASSWORD).status_code == 429
    clock[0] += 1
    assert try_password(clients[1], "ed", PASSWORD).status_code == 302


def test_the_account_is_slowed_from_every_network(
    app: Flask, accounts: dict[str, str], clock: list[float]
) -> None:
    client = app.test_client()
    for number in range(5):
        try_password(client, "ed", WRONG, address=f"198.51.100.{number}")
    assert try_password(client, "ed", PASSWORD, address="203.0.113.9").status_code == 429
    assert try_password(client, "vi", PASSWORD, address="203.0.113.9").status_code == 302


def test_the_network_is_slowed_for_every_account(
    app: Flask, accounts: dict[str, str], clock: list[float]
) -> None:
    """Guessing across accounts (a password spray) from one address: the address waits,
    also for names that do not exist; other addresses do not."""
    client = app.test_client()
    for name in ("ed", "vi", "ada", "nobody", "ghost"):
        try_password(client, name, WRONG)
    assert try_password(client, "vi", PASSWORD).status_code == 429
    assert try_password(client, "vi", PASSWORD, address="203.0.113.9").status_code == 302


@pytest.mark.parametrize("encoded_name", ["ed%00", "%ED%B3%BF", "%FF%FE", "x" * 5000])
def test_a_hostile_user_name_is_a_wrong_password_not_a_500(
    app: Flask, accounts: dict[str, str], encoded_name: str
) -> None:
    """NUL, an encoded lone surrogate, bytes that are not UTF-8, a huge name: as a raw form
    body, the way a script would send them."""
    client = app.test_client()
    body = f"username={encoded_name}&password={WRONG}&csrf_token={csrf_token(client)}"
    answer = client.post("/login", data=body, headers={"Accept-Language": "en"},
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert "Wrong user name or password." in answer.get_data(as_text=True)


def test_an_incomplete_form_is_not_counted(
    app: Flask, accounts: dict[str, str], clock: list[float]
) -> None:
    """Only a password actually checked counts: empty fields or a missing CSRF token do not."""
    client = app.test_client()
    for _ in range(10):
        client.post("/login", data={"username": "ed", "password": PASSWORD})  # no token
        try_password(client, "ed", "")
    assert try_password(client, "ed", PASSWORD).status_code == 302
