"""Access control, found by walking Flask's URL map (a new route is covered without edits).

Open: exactly the routes on PUBLIC_ROUTES, each with its reason; a route that answers an
anonymous request and is not on it fails, and so does an entry that stops answering (or no
longer exists), so the list is always the truth. Everything else refuses anonymous requests
(401 JSON under /api, a redirect to the sign-in page for the UI) and too narrow scopes (403: a
storefront key on admin API routes, a viewer or editor on views that need more). Also: cookie flags,
the production secret-key refusal (login throttling: tests/web/ui/test_login_throttle.py).
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.routing import Rule

from experiments.users import create_user
from web.openapi import OPERATION_ATTRIBUTE
from web.security import InsecureConfiguration, init_security

#: Every route an anonymous request may use, and why. Issue 8.5 names the health check, the
#: demo storefront's public assets and login; the last two entries are ours, argued here.
PUBLIC_ROUTES = {
    "/healthz": "health check for a load balancer or orchestrator (database, migrations)",
    "/api/v1/health": "the API's health check, for a storefront's own monitoring",
    "/demo/store": "the demo storefront: a shop's page, seen by anonymous shoppers",
    "/static/<path:filename>": "public assets: the storefront snippet abtest.js, the demo's "
                               "files, the sign-in page's CSS",
    "/login": "the sign-in page itself",
    "/language/<code>": "the sign-in page's language switch: needed before signing in; it only "
                        "stores the choice in the session and redirects on this site",
    "/api/v1/openapi.json": "the API description storefront developers integrate against: "
                            "operations and schemas only, no data, and no key is needed to read "
                            "how to use one",
}
SAMPLE_ARGUMENTS = {"key": "some-experiment", "action": "start", "code": "en", "username": "ed",
                    "name": "report.pdf", "filename": "abtest.js", "unit_id": "some-unit",
                    "change": "delete"}
PASSWORD = "correct horse battery staple"
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """CSRF off so the access check itself answers (CSRF has its own tests in tests/web/ui)."""
    return make_app(WTF_CSRF_ENABLED=False)


def all_routes(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    """(rule, method, concrete path) of every route in the URL map."""
    for rule in app.url_map.iter_rules():
        assert set(rule.arguments) <= set(SAMPLE_ARGUMENTS), f"add samples for {rule.rule}"
        path = _ARGUMENT.sub(lambda found: SAMPLE_ARGUMENTS[found.group(1)], rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule, method, path


def routes(app: Flask) -> Iterator[tuple[Rule, str, str]]:
    """(rule, method, concrete path) of every route that is not public."""
    return ((rule, method, path) for rule, method, path in all_routes(app)
            if rule.rule not in PUBLIC_ROUTES)


def _call(client: Any, method: str, path: str, **kwargs: Any) -> Any:
    """A request with an empty body of the kind the route expects (JSON for the API, a form
    for the UI, where a JSON request would get the JSON 401 instead of the redirect)."""
    if method == "GET":
        return client.open(path, method=method, **kwargs)
    if path.startswith("/api/"):
        return client.open(path, method=method, json={}, **kwargs)
    return client.open(path, method=method, data={}, **kwargs)


def _refused_anonymous(rule: Rule, answer: Any) -> bool:
    """The answer a protected route gives without credentials."""
    if rule.rule.startswith("/api/"):
        return answer.status_code == 401 and answer.json["error"]["code"] == "unauthenticated"
    return answer.status_code == 302 and answer.headers["Location"].startswith("/login")


def test_every_route_rejects_anonymous_requests(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for rule, method, path in routes(app):
        answer = _call(client, method, path)
        assert _refused_anonymous(rule, answer), (method, path, answer.status_code)
        checked += 1
    assert checked >= 13


def test_the_public_routes_are_exactly_the_allowlist(app: Flask) -> None:
    """Each listed route exists and answers anonymously (GET), and the UI views marked public
    are the listed ones; with the test above, nothing else answers."""
    client = app.test_client()
    answered = set()
    for rule, method, path in all_routes(app):
        if rule.rule in PUBLIC_ROUTES and method == "GET":
            answer = _call(client, method, path)
            answer.close()  # a static file's response holds the file open
            assert answer.status_code in (200, 302), (path, answer.status_code)
            assert not _refused_anonymous(rule, answer), path
            answered.add(rule.rule)
    assert answered == set(PUBLIC_ROUTES)
    marked = {rule.rule for rule in app.url_map.iter_rules()
              if getattr(app.view_functions[rule.endpoint], "public", False)}
    assert marked == {"/login", "/language/<code>"}


def test_storefront_key_cannot_use_admin_routes(app: Flask, storefront_headers) -> None:
    client = app.test_client()
    admin_routes = set()
    for rule, method, path in routes(app):
        operation = getattr(app.view_functions[rule.endpoint], OPERATION_ATTRIBUTE, None)
        if operation is not None and operation.scope == "admin":
            answer = _call(client, method, path, headers=storefront_headers)
            assert answer.status_code == 403, (method, path, answer.status_code)
            admin_routes.add((method, rule.rule))
    assert {("GET", "/api/v1/experiments/<key>/results"), ("PUT", "/api/v1/experiments/<key>"),
            ("POST", "/api/v1/experiments"), ("POST", "/api/v1/experiments/<key>/start"),
            ("DELETE", "/api/v1/experiments/<key>"), ("DELETE", "/api/v1/units/<path:unit_id>"),
            } <= admin_routes


def _signed_in(app: Flask, role: str) -> Any:
    with app.extensions["abtest"].session_factory.begin() as session:
        create_user(session, f"{role}-user", PASSWORD, role)
    client = app.test_client()
    answer = client.post("/login", data={"username": f"{role}-user", "password": PASSWORD})
    assert answer.status_code == 302, answer.status_code
    return client


@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_ui_routes_refuse_roles_below_their_requirement(app: Flask, role: str) -> None:
    ranks = ["viewer", "editor", "admin"]
    client = _signed_in(app, role)
    refused = 0
    for rule, method, path in routes(app):
        needed = getattr(app.view_functions[rule.endpoint], "required_role", None)
        if needed is not None and ranks.index(needed) > ranks.index(role):
            answer = _call(client, method, path)
            assert answer.status_code == 403, (role, method, path, answer.status_code)
            refused += 1
    assert refused >= 1


def test_session_cookie_flags(app: Flask) -> None:
    cookie = _signed_in(app, "viewer").get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure  # testing: plain http
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True


def test_production_needs_a_real_secret_key(make_app: Callable[..., Flask],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ABTEST_SECRET_KEY", raising=False)
    monkeypatch.delenv("ABTEST_ENV", raising=False)
    for key in (None, "dev", "short-but-not-default"):
        bare = Flask(__name__)  # what create_app runs last, without opening a database
        bare.config["SECRET_KEY"] = key
        with pytest.raises(InsecureConfiguration, match="ABTEST_SECRET_KEY"):
            init_security(bare)
    monkeypatch.setenv("ABTEST_SECRET_KEY", secrets.token_hex(32))
    production = make_app(TESTING=False)
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.delenv("ABTEST_SECRET_KEY")
    monkeypatch.setenv("ABTEST_ENV", "development")
    assert make_app(TESTING=False).config["SESSION_COOKIE_SECURE"] is False
