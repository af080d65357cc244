"""Marketer accounts of the web app: create, authenticate, list; roles are ranked.

Passwords are stored only as werkzeug's salted scrypt hash. Roles form a ladder: ``viewer``
reads, ``editor`` also defines and moves experiments, ``admin`` also manages users, so a check
is "at least this role" (:func:`has_role`).
"""
from __future__ import annotations

import re
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from experiments.errors import Conflict, FieldIssue, InvalidInput
from experiments.models import User

Role = Literal["viewer", "editor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
MIN_PASSWORD_LENGTH = 8
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# Checked when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("no such user")


def has_role(role: str, needed: Role) -> bool:
    """Whether ``role`` is ``needed`` or above it on the viewer < editor < admin ladder."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)  # type: ignore[arg-type]


def create_user(session: Session, username: str, password: str, role: str) -> User:
    """Add a user; InvalidInput names the bad field, Conflict when the name is taken."""
    issues = _user_issues(username, password, role)
    if issues:
        raise InvalidInput(issues)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", field="username")
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def _user_issues(username: str, password: str, role: str) -> list[FieldIssue]:
    issues = []
    if not _USERNAME.fullmatch(username):
        issues.append(FieldIssue("username", "1-64 letters, digits or _ . @ -"))
    if len(password) < MIN_PASSWORD_LENGTH:
        issues.append(FieldIssue("password",
                                 f"at least {MIN_PASSWORD_LENGTH} characters"))
    if role not in ROLES:
        issues.append(FieldIssue("role", f"one of {', '.join(ROLES)}"))
    return issues


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user when name and password match, else None (same work either way)."""
    user = session.scalar(select(User).where(User.username == username))
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    return user if user is not None and valid else None


def get_user(session: Session, user_id: int) -> User | None:
    """The user with ``user_id`` (the id Flask-Login keeps in the session cookie)."""
    return session.get(User, user_id)


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.username)))
