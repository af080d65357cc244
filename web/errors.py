"""The one place where errors become HTTP answers, all shaped ``{"error": {...}}``.

Domain errors map to a 4xx by class; werkzeug's HTTP errors (404, 405, 413...) keep their
status; a database that cannot be reached (or is locked) is a 503 with ``Retry-After``, so
clients retry instead of giving up; anything else is a bug: logged with its traceback and
answered with a JSON 500.
"""
from __future__ import annotations

from flask import Flask, Response, current_app, jsonify
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, ServiceUnavailable

from experiments.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    StaleVersion,
    Unauthenticated,
)


class BadRequestBody(DomainError):
    """The body is not JSON, or not a JSON object."""

    code = "bad_request"


STATUS_BY_ERROR: dict[type[DomainError], int] = {
    BadRequestBody: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    StaleVersion: 412,
    InvalidInput: 422,
}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   details: list[dict[str, str]] | None = None) -> tuple[Response, int]:
    """The JSON error body; ``field`` and ``details`` only when known."""
    body: dict[str, object] = {"code": code, "message": message}
    if field:
        body["field"] = field
    if details:
        body["details"] = details
    return jsonify(error=body), status


def _status(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 400


def handle_domain_error(error: DomainError) -> tuple[Response, int]:
    details = None
    if isinstance(error, InvalidInput) and len(error.issues) > 1:
        details = [{"field": issue.field, "message": issue.message} for issue in error.issues]
    return error_response(_status(error), error.code, error.message, error.field, details)


def handle_http_error(error: HTTPException) -> tuple[Response, int]:
    name = (error.name or "error").lower().replace(" ", "_")
    response, status = error_response(error.code or 500, name, error.description or name)
    if error.code == 405 and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    if isinstance(error, ServiceUnavailable) and error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    return response, status


def removed_meanwhile(error: IntegrityError) -> Conflict:
    """The HTTP error for a write that refers to a row removed while it ran (an experiment
    deleted, a shopper erased, between the request's check and its insert): every other
    integrity rule is met by the services before writing, or absorbed (``ON CONFLICT``), so
    the database refusing one means such a race. The transaction is rolled back: nothing of
    the request is stored."""
    current_app.logger.warning("write refused by the database: %s", error.orig)
    return Conflict("a record this request refers to was removed meanwhile; nothing was"
                    " stored")


#: Seconds a client should wait before retrying when the database is unavailable.
RETRY_AFTER_SECONDS = 5


def database_unavailable(error: OperationalError) -> ServiceUnavailable:
    """The HTTP error for a database that refused or dropped the connection (or stayed locked):
    logged without the driver's message in the answer, which may name hosts."""
    current_app.logger.warning("database unavailable: %s", error.orig)
    return ServiceUnavailable("the database is unavailable; retry shortly",
                              retry_after=RETRY_AFTER_SECONDS)


def register_error_handlers(app: Flask) -> None:
    """Install the handlers on ``app`` (the last one only fires for true bugs)."""

    def handle_bug(error: Exception) -> tuple[Response, int]:
        app.logger.exception("unhandled error", exc_info=error)
        return error_response(500, "internal_error", "internal error; it has been logged")

    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(
        OperationalError, lambda error: handle_http_error(database_unavailable(error)))
    app.register_error_handler(
        IntegrityError, lambda error: handle_domain_error(removed_meanwhile(error)))
    app.register_error_handler(Exception, handle_bug)
