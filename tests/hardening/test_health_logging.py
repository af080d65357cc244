"""/healthz readiness and the JSON request log.

/healthz: 200 with details when the database answers and is at the Alembic head; 503 with
details when the schema is behind or the database is unreachable. Log: one JSON line per
request with id, method, path, status and latency; a caller's X-Request-ID is echoed, an
unsafe one is replaced.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import MetaData, Table, update

from bench.servers import free_port
from experiments.db import alembic_config
from web.api.meta import head_revisions
from web.app import create_app
from web.observability import LOGGER_NAME, REQUEST_ID_HEADER


def test_healthz_reports_database_and_migrations(app: Flask) -> None:
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200
    assert answer.json["status"] == "ok"
    assert answer.json["database"]["reachable"] is True
    assert answer.json["migrations"]["current"] == sorted(head_revisions())
    assert answer.json["migrations"]["up_to_date"] is True


def test_healthz_is_503_when_migrations_are_behind(app: Flask) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_revision(next(iter(head_revisions())))
    engine = app.extensions["abtest"].engine
    version = Table("alembic_version", MetaData(), autoload_with=engine)
    with engine.begin() as connection:
        connection.execute(update(version).values(version_num=head.down_revision))
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json["status"] == "unavailable"
    assert answer.json["migrations"]["up_to_date"] is False


def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    app = create_app({"DATABASE_URL": url, "TESTING": True, "AUTO_MIGRATE": False})
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert answer.json["database"] == {"reachable": False}
    assert "nowhere" not in answer.get_data(as_text=True)  # no driver message leaks


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], list[dict]]]:
    """The JSON documents logged by ``abtest.request`` (it does not propagate to root)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.addHandler(caplog.handler)
    yield lambda: [json.loads(record.getMessage()) for record in caplog.records
                   if record.name == LOGGER_NAME]
    logger.removeHandler(caplog.handler)


def test_one_json_line_per_request_with_echoed_request_id(
        app: Flask, request_log: Callable[[], list[dict]]) -> None:
    client = app.test_client()
    given = client.get("/api/v1/health", headers={REQUEST_ID_HEADER: "shop-42.abc"})
    generated = client.post("/api/v1/assign", json={})
    unsafe = client.get("/nowhere", headers={REQUEST_ID_HEADER: "x\" forged=\"" + "y" * 200})
    assert given.headers[REQUEST_ID_HEADER] == "shop-42.abc"
    assert len(generated.headers[REQUEST_ID_HEADER]) == 32
    assert len(unsafe.headers[REQUEST_ID_HEADER]) == 32  # replaced, not echoed
    lines = request_log()
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/api/v1/health", 200), ("POST", "/api/v1/assign", 401), ("GET", "/nowhere", 404)]
    assert [line["request_id"] for line in lines] == [
        answer.headers[REQUEST_ID_HEADER] for answer in (given, generated, unsafe)]
    assert all(line["latency_ms"] >= 0 and isinstance(line["pid"], int) for line in lines)
