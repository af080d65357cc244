"""Sign in and out, change one's password, and how long a sign-in lasts.

Flask-Login keeps ``<user id>:<session token>`` in the signed session cookie (its alternative-id
pattern): each request loads the user (and so the current role) from the database and accepts
the cookie only while its token is the user's current one. Logout, a password change and a
role change replace the token, so every cookie of that user stops working on every worker,
also a copy saved before. A session also ends after ``SESSION_IDLE_MINUTES`` without a page
request: the time of the last one travels in the signed cookie. Failed sign-ins are throttled
per account and client network in the database (experiments.login_throttle).
"""
from __future__ import annotations

import hmac
import time
from dataclasses import dataclass

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as cookie
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import Field

from experiments import login_throttle, users
from experiments.errors import InvalidInput, Throttled
from experiments.models import User
from web.endpoint import session
from web.security import IDLE_SETTING
from web.ui.access import login_manager, public
from web.ui.forms import LoginForm, PasswordForm
from web.ui.i18n import local_path

LAST_SEEN = "last_seen"  # session key: epoch seconds of the signed-in user's last page request


def clock() -> float:
    """Now in epoch seconds (the one clock of sign-in; tests replace it)."""
    return time.time()


@dataclass(frozen=True)
class SignedIn(UserMixin):
    """The signed-in user as Flask-Login sees it (plain values, no database row)."""

    id: int
    username: str
    role: str
    session_token: str

    @classmethod
    def of(cls, user: User) -> SignedIn:
        return cls(user.id, user.username, user.role, user.session_token)

    def get_id(self) -> str:
        """What the cookie keeps: the id and the token that must still be current."""
        return f"{self.id}:{self.session_token}"


@login_manager.user_loader
def load_user(cookie_id: str) -> SignedIn | None:
    """The user of the session cookie; None (signed out) once the account is gone or its
    sessions were ended."""
    user_id, _, token = cookie_id.partition(":")
    user = users.get_user(session(), int(user_id)) if user_id.isdigit() else None
    if user is None or not hmac.compare_digest(user.session_token, token):
        return None
    return SignedIn.of(user)


def expire_idle_session() -> None:
    """``before_request`` of the ``ui`` blueprint, before the access check: sign out a
    session unused for longer than the idle limit, else note this request."""
    if "_user_id" not in cookie:
        return
    now = clock()
    idle_minutes = current_app.config[IDLE_SETTING]
    if now - cookie.get(LAST_SEEN, 0.0) > idle_minutes * 60:
        logout_user()
        cookie.pop(LAST_SEEN, None)
        flash(_("You were signed out after %(minutes)g minutes without activity.",
                minutes=idle_minutes))
        return
    cookie[LAST_SEEN] = now


def create_blueprint() -> Blueprint:
    """``/login``, ``/logout`` and ``/account/password``."""
    blueprint = Blueprint("auth", __name__)
    blueprint.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    blueprint.add_url_rule("/logout", view_func=logout, methods=["POST"])
    blueprint.add_url_rule("/account/password", view_func=change_password,
                           methods=["GET", "POST"])
    return blueprint


Page = str | Response | tuple[str, int, dict[str, str]]


@public
def login() -> Page:
    """Show the form; on a valid name and password go where the visitor was headed."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    try:
        user = _authenticate(form.username.data or "", form.password.data or "")
    except Throttled as refused:
        return _refused(form.password, refused, "auth/login.html", form)
    if user is None:
        form.password.errors = [_("Wrong user name or password.")]
        return render_template("auth/login.html", form=form)
    _sign_in(user)
    target = request.args.get("next") or url_for("ui.experiments.index")
    return redirect(local_path(target))


def change_password() -> Page:
    """The signed-in user's new password, after the current one (throttled like sign-in).
    Every other session of the user ends; this one goes on under the new token."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return render_template("auth/password.html", form=form)
    try:
        user = _authenticate(current_user.username, form.current.data or "")
    except Throttled as refused:
        return _refused(form.current, refused, "auth/password.html", form)
    if user is None:
        form.current.errors = [_("Wrong password.")]
        return render_template("auth/password.html", form=form)
    try:
        users.change_password(session(), user.username, form.new.data or "")
    except InvalidInput as error:
        session().rollback()
        form.new.errors = [error.message]
        return render_template("auth/password.html", form=form)
    session().commit()
    _sign_in(user)
    flash(_("Password changed. Your other sessions are signed out."))
    return redirect(url_for("ui.experiments.index"))


def _sign_in(user: User) -> None:
    """Put the user (with their current token) and the time into the session cookie."""
    login_user(SignedIn.of(user))
    cookie[LAST_SEEN] = clock()


def _refused(field: Field, refused: Throttled, template: str, form: FlaskForm
             ) -> tuple[str, int, dict[str, str]]:
    """The form again, as a 429 with Retry-After and the wait next to ``field``."""
    field.errors = [_("Too many failed sign-ins for this account or from your network. "
                      "Try again in %(seconds)d s.", seconds=refused.retry_after)]
    headers = {"Retry-After": str(refused.retry_after)}
    return render_template(template, form=form), 429, headers


def _authenticate(username: str, password: str) -> User | None:
    """Check the password unless the throttle refuses the attempt (Throttled). The attempt is
    committed before the slow hash, so every worker counts it at once."""
    keys = login_throttle.keys_for(username, request.remote_addr)
    try:
        login_throttle.admit(session(), keys, clock())
    except Throttled:
        session().rollback()
        raise
    session().commit()
    user = users.authenticate(session(), username, password)
    if user is not None:
        login_throttle.succeeded(session(), keys)
        session().commit()
    return user


def logout() -> Response:
    """Sign out everywhere: the user's session token is replaced, so no copy of any of their
    cookies signs in again. A POST with the CSRF token, so another site cannot sign a user
    out."""
    user = users.get_user(session(), current_user.id)
    if user is not None:
        users.end_sessions(user)
        session().commit()
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("ui.auth.login"))
