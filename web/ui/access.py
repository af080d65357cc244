"""Who may see which page: the one access check of the web app, and its error pages.

Every view of the ``ui`` blueprint needs a signed-in user with at least the role the view
declares with :func:`requires` (default ``viewer``); only views marked :func:`public` (sign in,
language switch) are open. HTML pages send anonymous users to the sign-in page; JSON helpers
of the pages get a 401. A user without the role gets the 403 page.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import Conflict, Forbidden, HTTPException, NotFound

from experiments.errors import NotFound as UnknownRecord
from experiments.users import Role, has_role
from web.errors import database_unavailable, removed_meanwhile

View = TypeVar("View", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "ui.auth.login"
login_manager.login_message = lazy_gettext("Please sign in to see this page.")
csrf = CSRFProtect()


def public(view: View) -> View:
    """Mark a view as open to anonymous visitors."""
    view.public = True  # type: ignore[attr-defined]
    return view


def requires(role: Role) -> Callable[[View], View]:
    """Declare the least role a view needs (checked by :func:`enforce_access`)."""

    def mark(view: View) -> View:
        view.required_role = role  # type: ignore[attr-defined]
        return view

    return mark


def enforce_access() -> Any:
    """``before_request`` of the ``ui`` blueprint: sign-in, then role."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "public", False):
        return None
    if not current_user.is_authenticated:
        if request.accept_mimetypes.best == "application/json" or request.is_json:
            return jsonify(error={"code": "unauthenticated", "message": "sign in first"}), 401
        return login_manager.unauthorized()
    if not has_role(current_user.role, getattr(view, "required_role", "viewer")):
        raise Forbidden()
    return None


def register_error_pages(blueprint: Blueprint) -> None:
    """HTML error pages (403, 404, CSRF 400...) for the pages, instead of the API's JSON."""

    def error_page(error: HTTPException) -> tuple[str, int] | Response:
        if error.code is not None and error.code < 400:
            return error.get_response()
        headers = {"Retry-After": str(error.retry_after)} if getattr(
            error, "retry_after", None) is not None else {}
        return render_template("error.html", error=error), error.code or 500, headers

    blueprint.register_error_handler(HTTPException, error_page)
    blueprint.register_error_handler(
        OperationalError, lambda error: error_page(database_unavailable(error)))
    blueprint.register_error_handler(
        IntegrityError, lambda error: error_page(Conflict(removed_meanwhile(error).message)))
    blueprint.register_error_handler(
        UnknownRecord, lambda error: error_page(NotFound(error.message)))
