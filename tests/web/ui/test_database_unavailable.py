"""A database that is down or locked is a 503 with Retry-After (JSON on the API, the error page
in the UI) so clients retry; the answer never carries the driver's message, which can name
hosts. A write racing a removal (an experiment deleted meanwhile) is a 409 that stores nothing. The
OpenAPI document says so, and documents If-Match and 412 where a write honours it."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from experiments import definitions, tracking
from experiments.models import Event
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


def test_an_event_for_an_experiment_deleted_meanwhile_is_a_409_that_stores_nothing(
    app: Flask, client: FlaskClient, storefront_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch, started: Callable[..., dict],
) -> None:
    """The race of a delete between the batch's experiment check and its insert, made
    deterministic: the check answers with the id of an experiment that no longer exists."""
    started()
    deleted = 10_000_000
    monkeypatch.setattr(tracking, "_experiments_named",
                        lambda _session, events: ({"urgency-close": deleted}, {}))
    event = {"event_id": "e-race", "unit_id": "u1", "experiment": "urgency-close",
             "name": "conversion"}
    answer = client.post("/api/v1/events", json={"events": [event]},
                         headers=storefront_headers)
    check_error(answer, 409, "conflict")
    with app.extensions["abtest"].session_factory() as session:
        assert session.scalars(select(Event).where(Event.event_id == "e-race")).first() is None
