"""A real multi-worker gunicorn (the production gunicorn.conf.py) on 127.0.0.1:<free port>,
against the SQLite file or PostgreSQL of the ``db_url`` fixture, and an HTTP client that
retries the way a storefront should: same body, same event ids, on connection errors and 5xx.
"""
from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, and_, exists, func, select
from sqlalchemy.schema import MetaData

from bench.servers import GunicornServer, Seed, seed_database

# Several processes (the point of these tests) but bounded for a 2-core CI machine.
SERVER_SETTINGS = {"ABTEST_WORKERS": "3", "ABTEST_WORKER_CLASS": "gthread", "ABTEST_THREADS": "2"}


@dataclass
class LiveServer:
    """A started gunicorn and the seed of its database."""

    server: GunicornServer
    seed: Seed

    def restart(self) -> None:
        """A new gunicorn (new port) on the same database, as after a crash."""
        self.server = GunicornServer(self.server.database_url, self.server.log_path,
                                     settings=SERVER_SETTINGS).start()


@pytest.fixture
def live(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """Seeded database + running server; stopped (group SIGTERM, then SIGKILL) at teardown."""
    seed = seed_database(db_url, returning_units=50)
    server = GunicornServer(db_url, tmp_path / "gunicorn.log", settings=SERVER_SETTINGS)
    running = LiveServer(server.start(), seed)
    yield running
    running.server.stop()


@dataclass
class Client:
    """One storefront: a keep-alive connection, reopened after errors; records what it saw.

    ``failures`` keeps every attempt that got no answer at all (refused, reset, timed out), so a
    test can tell a server that answers everything from one whose workers die or stall behind
    the retries.
    """

    live: LiveServer
    token: str
    statuses: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _connection: http.client.HTTPConnection | None = None

    def _send(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self._connection is None:
            self._connection = http.client.HTTPConnection("127.0.0.1", self.live.server.port,
                                                          timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        self._connection.request(method, path, body, headers)
        answer = self._connection.getresponse()
        return answer.status, answer.read()

    def call(self, method: str, path: str, payload: Any = None, attempts: int = 60
             ) -> dict[str, Any]:
        """The JSON answer, retrying the identical request on connection errors and 5xx."""
        body = None if payload is None else json.dumps(payload).encode()
        for _ in range(attempts):
            try:
                status, raw = self._send(method, path, body)
            except (OSError, http.client.HTTPException) as error:
                self.close()
                self.failures.append(f"{method} {path}: {error!r}")
                time.sleep(0.2)
                continue
            self.statuses.append(status)
            if status < 500:
                assert 200 <= status < 300, (status, raw[:500])
                return json.loads(raw)
            time.sleep(0.05)
        raise AssertionError(f"{method} {path}: no answer after {attempts} attempts")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def unanswered(clients: Iterable[Client]) -> list[str]:
    """Every attempt of ``clients`` that got no answer, for an assertion message."""
    return [failure for client in clients for failure in client.failures]


def event_batch(prefix: str, number: int, size: int, seed: Seed) -> dict[str, Any]:
    """Batch ``number``: event ids ``prefix-number-i`` on the seed's returning units."""
    units = seed.returning_units
    return {"events": [{"event_id": f"{prefix}-{number}-{i}", "unit_id": units[i % len(units)],
                        "experiment": seed.experiment, "name": "conversion"}
                       for i in range(size)]}


def foreign_key_violations(engine: Engine) -> int:
    """Rows whose foreign key points nowhere, over every reflected constraint (any dialect)."""
    metadata = MetaData()
    metadata.reflect(engine)
    total = 0
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for constraint in table.foreign_key_constraints:
                pairs = [(element.parent, element.column) for element in constraint.elements]
                orphan = and_(*[child.is_not(None) for child, _ in pairs], ~exists().where(
                    and_(*[child == parent for child, parent in pairs])))
                total += connection.scalar(
                    select(func.count()).select_from(table).where(orphan)) or 0
    return total
