"""Crash safety: kill -9 gunicorn's whole process group while events stream in, restart.

Every batch that was answered 2xx before the crash is stored; the client's retries of the rest
(and of a few acknowledged ones, as a client unsure of its last answers would) store nothing
twice; the database is consistent afterwards: migrations at head, no dangling foreign key,
and on SQLite ``PRAGMA integrity_check`` / ``foreign_key_check`` clean after WAL recovery.
"""
from __future__ import annotations

import json
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine, distinct, func, select

from bench.servers import get_json
from experiments.db import current_revision, make_engine
from experiments.models import Event
from tests.hardening.conftest import Client, LiveServer, event_batch, foreign_key_violations
from web.api.meta import head_revisions

BATCHES = 80
BATCH = 50
STREAMS = 4
ACKNOWLEDGED_BEFORE_KILL = 10


def _stream_once(live: LiveServer, batches: queue.Queue[int], acknowledged: list[int],
                 pending: list[int]) -> None:
    """Send each batch once: 2xx goes to ``acknowledged``, anything else to ``pending``."""
    client = Client(live, live.seed.storefront_token)
    while True:
        try:
            number = batches.get_nowait()
        except queue.Empty:
            client.close()
            return
        try:
            client.call("POST", "/api/v1/events", event_batch("crash", number, BATCH, live.seed),
                        attempts=1)
            acknowledged.append(number)
        except AssertionError:
            pending.append(number)


def test_kill_9_mid_stream_loses_nothing_and_duplicates_nothing(live: LiveServer,
                                                                 db_url: str) -> None:
    batches: queue.Queue[int] = queue.Queue()
    for number in range(BATCHES):
        batches.put(number)
    acknowledged: list[int] = []
    pending: list[int] = []
    streams = [threading.Thread(target=_stream_once, args=(live, batches, acknowledged, pending))
               for _ in range(STREAMS)]
    for stream in streams:
        stream.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < ACKNOWLEDGED_BEFORE_KILL and time.monotonic() < deadline:
        time.sleep(0.01)
    live.server.kill()
    for stream in streams:
        stream.join()
    assert len(acknowledged) >= ACKNOWLEDGED_BEFORE_KILL and pending, "kill was not mid-stream"

    engine = make_engine(db_url)
    try:
        stored = set(_stored_ids(engine))
        assert {f"crash-{n}-{i}" for n in acknowledged for i in range(BATCH)} <= stored
        live.restart()
        _retry(live, sorted(pending) + sorted(acknowledged)[:3])
        ids = _stored_ids(engine)
        assert len(ids) == len(set(ids)) == BATCHES * BATCH
        _check_consistent(engine, live)
    finally:
        engine.dispose()


def _retry(live: LiveServer, numbers: list[int]) -> None:
    """Resend batches with their original ids until answered, from two clients at once."""
    def send(number: int) -> None:
        client = Client(live, live.seed.storefront_token)
        try:
            client.call("POST", "/api/v1/events", event_batch("crash", number, BATCH, live.seed))
        finally:
            client.close()

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(send, numbers))


def _stored_ids(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(Event.event_id)
                                       .where(Event.event_id.like("crash-%"))))


def _check_consistent(engine: Engine, live: LiveServer) -> None:
    assert frozenset([current_revision(engine)]) == head_revisions()
    status, body = get_json(live.server.url + "/healthz")
    assert status == 200 and json.loads(body)["migrations"]["up_to_date"] is True
    assert foreign_key_violations(engine) == 0
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    with engine.connect() as connection:
        total = connection.scalar(select(func.count(distinct(Event.event_id))))
        assert total == connection.scalar(select(func.count()).select_from(Event))
