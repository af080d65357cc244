"""Database, app and API-key fixtures shared by tests/experiments and tests/web.

``db_url`` runs each test that uses it twice: on a fresh SQLite file and on the PostgreSQL named
by ABTEST_TEST_POSTGRES_URL (schema ``public`` dropped and recreated per test; skipped only
when the variable is unset, failing then in CI). Everything built on it (engine, session, app,
client, runner) follows that parametrization. Engines are disposed at teardown so no
connection leaks.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from experiments.apikeys import create_api_key
from experiments.db import make_engine, make_session_factory, upgrade
from tests.conftest import missing_prerequisite
from web.app import create_app
from web.scheduling import SCHEDULER

POSTGRES_ENV = "ABTEST_TEST_POSTGRES_URL"
PLAYBOOKS = Path(__file__).resolve().parent.parent / "experiments" / "playbooks"


def reset_postgres(url: str) -> None:
    """Empty the database: a fresh ``public`` schema (fast enough per test)."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database: SQLite file, or the test PostgreSQL after a schema reset."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'abtest.db'}"
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        missing_prerequisite(f"{POSTGRES_ENV} is not set: PostgreSQL tests skipped")
    reset_postgres(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine on ``db_url``."""
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database; tests commit when they need another to see rows."""
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def make_app(db_url: str) -> Iterator[Callable[..., Flask]]:
    """Factory for app instances on the same database (restarts, several workers)."""
    apps: list[Flask] = []

    def build(**config: Any) -> Flask:
        app = create_app({"DATABASE_URL": db_url, "TESTING": True, **config})
        apps.append(app)
        return app

    yield build
    for app in apps:
        if scheduler := app.extensions.get(SCHEDULER):  # serving apps (TESTING=False) run one
            scheduler.stop()
        app.extensions["abtest"].engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """flaskr-style app on the parametrized database (migrated by create_app)."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(db_url: str) -> CliRunner:
    """click runner whose ``abtest`` commands use the test database."""
    return CliRunner(env={"ABTEST_DATABASE_URL": db_url})


def issue_token(app: Flask, scope: str) -> str:
    """A new API key of ``scope`` on ``app``'s database (its token)."""
    with app.extensions["abtest"].session_factory.begin() as session:
        return create_api_key(session, scope, f"test {scope}")[1]  # type: ignore[arg-type]


@pytest.fixture
def admin_headers(app: Flask) -> dict[str, str]:
    """Authorization header of a fresh admin key."""
    return {"Authorization": f"Bearer {issue_token(app, 'admin')}"}


@pytest.fixture
def storefront_headers(app: Flask) -> dict[str, str]:
    """Authorization header of a fresh storefront key."""
    return {"Authorization": f"Bearer {issue_token(app, 'storefront')}"}


@pytest.fixture
def playbook() -> Callable[[str], dict[str, Any]]:
    """Load a shipped playbook definition by key (a fresh dict each call)."""

    def load(key: str) -> dict[str, Any]:
        return yaml.safe_load((PLAYBOOKS / f"{key}.yaml").read_text(encoding="utf-8"))

    return load
