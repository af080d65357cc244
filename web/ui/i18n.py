"""Chinese and English: the locale comes from the visitor's choice (kept in the session), else
the browser's Accept-Language, else Chinese (the marketers' language).

Catalogues live in ``web/translations`` (see ``web/translations/README.md`` for the pybabel
workflow).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from web.ui.access import public
from web.ui.reasons import describe, row_test_name

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
SESSION_KEY = "lang"
# Words the pages show from data (statuses, actions, roles, audit actions): listed here so
# pybabel extracts them.
LABELS = {
    "draft": _l("draft"), "running": _l("running"), "paused": _l("paused"),
    "stopped": _l("stopped"), "promoted": _l("promoted"),
    "start": _l("start"), "pause": _l("pause"), "stop": _l("stop"), "promote": _l("promote"),
    "create": _l("create"), "edit": _l("edit"),
    "guardrail_hold": _l("held at the floor by a guardrail"),
    "archive": _l("archive"), "unarchive": _l("unarchive"), "delete": _l("delete"),
    "viewer": _l("viewer"), "editor": _l("editor"), "admin": _l("admin"),
    "primary": _l("primary"), "secondary": _l("secondary"), "guardrail": _l("guardrail"),
}


def select_locale() -> str:
    """The session's choice, else the browser's best match, else Chinese."""
    chosen = session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def current_language() -> str:
    """``zh`` or ``en`` for the current request (templates pick catalogue names with it)."""
    return str(get_locale() or DEFAULT_LANGUAGE).split("_")[0]


def label(word: str) -> str:
    """The translated label of a status, action or role (the word itself if unknown)."""
    return str(LABELS.get(word, word))


def init_i18n(app: Flask) -> None:
    """Flask-Babel with :func:`select_locale`; templates get ``current_language``, ``label``,
    ``reason`` (a result section's reason in the visitor's language) and ``row_test_name``
    (the test a results row rests on)."""
    Babel(app, locale_selector=select_locale, default_locale=DEFAULT_LANGUAGE)
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["label"] = label
    app.jinja_env.globals["reason"] = describe
    app.jinja_env.globals["row_test_name"] = row_test_name
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES


def local_path(target: str | None) -> str:
    """Only a path on this site (no scheme, no host), so the link cannot redirect elsewhere."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def language_blueprint() -> Blueprint:
    """``/language/<code>``: remember the choice and go back where the link was clicked."""
    blueprint = Blueprint("i18n", __name__)

    @blueprint.get("/language/<code>")
    @public
    def choose(code: str) -> Response:
        if code in LANGUAGES:
            session[SESSION_KEY] = code
        return redirect(local_path(request.args.get("next")))

    return blueprint
