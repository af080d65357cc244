"""Marketer accounts of the web app: create, authenticate, list; roles are ranked.

Passwords are stored only as werkzeug's salted scrypt hash. Roles form a ladder: ``viewer``
reads, ``editor`` also defines and moves experiments, ``admin`` also manages users, so a check
is "at least this role" (:func:`has_role`). Changing a password or role ends the user's
sessions (:func:`end_sessions`): a cookie signed in with the old password or role stops working.
"""
from __future__ import annotations

import re
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from experiments.errors import Conflict, FieldIssue, InvalidInput, NotFound
from experiments.models import User, new_session_token

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
    if _find(session, username) is not None:
        raise Conflict(f"user {username!r} already exists", field="username")
    user = User(username=username, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def _user_issues(username: str, password: str, role: str) -> list[FieldIssue]:
    found = (_username_issue(username), _password_issue(password), _role_issue(role))
    return [issue for issue in found if issue is not None]


def _username_issue(username: str) -> FieldIssue | None:
    if _USERNAME.fullmatch(username):
        return None
    return FieldIssue("username", "1-64 letters, digits or _ . @ -")


def _password_issue(password: str) -> FieldIssue | None:
    if len(password) >= MIN_PASSWORD_LENGTH:
        return None
    return FieldIssue("password", f"at least {MIN_PASSWORD_LENGTH} characters")


def _role_issue(role: str) -> FieldIssue | None:
    return None if role in ROLES else FieldIssue("role", f"one of {', '.join(ROLES)}")


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user when name and password match, else None (same work either way)."""
    user = _find(session, username)
    valid = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    return user if user is not None and valid else None


def get_user(session: Session, user_id: int) -> User | None:
    """The user with ``user_id`` (the id Flask-Login keeps in the session cookie)."""
    return session.get(User, user_id)


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def change_password(session: Session, username: str, password: str) -> User:
    """Set a new password and end the user's sessions; InvalidInput when it is too short."""
    user = _existing(session, username)
    if (issue := _password_issue(password)) is not None:
        raise InvalidInput([issue])
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    session.flush()
    return user


def change_role(session: Session, username: str, role: str) -> User:
    """Give the user another role and end their sessions, so none keeps acting in the old one."""
    user = _existing(session, username)
    if (issue := _role_issue(role)) is not None:
        raise InvalidInput([issue])
    user.role = role
    end_sessions(user)
    session.flush()
    return user


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session cookie names the token replaced here."""
    user.session_token = new_session_token()


def _existing(session: Session, username: str) -> User:
    user = _find(session, username)
    if user is None:
        raise NotFound(f"no user {username!r}", field="username")
    return user


def _find(session: Session, username: str) -> User | None:
    """The user named ``username``; a name no account can have is not looked up (PostgreSQL
    cannot even compare text holding NUL)."""
    if _username_issue(username) is not None:
        return None
    return session.scalar(select(User).where(User.username == username))
