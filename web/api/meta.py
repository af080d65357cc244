"""Unauthenticated endpoints: health checks and the OpenAPI document.

``/api/v1/health`` is liveness (one database round trip); ``/healthz`` (registered at the root
by :mod:`web.observability`) is readiness for a load balancer: the database answers and its
schema is at the Alembic head this code was built for.
"""
from __future__ import annotations

from functools import cache
from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from experiments.db import alembic_config
from web.endpoint import session
from web.errors import error_response
from web.openapi import OPERATION_ATTRIBUTE, Operation, build_openapi
from web.schemas import HealthOut

blueprint = Blueprint("meta", __name__)


def health() -> ResponseReturnValue:
    """Liveness plus one round trip to the database (503 when it is unreachable)."""
    try:
        session().execute(select(1))
    except SQLAlchemyError as error:
        current_app.logger.warning("health check: database unavailable: %s", error)
        return error_response(503, "database_unavailable", "the database is not reachable")
    return jsonify(HealthOut(status="ok", database="ok").model_dump())


@cache
def head_revisions() -> frozenset[str]:
    """The Alembic head(s) of the migrations shipped with this code (read once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def _database_state() -> dict[str, Any]:
    """Reachability and migration state, read over the request's session."""
    connection = session().connection()
    current = MigrationContext.configure(connection).get_current_heads()
    heads = head_revisions()
    return {
        "database": {"reachable": True, "dialect": connection.dialect.name},
        "migrations": {"current": sorted(current), "head": sorted(heads),
                       "up_to_date": frozenset(current) == heads},
    }


def healthz() -> ResponseReturnValue:
    """Readiness: 200 with details when the database answers and migrations are at head,
    else 503 with the same details (never the driver's message, which may name hosts)."""
    try:
        state = _database_state()
    except SQLAlchemyError as error:
        current_app.logger.warning("healthz: database unavailable: %s", error)
        state = {"database": {"reachable": False}, "migrations": {"up_to_date": False}}
    ready = state["migrations"]["up_to_date"]
    return jsonify(status="ok" if ready else "unavailable", **state), 200 if ready else 503


def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document of this API, built from the routes and pydantic models."""
    return jsonify(build_openapi(current_app))


setattr(health, OPERATION_ATTRIBUTE,
        Operation("Health check (database round trip)", None, None, HealthOut, 200))
setattr(openapi, OPERATION_ATTRIBUTE, Operation("This OpenAPI document", None, None, None, 200))
blueprint.add_url_rule("/health", view_func=health, methods=["GET"])
blueprint.add_url_rule("/openapi.json", view_func=openapi, methods=["GET"])
