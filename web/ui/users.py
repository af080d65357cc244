"""/users: the admin's list of accounts, a form to add one and each one's role."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from experiments import users
from experiments.errors import DomainError, InvalidInput
from web.endpoint import session
from web.ui.access import requires
from web.ui.forms import RoleForm, UserForm
from web.ui.i18n import label


def create_blueprint() -> Blueprint:
    """``/users`` (GET list and form, POST create) and ``/users/<name>/role`` (POST)."""
    blueprint = Blueprint("users", __name__)
    blueprint.add_url_rule("/users", view_func=user_list, methods=["GET", "POST"])
    blueprint.add_url_rule("/users/<username>/role", view_func=change_role, methods=["POST"])
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
    return render_template("users/list.html", form=form, users=users.list_users(session()),
                           roles=users.ROLES)


@requires("admin")
def change_role(username: str) -> Response:
    """Give an account another role; its sessions end, so none goes on acting in the old one
    (an unknown name is the 404 page)."""
    form = RoleForm()
    if form.validate_on_submit():
        users.change_role(session(), username, form.role.data or "")
        session().commit()
        flash(_("%(name)s is now %(role)s and signed out everywhere.", name=username,
                role=label(form.role.data or "")))
    else:
        flash(_("Choose one of the roles."), "error")
    return redirect(url_for("ui.users.user_list"))


def _attach(form: UserForm, error: DomainError) -> None:
    """Put the service's messages next to the fields they name."""
    issues = error.issues if isinstance(error, InvalidInput) else []
    pairs = [(i.field, i.message) for i in issues] or [(error.field or "username", error.message)]
    for field, message in pairs:
        target = getattr(form, field, form.username)
        target.errors = [*target.errors, message]
