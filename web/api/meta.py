"""Unauthenticated endpoints: health check and the OpenAPI document."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

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


def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 document of this API, built from the routes and pydantic models."""
    return jsonify(build_openapi(current_app))


setattr(health, OPERATION_ATTRIBUTE,
        Operation("Health check (database round trip)", None, None, HealthOut, 200))
setattr(openapi, OPERATION_ATTRIBUTE, Operation("This OpenAPI document", None, None, None, 200))
blueprint.add_url_rule("/health", view_func=health, methods=["GET"])
blueprint.add_url_rule("/openapi.json", view_func=openapi, methods=["GET"])
