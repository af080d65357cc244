"""/users: the admin's list of accounts and a form to add one."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from experiments import users
from experiments.errors import DomainError, InvalidInput
from web.endpoint import session
from web.ui.access import requires
from web.ui.forms import UserForm


def create_blueprint() -> Blueprint:
    """``/users`` (GET list and form, POST create)."""
    blueprint = Blueprint("users", __name__)
    blueprint.add_url_rule("/users", view_func=user_list, methods=["GET", "POST"])
    return blueprint


@requires("admin")
def user_list() -> str | Response:
    """List users; a valid form adds one (rules and hashing in experiments.users)."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            users.create_user(session(), form.username.data or "", form.password.data or "",
                              form.role.data or "")
        except DomainError as error:
            session().rollback()
            _attach(form, error)
        else:
            session().commit()
            flash(_("User %(name)s added.", name=form.username.data))
            return redirect(url_for("ui.users.user_list"))
    return render_template("users/list.html", form=form, users=users.list_users(session()))


def _attach(form: UserForm, error: DomainError) -> None:
    """Put the service's messages next to the fields they name."""
    issues = error.issues if isinstance(error, InvalidInput) else []
    pairs = [(i.field, i.message) for i in issues] or [(error.field or "username", error.message)]
    for field, message in pairs:
        target = getattr(form, field, form.username)
        target.errors = [*target.errors, message]
