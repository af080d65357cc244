"""The marketer web app: HTML pages for signing in, defining, running and reading experiments.

:func:`init_ui` wires the extensions (Flask-Login, CSRFProtect, Flask-Babel) and registers one
``ui`` blueprint whose nested blueprints hold the pages. Access is checked in one place, the
``ui`` blueprint's ``before_request`` (:mod:`web.ui.access`), so a new page is protected by default.
"""
from __future__ import annotations

from flask import Blueprint, Flask

from web.ui import access, auth, experiments, reports, users
from web.ui.access import csrf, login_manager
from web.ui.i18n import init_i18n, language_blueprint


def create_ui_blueprint() -> Blueprint:
    """A fresh ``ui`` blueprint with the page blueprints and the access check."""
    ui = Blueprint("ui", __name__)
    ui.before_request(auth.expire_idle_session)  # first: an idle session is signed out
    ui.before_request(access.enforce_access)
    access.register_error_pages(ui)
    for child in (auth.create_blueprint(), experiments.create_blueprint(),
                  users.create_blueprint(), reports.create_blueprint(), language_blueprint()):
        ui.register_blueprint(child)
    return ui


def init_ui(app: Flask) -> None:
    """Install the extensions and the pages; the JSON API keeps bearer keys and no CSRF."""
    login_manager.init_app(app)
    csrf.init_app(app)
    for name, blueprint in app.blueprints.items():
        if name.split(".")[0] == "api":
            csrf.exempt(blueprint)
    init_i18n(app)
    app.register_blueprint(create_ui_blueprint())
