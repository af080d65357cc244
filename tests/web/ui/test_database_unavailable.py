"""A database that is down or locked is a 503 with Retry-After (JSON on the API, the error
page in the UI) so clients retry; the answer never carries the driver's message, which can name
hosts. The OpenAPI document says so, and documents If-Match and 412 where a write honours it."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import OperationalError

from experiments import definitions
from tests.web.test_api_errors import check_error

SECRET = "could not connect to server at db-internal.example:5432"


@pytest.fixture
def database_down(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT 1", None, Exception(SECRET))

    monkeypatch.setattr(definitions, "list_experiments", refuse)


@pytest.mark.usefixtures("database_down")
def test_the_api_answers_503_with_retry_after(
    client: FlaskClient, admin_headers: dict[str, str]
) -> None:
    answer = client.get("/api/v1/experiments", headers=admin_headers)
    check_error(answer, 503, "service_unavailable")
    assert int(answer.headers["Retry-After"]) > 0
    assert SECRET not in answer.get_data(as_text=True)


@pytest.mark.usefixtures("database_down")
def test_the_ui_shows_its_error_page_with_retry_after(
    signed_in: Callable[[str], FlaskClient],
) -> None:
    answer = signed_in("ed").get("/", follow_redirects=True)
    assert answer.status_code == 503
    assert answer.mimetype == "text/html"
    assert int(answer.headers["Retry-After"]) > 0
    assert SECRET not in answer.get_data(as_text=True)


def test_openapi_documents_internal_errors_and_conditional_writes(
    app: Flask, client: FlaskClient
) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for item in paths.values():
        for operation in item.values():
            assert {"500", "503"} <= operation["responses"].keys()
    update = paths["/api/v1/experiments/{key}"]["put"]
    assert "412" in update["responses"]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in update["parameters"])
    unconditional = paths["/api/v1/experiments"]["post"]
    assert "412" not in unconditional["responses"]
