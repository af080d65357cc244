"""What every API view shares: the request's session, API-key check, body parsing, commit,
serialization, and the metadata the OpenAPI document is built from.

A view decorated with :func:`endpoint` receives the parsed body as ``payload`` and returns a
pydantic model; the decorator does the rest, so views stay parse → call → serialize.
"""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import current_app, g, jsonify, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from experiments.apikeys import Scope, authenticate
from experiments.definitions import validation_issues
from experiments.errors import FieldIssue, InvalidInput, StaleVersion
from experiments.schema import unstorable_text
from web.errors import BadRequestBody
from web.openapi import OPERATION_ATTRIBUTE, Operation

EXTENSION = "abtest"


def session() -> Session:
    """The request's session (one per request, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[EXTENSION].session_factory()
    return g.db_session


def close_session(_error: BaseException | None = None) -> None:
    """Teardown: roll back whatever the view did not commit and return the connection."""
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()


def _refuse_constant(name: str) -> None:
    """``NaN`` and ``Infinity`` are not JSON (RFC 8259) though Python's json reads them."""
    raise ValueError(f"{name} is not a JSON value")


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or BadRequestBody saying what is wrong with it."""
    raw = request.get_data(cache=False)
    try:
        data = json.loads(raw, parse_constant=_refuse_constant) if raw else None
    except ValueError as error:
        raise BadRequestBody(f"malformed JSON body: {error}") from None
    except RecursionError:
        raise BadRequestBody("malformed JSON body: nested too deeply") from None
    if not isinstance(data, dict):
        raise BadRequestBody("the body must be a JSON object")
    return data


def parse(model: type[BaseModel], data: Any) -> Any:
    """Validate ``data`` as ``model``; pydantic errors become a 422 naming the field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidInput(validation_issues(error)) from None
    except UnicodeEncodeError:  # pydantic-core cannot even read a lone surrogate in a dict key
        path, reason = unstorable_text(data) or ("", "text must be valid Unicode")
        raise InvalidInput([FieldIssue(path, reason)]) from None


def if_match_version() -> int | None:
    """The version an ``If-Match`` header asks to overwrite (None without one, or for ``*``);
    an unreadable header is a 412 rather than an unconditional write."""
    if not request.if_match or request.if_match.star_tag:
        return None
    tags = request.if_match.as_set()
    if len(tags) == 1 and next(iter(tags)).isdigit():
        return int(next(iter(tags)))
    raise StaleVersion("If-Match must be the single ETag this experiment was read with")


def api_actor() -> str:
    """The audit log's name for the request's API key: ``api key <prefix>``."""
    return f"api key {g.api_key.prefix}"


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def endpoint(
    *, summary: str, response: type[BaseModel], scope: Scope | None,
    body: type[BaseModel] | None = None, status: int = 200,
    query: type[BaseModel] | None = None, etag: Callable[[Any], object] | None = None,
    conditional: bool = False,
) -> Callable[[Callable[..., BaseModel]], Callable[..., Any]]:
    """Wrap a view: authorize ``scope``, parse ``body`` into ``payload``, commit, serialize.

    ``query`` only documents the query parameters; the view parses them itself. ``etag``
    picks the result's version, sent as a strong ``ETag`` for ``If-Match`` (see
    :func:`if_match_version`); ``conditional`` documents that the view honours ``If-Match``.
    """

    def decorate(view: Callable[..., BaseModel]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(**kwargs: Any) -> Any:
            if scope is not None:
                g.api_key = authenticate(session(), _bearer_token(), scope)
            if body is not None:
                kwargs["payload"] = parse(body, json_body())
            result = view(**kwargs)
            session().commit()
            response = jsonify(result.model_dump(mode="json"))
            if etag is not None:
                response.set_etag(str(etag(result)))
            return response, status

        setattr(wrapper, OPERATION_ATTRIBUTE, Operation(summary, scope, body, response, status,
                                                          query, conditional))
        return wrapper

    return decorate
