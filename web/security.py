"""Production safety: the secret key, session cookie flags and the login rate limit.

Production mode is the default: an app is in development only when it is testing or debugging,
or ``ABTEST_ENV`` (environment variable or config key) says ``development`` or ``test``. So a
forgotten setting fails closed: in production the app refuses to start without a real secret
key (``ABTEST_SECRET_KEY`` or config ``SECRET_KEY``), and session cookies are Secure.
Development gets a random per-process key (sessions end on restart, which is fine there).

Login is rate limited per client IP with Flask-Limiter's in-memory storage: counters live in each
worker process, so with N gunicorn workers a client gets at most N times the limit, and a
restart resets them. Behind a reverse proxy, wrap the app in werkzeug's ProxyFix so the client
IP is the real one. A shared store (``RATELIMIT_STORAGE_URI``, e.g. redis) makes the limit exact.
"""
from __future__ import annotations

import os
import secrets

from flask import Flask, Request, Response, current_app
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from web.openapi import API_PREFIX

ENV_VARIABLE = "ABTEST_ENV"
SECRET_KEY_VARIABLE = "ABTEST_SECRET_KEY"
DEVELOPMENT_ENVS = frozenset({"development", "test"})
LOGIN_RATE_LIMIT = "10/minute"
MIN_SECRET_KEY_LENGTH = 32
# Values seen in tutorials and .env templates: as good as no key at all.
KNOWN_DEFAULT_KEYS = frozenset({"dev", "development", "secret", "changeme", "change-me",
                                "change_me", "secret-key", "your-secret-key", "default"})


class CookieSessionsOutsideTheApi(SecureCookieSessionInterface):
    """Cookie sessions for the pages only: the JSON API authenticates every request by its API
    key, so verifying (and re-signing) a session cookie there is wasted work on the hottest
    path (a tenth of a returning unit's /assign in the bench profile) and a cookie it must
    never depend on."""

    def open_session(self, app: Flask, request: Request) -> SessionMixin | None:
        if request.path.startswith(API_PREFIX):
            return self.make_null_session(app)
        return super().open_session(app, request)


class InsecureConfiguration(RuntimeError):
    """The app would run in production with settings that make sessions forgeable."""


def is_production(app: Flask) -> bool:
    """True unless the app is testing/debugging or ABTEST_ENV names a development mode."""
    env = app.config.get(ENV_VARIABLE) or os.environ.get(ENV_VARIABLE, "production")
    return not (app.testing or app.debug or env in DEVELOPMENT_ENVS)


def init_security(app: Flask) -> None:
    """Check the secret key, set cookie flags and rate-limit login; call after the blueprints
    are registered (the login route is found by its path)."""
    production = is_production(app)
    app.config["SECRET_KEY"] = _secret_key(app, production)
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):  # Flask's session, Flask-Login's
        app.config[f"{prefix}_HTTPONLY"] = True
        app.config[f"{prefix}_SAMESITE"] = "Lax"
        app.config[f"{prefix}_SECURE"] = production
    app.session_interface = CookieSessionsOutsideTheApi()
    app.after_request(_security_headers)
    _limit_login(app)


# No 'unsafe-inline' anywhere: templates load scripts/styles from /static only (the demo's
# <script type="application/json"> is data, not script); tests/web/test_security_headers.py
# scans the templates so a new inline script or on*= handler fails a test, not a page.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; "
                           "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; "
                           "form-action 'self'; object-src 'none'")
SERVER_NAME_HEADER = "abtest"  # no version; gunicorn/werkzeug dev server may still override


def _security_headers(response: Response) -> Response:
    """Set the security headers of every response (the one place they are set)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["Server"] = SERVER_NAME_HEADER
    if current_app.config.get("SESSION_COOKIE_SECURE"):  # HTTPS only: production
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return response


def _limit_login(app: Flask) -> None:
    """Rate-limit POST on every route ending in /login, per client IP."""
    app.config.setdefault("RATELIMIT_STORAGE_URI", "memory://")
    limiter = Limiter(get_remote_address, app=app)  # one per app: counters never leak between
    login_limit = app.config.get("LOGIN_RATE_LIMIT", LOGIN_RATE_LIMIT)
    for rule in app.url_map.iter_rules():
        if rule.rule.rstrip("/").endswith("/login") and "POST" in (rule.methods or ()):
            view = app.view_functions[rule.endpoint]
            app.view_functions[rule.endpoint] = limiter.limit(login_limit, methods=["POST"])(view)
    # The decorated views check their own limit; the limiter's before-request hook would
    # resolve (empty) limits for every other request too: 10% of a returning unit's /assign
    # in the bench profile. tests/hardening/test_access.py proves login stays limited.
    app.before_request_funcs[None].remove(limiter._check_request_limit)


def _secret_key(app: Flask, production: bool) -> str:
    """The configured key; in production refuse a missing, known or short one."""
    key = app.config.get("SECRET_KEY") or os.environ.get(SECRET_KEY_VARIABLE, "")
    if not production:
        return key or secrets.token_hex(32)
    if key.lower() in KNOWN_DEFAULT_KEYS or len(key) < MIN_SECRET_KEY_LENGTH:
        raise InsecureConfiguration(
            f"refusing to start in production without a real secret key: set {SECRET_KEY_VARIABLE}"
            f" to a random value of at least {MIN_SECRET_KEY_LENGTH} characters (e.g. python -c"
            f" 'import secrets; print(secrets.token_hex(32))'), or set {ENV_VARIABLE}=development"
            " for a local run")
    return key
