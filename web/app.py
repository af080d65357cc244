"""The Flask application factory (the composition root).

``create_app()`` needs no setup: with no configuration it opens (and creates) the SQLite file
named by ``ABTEST_DATABASE_URL`` or ./instance/abtest.db and migrates it to the newest schema.
Production: ``gunicorn 'web.app:create_app()'`` or ``gunicorn web.wsgi:app``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from experiments.assignment import service_zone
from experiments.db import make_engine, make_session_factory, upgrade
from web.api import create_api_blueprint
from web.demo import create_demo_blueprint
from web.endpoint import EXTENSION, close_session
from web.errors import register_error_handlers
from web.observability import init_observability
from web.scheduling import init_scheduler
from web.security import IDLE_SETTING, init_security, session_idle_minutes
from web.ui import init_ui

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: ABTEST_DATABASE_URL, else ./instance/abtest.db
    "AUTO_MIGRATE": True,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "ALLOCATION_PERIOD_SECONDS": None,  # None: ABTEST_ALLOCATION_PERIOD_SECONDS, else 300; 0 off
    "TIMEZONE": None,  # of the hour/weekday targeting sees; None: ABTEST_TIMEZONE, else Shanghai
    "SESSION_IDLE_MINUTES": None,  # None: ABTEST_SESSION_IDLE_MINUTES, else 30
}


@dataclass(frozen=True)
class Database:
    """The app's engine and session factory (``app.extensions["abtest"]``)."""

    engine: Engine
    session_factory: sessionmaker[Session]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; ``config`` overrides DEFAULTS (e.g. DATABASE_URL, TESTING)."""
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(config or {})
    app.config["TIMEZONE"] = service_zone(app.config["TIMEZONE"]).key  # a typo fails at start
    app.config[IDLE_SETTING] = session_idle_minutes(app)  # so does a bad idle limit
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # scripts are Chinese text
    app.json.sort_keys = False  # type: ignore[attr-defined]  # variants in the units' order
    engine = make_engine(app.config["DATABASE_URL"])
    if app.config["AUTO_MIGRATE"]:
        upgrade(engine)
    app.extensions[EXTENSION] = Database(engine, make_session_factory(engine))
    app.teardown_appcontext(close_session)
    register_error_handlers(app)
    app.register_blueprint(create_api_blueprint())
    app.register_blueprint(create_demo_blueprint())  # public demo storefront: no login
    init_ui(app)  # after the API: its blueprints are exempted from CSRF
    init_observability(app)
    init_security(app)
    init_scheduler(app)  # last: background Thompson allocation once the app is complete
    return app
