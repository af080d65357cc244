"""Sign in and out. Flask-Login keeps the user id in the signed session cookie; each request
loads the user (and so the current role) from the database."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import UserMixin, login_user, logout_user
from werkzeug.wrappers import Response

from experiments import users
from experiments.models import User
from web.endpoint import session
from web.ui.access import login_manager, public
from web.ui.forms import LoginForm
from web.ui.i18n import local_path


@dataclass(frozen=True)
class SignedIn(UserMixin):
    """The signed-in user as Flask-Login sees it (plain values, no database row)."""

    id: int
    username: str
    role: str

    @classmethod
    def of(cls, user: User) -> SignedIn:
        return cls(user.id, user.username, user.role)


@login_manager.user_loader
def load_user(user_id: str) -> SignedIn | None:
    """The user of the session cookie; None (signed out) once the account is gone."""
    user = users.get_user(session(), int(user_id)) if user_id.isdigit() else None
    return SignedIn.of(user) if user is not None else None


def create_blueprint() -> Blueprint:
    """``/login`` and ``/logout``."""
    blueprint = Blueprint("auth", __name__)
    blueprint.add_url_rule("/login", view_func=login, methods=["GET", "POST"])
    blueprint.add_url_rule("/logout", view_func=logout, methods=["POST"])
    return blueprint


@public
def login() -> str | Response:
    """Show the form; on a valid name and password go where the visitor was headed."""
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(session(), form.username.data or "", form.password.data or "")
        if user is not None:
            login_user(SignedIn.of(user))
            target = request.args.get("next") or url_for("ui.experiments.index")
            return redirect(local_path(target))
        form.password.errors = [_("Wrong user name or password.")]
    return render_template("auth/login.html", form=form)


def logout() -> Response:
    """Sign out (a POST with the CSRF token, so another site cannot sign a user out)."""
    logout_user()
    flash(_("You are signed out."))
    return redirect(url_for("ui.auth.login"))
