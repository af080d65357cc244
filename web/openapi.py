"""The OpenAPI 3.1 document, generated from the app's routes and the pydantic models.

Every API view carries an :class:`Operation` (set by ``web.endpoint.endpoint``); walking
``app.url_map`` means a new route cannot be forgotten in the document.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from web.schemas import ErrorOut

OPERATION_ATTRIBUTE = "openapi_operation"
API_PREFIX = "/api/v1"
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_ERRORS = {
    "400": "Malformed JSON or not a JSON object", "401": "Missing or invalid API key",
    "403": "API key scope too narrow", "404": "Unknown experiment or route",
    "405": "Method not allowed", "409": "Conflict with the current state",
    "413": "Body too large", "422": "Invalid field (see error.field)",
    "500": "Internal error (logged; the body names no internals)",
    "503": "Database unavailable: retry after the Retry-After header's seconds",
}
_STALE = "If-Match names an older version than the stored one: nothing was written"
_IF_MATCH = {"name": "If-Match", "in": "header", "required": False,
             "description": "The ETag of the GET this write is based on (optional)",
             "schema": {"type": "string"}}


@dataclass(frozen=True)
class Operation:
    """OpenAPI facts about one view; ``response`` None means a free-form JSON object."""

    summary: str
    scope: Literal["storefront", "admin"] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    query: type[BaseModel] | None = None
    conditional: bool = False


def api_operations(app: Flask) -> list[tuple[str, str, Operation | None]]:
    """(OpenAPI path, lower-case method, operation or None if undocumented) per API route."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX):
            continue
        operation = getattr(app.view_functions[rule.endpoint], OPERATION_ATTRIBUTE, None)
        path = _RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((path, method.lower(), operation))
    return found


def build_openapi(app: Flask) -> dict[str, Any]:
    """The whole document; schemas are pydantic's JSON Schemas under components."""
    operations = api_operations(app)
    models = {ErrorOut}
    for _path, _method, operation in operations:
        if operation is not None:
            models |= {m for m in (operation.body, operation.response) if m is not None}
    keyed = [(model, mode) for model in sorted(models, key=lambda m: m.__name__)
             for mode in ("validation", "serialization")]
    refs, defs = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for path, method, operation in operations:
        if operation is not None:
            paths.setdefault(path, {})[method] = _operation(path, method, operation, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "abtest API", "version": "1",
                 "description": "Sticky assignment of sales-script variants, events, feedback"
                                " and experiment administration."},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "API key (scope storefront or admin)"}},
        },
    }


def _operation(path: str, method: str, operation: Operation,
               refs: dict[tuple[type[BaseModel], str], dict[str, Any]]) -> dict[str, Any]:
    error = {"description": "error", "content": {"application/json": {
        "schema": refs[(ErrorOut, "serialization")]}}}
    response_schema = (refs[(operation.response, "serialization")]
                       if operation.response else {"type": "object"})
    document: dict[str, Any] = {
        "summary": operation.summary,
        "operationId": f"{method}_{path.removeprefix(API_PREFIX).strip('/')}"
                       .replace("/", "_").replace("{", "").replace("}", ""),
        "responses": {
            str(operation.status): {"description": "success", "content": {
                "application/json": {"schema": response_schema}}},
            **{code: {**error, "description": text} for code, text in _ERRORS.items()},
        },
    }
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in re.findall(r"{([^}]+)}", path)]
    parameters += _query_parameters(operation.query)
    if operation.conditional:
        parameters.append(_IF_MATCH)
        document["responses"]["412"] = {**error, "description": _STALE}
    if parameters:
        document["parameters"] = parameters
    if operation.body is not None:
        document["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": refs[(operation.body, "validation")]}}}
    document["security"] = [{"bearer": []}] if operation.scope else []
    if operation.scope:
        document["description"] = f"Needs an API key with scope {operation.scope}" + (
            " (or admin)." if operation.scope == "storefront" else ".")
    return document


def _query_parameters(model: type[BaseModel] | None) -> list[dict[str, Any]]:
    """One ``in: query`` parameter per field of ``model`` (its JSON Schema as the schema)."""
    if model is None:
        return []
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    return [{"name": name, "in": "query", "required": name in required,
             "description": field.pop("description", ""), "schema": field}
            for name, field in schema["properties"].items()]
