"""Sign in and out, roles, and the one access check every page goes through."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.web.ui.conftest import PASSWORD, csrf_token, post_form, sign_in

PUBLIC = {"ui.auth.login", "ui.i18n.choose"}


def test_pages_send_anonymous_visitors_to_sign_in(client: FlaskClient) -> None:
    answer = client.get("/experiments")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=%2Fexperiments"


def test_every_ui_route_needs_a_signed_in_user(app: Flask, client: FlaskClient) -> None:
    """Walks the URL map: no ui page or helper is open except sign-in and the language link."""
    rules = [r for r in app.url_map.iter_rules()
             if r.endpoint.startswith("ui.") and r.endpoint not in PUBLIC]
    assert len(rules) >= 8
    for rule in rules:
        samples = {"action": "start", "change": "delete"}
        url = rule.build({name: "x" for name in rule.arguments} | samples)[1]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            answer = client.open(url, method=method, data={"csrf_token": csrf_token(client)})
            assert answer.status_code == 302, (method, url)
            assert answer.headers["Location"].startswith("/login?next="), (method, url)


def test_sign_in_then_out(app: Flask, accounts: dict[str, str]) -> None:
    client = app.test_client()
    answer = sign_in(client, "ed")
    assert answer.status_code == 302
    page = client.get("/experiments", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "ed (editor)" in page.get_data(as_text=True)
    assert post_form(client, "/logout", {}, "/experiments").status_code == 302
    assert client.get("/experiments").status_code == 302


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(
    app: Flask, accounts: dict[str, str]
) -> None:
    client = app.test_client()
    data = {"username": "vi", "password": PASSWORD, "csrf_token": csrf_token(client)}
    assert client.post("/login?next=/experiments", data=data).headers["Location"] == "/experiments"
    client = app.test_client()
    data["csrf_token"] = csrf_token(client)
    assert client.post("/login?next=https://evil.example/", data=data).headers["Location"] == "/"


def test_wrong_password_is_refused_next_to_the_field(app: Flask, accounts: dict[str, str]) -> None:
    client = app.test_client()
    client.get("/login", headers={"Accept-Language": "en"})
    answer = client.post("/login", headers={"Accept-Language": "en"}, data={
        "username": "ed", "password": "not-the-password", "csrf_token": csrf_token(client)})
    assert answer.status_code == 200
    assert "Wrong user name or password." in answer.get_data(as_text=True)
    assert client.get("/experiments").status_code == 302
    unknown = sign_in(client, "nobody")
    assert unknown.status_code == 200


def test_viewer_cannot_create_but_editor_can(signed_in: Callable[[str], FlaskClient]) -> None:
    viewer = signed_in("vi")
    refused = viewer.get("/experiments/-/new", headers={"Accept-Language": "en"})
    assert refused.status_code == 403
    assert "Your role does not allow this." in refused.get_data(as_text=True)
    assert viewer.get("/experiments").status_code == 200
    assert signed_in("ed").get("/experiments/-/new").status_code == 200


def test_only_admins_manage_users(signed_in: Callable[[str], FlaskClient]) -> None:
    assert signed_in("ed").get("/users").status_code == 403
    admin = signed_in("ada")
    answer = post_form(admin, "/users", {"username": "new.marketer", "password": "long-enough-1",
                                         "role": "viewer"}, "/users")
    assert answer.status_code == 302
    assert "new.marketer" in admin.get("/users").get_data(as_text=True)
    short = post_form(admin, "/users", {"username": "other", "password": "short",
                                        "role": "viewer"}, "/users")
    assert short.status_code == 200
    assert "at least 8 characters" in short.get_data(as_text=True)
    taken = post_form(admin, "/users", {"username": "ed", "password": "long-enough-1",
                                        "role": "viewer"}, "/users")
    assert "already exists" in taken.get_data(as_text=True)


def test_a_role_change_takes_effect_on_the_next_request(
    app: Flask, signed_in: Callable[[str], FlaskClient]
) -> None:
    """The role is read from the database per request, not frozen in the cookie."""
    from sqlalchemy import update

    from experiments.models import User

    editor = signed_in("ed")
    assert editor.get("/experiments/-/new").status_code == 200
    with app.extensions["abtest"].session_factory.begin() as session:
        session.execute(update(User).where(User.username == "ed").values(role="viewer"))
    assert editor.get("/experiments/-/new").status_code == 403


def test_a_signed_in_browser_gets_nothing_from_the_api_and_no_cookie(
    signed_in: Callable[[str], FlaskClient]
) -> None:
    """The API authenticates by key alone: an admin's page session neither opens it nor is
    touched by it (the pages' cookie is not even read there)."""
    browser = signed_in("ada")
    for method, url in [("get", "/api/v1/experiments"), ("post", "/api/v1/assign")]:
        answer = getattr(browser, method)(url, json={"experiment": "x", "unit_id": "u"})
        assert answer.status_code == 401 and answer.json["error"]["code"]
        assert "Set-Cookie" not in answer.headers
    assert browser.get("/experiments").status_code == 200  # the page session still works
