"""Marketer UI fixtures: accounts of each role and test clients signed in as them.

CSRF protection stays on (the app's default): every POST carries the token a page rendered,
read back by :func:`csrf_token`, as a browser would.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from experiments.definitions import create_experiment
from experiments.models import Experiment
from experiments.users import create_user

PASSWORD = "password-123"
ROLE_OF = {"ada": "admin", "ed": "editor", "vi": "viewer"}
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    """The token a page's form carries for this client's session."""
    found = _TOKEN.search(client.get(page).get_data(as_text=True))
    assert found, f"no csrf_token on {page}"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_token(client)})


def post_form(client: FlaskClient, url: str, data: dict[str, Any], page: str) -> Any:
    """POST ``data`` with the token rendered on ``page``."""
    return client.post(url, data={**data, "csrf_token": csrf_token(client, page)})


def count_experiments(app: Flask) -> int:
    with app.extensions["abtest"].session_factory() as session:
        return session.scalar(select(func.count()).select_from(Experiment))


def stored(app: Flask, key: str) -> Experiment | None:
    with app.extensions["abtest"].session_factory() as session:
        return session.scalar(select(Experiment).where(Experiment.key == key))


@pytest.fixture
def accounts(app: Flask) -> dict[str, str]:
    """One user per role (name → role)."""
    with app.extensions["abtest"].session_factory.begin() as session:
        for name, role in ROLE_OF.items():
            create_user(session, name, PASSWORD, role)
    return ROLE_OF


@pytest.fixture
def signed_in(app: Flask, accounts: dict[str, str]) -> Callable[[str], FlaskClient]:
    """A fresh client signed in as ``username``."""

    def make(username: str) -> FlaskClient:
        client = app.test_client()
        assert sign_in(client, username).status_code == 302
        return client

    return make


@pytest.fixture
def editor(signed_in: Callable[[str], FlaskClient]) -> FlaskClient:
    return signed_in("ed")


@pytest.fixture
def define(app: Flask, playbook: Callable[[str], dict[str, Any]]) -> Callable[..., Experiment]:
    """Create a draft through the service (actor 'system'): a playbook with changes."""

    def make(key: str = "urgency-close", **changes: Any) -> Experiment:
        with app.extensions["abtest"].session_factory.begin() as session:
            return create_experiment(session, {**playbook(key), **changes})

    return make
