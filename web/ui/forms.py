"""Flask-WTF forms of the pages whose fields are fixed: sign in, users, passwords, lifecycle
actions, archive and delete, the sample-size calculator. (The experiment form is dynamic, one
field per catalogue unit and variant, and is validated by the experiment schema itself: see
:mod:`web.ui.definition_form`.)
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, EqualTo, InputRequired, NumberRange

from experiments.users import ROLES


class LoginForm(FlaskForm):
    """Name and password."""

    username = StringField(_l("User name"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])


class UserForm(FlaskForm):
    """A new account (rules on name and password live in experiments.users)."""

    username = StringField(_l("User name"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    role = SelectField(_l("Role"), choices=list(ROLES))


class RoleForm(FlaskForm):
    """Another role for an existing account (its sessions end: experiments.users)."""

    role = SelectField(_l("Role"), choices=list(ROLES))


class PasswordForm(FlaskForm):
    """The signed-in user's own new password, after the current one (length rule in
    experiments.users)."""

    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password"), validators=[DataRequired()])
    repeat = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))])


class ActionForm(FlaskForm):
    """A lifecycle move. ``confirm`` is ``yes`` only after a confirmation step (the page's
    dialog or the server's confirmation page), so no POST moves an experiment by accident."""

    confirm = HiddenField()


class PromoteForm(ActionForm):
    """Promotion also names the winning arm (choices: the experiment's arms)."""

    arm = RadioField(_l("Winning arm"), validators=[InputRequired()], choices=[])


class RetentionForm(FlaskForm):
    """Archive, unarchive or delete. Archive and delete need the experiment's key typed in
    ``confirm_key``: a deliberate act, not a slip of the mouse (checked by the view)."""

    confirm_key = StringField(_l("Type the key to confirm"))


class SampleSizeForm(FlaskForm):
    """Inputs of the inline calculator: baseline rate and lift in percent, daily traffic.

    It sits inside the experiment form under the prefix ``ss`` and is posted with that form's
    token, which CSRFProtect checks for every POST; a second, prefixed token would never match.
    """

    class Meta:
        csrf = False

    baseline = DecimalField(_l("Baseline conversion rate (%)"),
                            validators=[InputRequired(), NumberRange(min=0.01, max=99.99)])
    mde = DecimalField(_l("Smallest lift worth detecting (%, relative)"),
                       validators=[InputRequired(), NumberRange(min=0.1, max=1000)])
    traffic = IntegerField(_l("Eligible shoppers per day"),
                           validators=[InputRequired(), NumberRange(min=1)])
    arms = IntegerField(_l("Arms"), default=2, validators=[InputRequired(),
                                                           NumberRange(min=2, max=256)])
