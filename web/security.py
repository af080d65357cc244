"""Production safety: the secret key, session cookie flags and the session idle limit.

Production mode is the default: an app is in development only when it is testing or debugging,
or ``ABTEST_ENV`` (environment variable or config key) says ``development`` or ``test``. So a
forgotten setting fails closed: in production the app refuses to start without a real secret
key (``ABTEST_SECRET_KEY`` or config ``SECRET_KEY``), and session cookies are Secure.
Development gets a random per-process key (sessions end on restart, which is fine there).

A signed-in session ends after ``SESSION_IDLE_MINUTES`` without a page request (config, else
``ABTEST_SESSION_IDLE_MINUTES``, default 30; checked by web.ui.auth). Failed sign-ins are
throttled in the database (experiments.login_throttle), per account and per client network;
behind a reverse proxy, wrap the app in werkzeug's ProxyFix so the client address is the real one.
"""
from __future__ import annotations

import math
import os
import secrets

from flask import Flask, Request, Response, current_app
from flask.sessions import SecureCookieSessionInterface, SessionMixin

from web.openapi import API_PREFIX

ENV_VARIABLE = "ABTEST_ENV"
SECRET_KEY_VARIABLE = "ABTEST_SECRET_KEY"
DEVELOPMENT_ENVS = frozenset({"development", "test"})
IDLE_SETTING = "SESSION_IDLE_MINUTES"
IDLE_VARIABLE = "ABTEST_SESSION_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30.0  # OWASP's range for low-risk applications is 15-30 minutes
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
    """Check the secret key, set cookie flags and the security headers."""
    production = is_production(app)
    app.config["SECRET_KEY"] = _secret_key(app, production)
    for prefix in ("SESSION_COOKIE", "REMEMBER_COOKIE"):  # Flask's session, Flask-Login's
        app.config[f"{prefix}_HTTPONLY"] = True
        app.config[f"{prefix}_SAMESITE"] = "Lax"
        app.config[f"{prefix}_SECURE"] = production
    app.session_interface = CookieSessionsOutsideTheApi()
    app.after_request(_security_headers)


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


def session_idle_minutes(app: Flask) -> float:
    """Minutes a signed-in session may stay unused: the setting, else the environment, else
    the default; a value that is not a positive number fails at start."""
    configured = app.config.get(IDLE_SETTING)
    raw = configured if configured is not None else os.environ.get(IDLE_VARIABLE)
    try:
        minutes = DEFAULT_IDLE_MINUTES if raw in (None, "") else float(raw)
    except (TypeError, ValueError):
        minutes = math.nan
    if not 0 < minutes < math.inf:
        raise ValueError(f"{IDLE_VARIABLE} must be a positive number of minutes, got {raw!r}")
    return minutes


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
