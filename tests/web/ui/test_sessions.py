"""Sessions end on the server: a copy of a session cookie saved before logout, a password
change or a role change no longer signs in (replayed on a fresh client, as an attacker who
copied it would), and a session left idle longer than the limit expires (clock mocked).
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from experiments.models import User
from experiments.users import create_user
from tests.web.ui.conftest import PASSWORD, post_form, sign_in
from web.cli import main
from web.ui import auth

PAGE = "/experiments"


def saved_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str) -> int:
    """Status of a page fetched by a fresh client that only has ``cookie``."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(PAGE).status_code


def test_a_cookie_saved_before_logout_no_longer_signs_in(
    app: Flask, signed_in: Callable[[str], FlaskClient]
) -> None:
    browser = signed_in("ed")
    copied = saved_cookie(browser)
    assert replay(app, copied) == 200  # the copy works while the session lives
    other_device = signed_in("ed")
    assert post_form(browser, "/logout", {}, PAGE).status_code == 302
    assert replay(app, copied) == 302
    assert other_device.get(PAGE).status_code == 302  # logout ends every session of the user
    assert signed_in("ed").get(PAGE).status_code == 200  # signing in again works


def test_logout_leaves_other_users_signed_in(
    signed_in: Callable[[str], FlaskClient]
) -> None:
    editor, viewer = signed_in("ed"), signed_in("vi")
    post_form(editor, "/logout", {}, PAGE)
    assert viewer.get(PAGE).status_code == 200


def test_a_password_change_ends_the_sessions(
    app: Flask, runner: CliRunner, signed_in: Callable[[str], FlaskClient]
) -> None:
    browser = signed_in("ed")
    copied = saved_cookie(browser)
    changed = runner.invoke(main, ["user", "set-password", "--username", "ed",
                                   "--password-stdin"], input="a-new-password\n")
    assert changed.exit_code == 0, changed.output
    assert "sessions are ended" in changed.output
    assert replay(app, copied) == 302
    assert browser.get(PAGE).status_code == 302
    assert sign_in(app.test_client(), "ed", PASSWORD).status_code == 200  # old one refused
    assert sign_in(app.test_client(), "ed", "a-new-password").status_code == 302


def test_a_role_change_ends_the_sessions(
    app: Flask, runner: CliRunner, signed_in: Callable[[str], FlaskClient]
) -> None:
    admin = signed_in("ada")
    copied = saved_cookie(admin)
    assert admin.get("/users").status_code == 200
    changed = runner.invoke(main, ["user", "set-role", "--username", "ada", "--role", "viewer"])
    assert changed.exit_code == 0, changed.output
    assert "ada is now viewer" in changed.output
    assert replay(app, copied) == 302
    assert admin.get("/users").status_code == 302  # signed out, not merely demoted
    again = signed_in("ada")
    assert again.get(PAGE).status_code == 200 and again.get("/users").status_code == 403


def test_the_cookie_must_name_the_current_token(app: Flask, accounts: dict[str, str]) -> None:
    """Signed cookies (the app's own key) differing only in the token: only the current one
    signs in, so the token, not the signature alone, decides."""
    with app.extensions["abtest"].session_factory() as session:
        user = session.query(User).filter_by(username="ed").one()
        user_id, token = user.id, user.session_token
    serializer = app.session_interface.get_signing_serializer(app)
    now = auth.clock()
    for cookie_id, status in [(f"{user_id}:{token}", 200), (f"{user_id}:{'0' * 32}", 302),
                              (str(user_id), 302), (f"{user_id}:", 302)]:
        forged = serializer.dumps({"_user_id": cookie_id, "_fresh": True, "last_seen": now})
        assert replay(app, forged) == status, cookie_id


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The sign-in clock, set by the test: ``clock[0]`` is now (epoch seconds)."""
    now = [1_800_000_000.0]
    monkeypatch.setattr(auth, "clock", lambda: now[0])
    return now


def test_an_idle_session_expires(
    app: Flask, clock: list[float], signed_in: Callable[[str], FlaskClient]
) -> None:
    limit = 30 * 60  # the default
    browser = signed_in("ed")
    copied = saved_cookie(browser)
    for _ in range(3):  # activity keeps the session alive past the limit in total
        clock[0] += limit - 1
        assert browser.get(PAGE).status_code == 200
    assert replay(app, copied) == 302  # an old copy has its own, older last request
    clock[0] += limit + 1
    expired = browser.get(PAGE, headers={"Accept-Language": "en"}, follow_redirects=True)
    assert expired.request.path == "/login"
    assert "signed out after 30 minutes without activity" in expired.get_data(as_text=True)
    assert browser.get(PAGE).status_code == 302  # stays signed out
    assert sign_in(browser, "ed").status_code == 302 and browser.get(PAGE).status_code == 200


def test_the_idle_limit_comes_from_the_environment(
    make_app: Callable[..., Flask], clock: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABTEST_SESSION_IDLE_MINUTES", "2")
    app = make_app()
    assert app.config["SESSION_IDLE_MINUTES"] == 2
    with app.extensions["abtest"].session_factory.begin() as session:
        create_user(session, "ed", PASSWORD, "editor")
    browser = app.test_client()
    assert sign_in(browser, "ed").status_code == 302
    clock[0] += 119
    assert browser.get(PAGE).status_code == 200
    clock[0] += 121
    assert browser.get(PAGE).status_code == 302


@pytest.mark.parametrize("value", ["0", "-5", "soon", "nan", "inf"])
def test_a_bad_idle_limit_fails_at_start(make_app: Callable[..., Flask],
                                         monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ABTEST_SESSION_IDLE_MINUTES", value)
    with pytest.raises(ValueError, match="ABTEST_SESSION_IDLE_MINUTES"):
        make_app()


def test_changing_an_unknown_user_or_a_too_short_password_is_refused(
    runner: CliRunner, accounts: dict[str, str]
) -> None:
    unknown = runner.invoke(main, ["user", "set-role", "--username", "nobody", "--role",
                                   "admin"])
    assert unknown.exit_code == 1 and "user: username: no user 'nobody'" in unknown.output
    short = runner.invoke(main, ["user", "set-password", "--username", "ed",
                                 "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "user: password: at least 8 characters" in short.output
    bad_role = runner.invoke(main, ["user", "set-role", "--username", "ed", "--role", "root"])
    assert bad_role.exit_code == 2


def test_a_role_change_on_the_users_page_ends_the_sessions(
    app: Flask, signed_in: Callable[[str], FlaskClient]
) -> None:
    editor, admin = signed_in("ed"), signed_in("ada")
    copied = saved_cookie(editor)
    admin.get("/language/en")
    changed = post_form(admin, "/users/ed/role", {"role": "viewer"}, "/users")
    assert changed.status_code == 302
    page = admin.get("/users").get_data(as_text=True)
    assert "ed is now viewer and signed out everywhere." in page
    assert replay(app, copied) == 302 and editor.get(PAGE).status_code == 302
    assert signed_in("ed").get("/experiments/-/new").status_code == 403  # now a viewer
    assert post_form(admin, "/users/ed/role", {"role": "root"}, "/users").status_code == 302
    assert post_form(admin, "/users/nobody/role", {"role": "viewer"}, "/users").status_code \
        == 404
    assert post_form(admin, "/users/ed%00/role", {"role": "viewer"}, "/users").status_code \
        == 404


def change_own_password(client: FlaskClient, current: str, new: str,
                        repeat: str | None = None) -> object:
    return post_form(client, "/account/password", {
        "current": current, "new": new, "repeat": new if repeat is None else repeat,
    }, "/account/password")


def test_changing_ones_password_ends_the_other_sessions_and_keeps_this_one(
    app: Flask, signed_in: Callable[[str], FlaskClient]
) -> None:
    browser, other_device = signed_in("vi"), signed_in("vi")
    copied = saved_cookie(browser)
    changed = change_own_password(browser, PASSWORD, "a-new-password")
    assert changed.status_code == 302
    assert browser.get(PAGE).status_code == 200
    assert other_device.get(PAGE).status_code == 302 and replay(app, copied) == 302
    assert sign_in(app.test_client(), "vi", "a-new-password").status_code == 302
    assert sign_in(app.test_client(), "vi", PASSWORD).status_code == 200


@pytest.mark.parametrize(("current", "new", "repeat", "message"), [
    ("wrong-password", "a-new-password", None, "Wrong password."),
    (PASSWORD, "a-new-password", "another-one", "The two new passwords differ."),
    (PASSWORD, "short", None, "at least 8 characters"),
])
def test_a_refused_password_change_says_why_and_changes_nothing(
    app: Flask, signed_in: Callable[[str], FlaskClient], current: str, new: str,
    repeat: str | None, message: str,
) -> None:
    browser = signed_in("vi")
    browser.get("/language/en")
    answer = post_form(browser, "/account/password", {
        "current": current, "new": new, "repeat": new if repeat is None else repeat,
    }, "/account/password")
    assert answer.status_code == 200 and message in answer.get_data(as_text=True)
    assert browser.get(PAGE).status_code == 200
    assert sign_in(app.test_client(), "vi", PASSWORD).status_code == 302


def test_guessing_the_current_password_is_throttled(
    signed_in: Callable[[str], FlaskClient], clock: list[float]
) -> None:
    """A stolen session cannot brute-force the account's password through this form."""
    browser = signed_in("vi")
    for _ in range(5):
        assert change_own_password(browser, "wrong-password", "a-new-password").status_code \
            == 200
    refused = change_own_password(browser, PASSWORD, "a-new-password")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    clock[0] += 1
    assert change_own_password(browser, PASSWORD, "a-new-password").status_code == 302
