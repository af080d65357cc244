"""Security headers on every response, and templates the CSP cannot break (issue 14, 7)."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from web.security import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def assert_security_headers(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert not re.search(r"\d", response.headers.get("Server", ""))


def test_html_page(client: FlaskClient) -> None:
    response = client.get("/demo/store")
    assert response.status_code == 200
    assert_security_headers(response)


def test_json_api(client: FlaskClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/experiments", headers=admin_headers)
    assert response.status_code == 200 and response.is_json
    assert_security_headers(response)


def test_not_found(client: FlaskClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert_security_headers(response)


def test_hsts_only_with_secure_cookies(make_app: Callable[..., Flask]) -> None:
    assert "Strict-Transport-Security" not in make_app().test_client().get("/x").headers
    app = make_app()
    app.config["SESSION_COOKIE_SECURE"] = True
    hsts = app.test_client().get("/x").headers["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains"


INLINE = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>"
                    r"|\son[a-z]+\s*=|<style|\sstyle\s*=|javascript:", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=str)
def test_templates_have_nothing_inline(template: Path) -> None:
    found = INLINE.findall(template.read_text(encoding="utf-8"))
    assert not found, f"{template.name}: inline {found} is blocked by the CSP"
