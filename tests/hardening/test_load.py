"""Load without loss: 16 concurrent storefronts against a multi-worker gunicorn.

Events: 20,000 in batches of 100, retried like a storefront would (same ids) on connection
errors and 5xx; afterwards each is stored exactly once, no request ever failed with a 5xx
(SQLite's "database is locked" would be one) and none went unanswered. Assignments: the same
units asked for from several worker processes at once get one arm each, the stored one.

Unanswered means zero, not a few: each client sends its next request at once (never idle for
gunicorn's 5 s keep-alive), a worker serves far fewer than its ``max_requests`` here, and a
healthy request takes far less than the 30 s timeouts. So a refused, reset or timed-out attempt
is a worker that died, stalled or dropped a connection, which the retries would otherwise hide.
"""
from __future__ import annotations

import json
import queue
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import distinct, func, select

from experiments.db import make_engine
from experiments.models import Assignment, Event
from tests.hardening.conftest import Client, LiveServer, event_batch, unanswered

CLIENTS = 16
TOTAL_EVENTS = 20_000
BATCH = 100
UNITS = 48
ASKS_PER_UNIT = 4


def _send_batches(live: LiveServer, batches: queue.Queue[int]) -> Client:
    client = Client(live, live.seed.storefront_token)
    while True:
        try:
            number = batches.get_nowait()
        except queue.Empty:
            client.close()
            return client
        answer = client.call("POST", "/api/v1/events", event_batch("load", number, BATCH,
                                                                     live.seed))
        assert answer["accepted"] + answer["duplicates"] == BATCH


def test_load_without_loss(live: LiveServer, db_url: str) -> None:
    """One server start for both halves: gunicorn's start dominates the time on 2 cores."""
    _check_events_stored_exactly_once(live, db_url)
    _check_assignments_agree_across_workers(live, db_url)


def _check_events_stored_exactly_once(live: LiveServer, db_url: str) -> None:
    batches: queue.Queue[int] = queue.Queue()
    for number in range(TOTAL_EVENTS // BATCH):
        batches.put(number)
    with ThreadPoolExecutor(CLIENTS) as pool:
        clients = list(pool.map(lambda _: _send_batches(live, batches), range(CLIENTS)))
    failed = unanswered(clients)
    assert failed == [], f"{len(failed)} attempts got no answer: {failed[:5]}"
    statuses = [status for client in clients for status in client.statuses]
    assert [status for status in statuses if status >= 500] == []
    assert len(statuses) == TOTAL_EVENTS // BATCH  # one answer per batch: nothing retried
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            stored, unique = connection.execute(
                select(func.count(), func.count(distinct(Event.event_id)))
                .where(Event.event_id.like("load-%"))).one()
    finally:
        engine.dispose()
    assert stored == unique == TOTAL_EVENTS


def _ask(live: LiveServer, unit: str) -> tuple[str, Client]:
    """One /assign on a fresh connection, so consecutive asks land on different workers."""
    client = Client(live, live.seed.storefront_token)
    try:
        return client.call("POST", "/api/v1/assign", {
            "experiment": live.seed.experiment, "unit_id": unit,
            "attributes": {"channel": "chat"}})["arm"], client
    finally:
        client.close()


def _check_assignments_agree_across_workers(live: LiveServer, db_url: str) -> None:
    units = [f"shared-{i}" for i in range(UNITS)] * ASKS_PER_UNIT
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(lambda unit: (unit, *_ask(live, unit)), units))
    failed = unanswered(client for _, _, client in answers)
    assert failed == [], f"{len(failed)} attempts got no answer: {failed[:5]}"
    seen: defaultdict[str, set[str]] = defaultdict(set)
    for unit, arm, _ in answers:
        seen[unit].add(arm)
    assert all(len(unit_arms) == 1 for unit_arms in seen.values()), seen
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            stored = dict(connection.execute(select(Assignment.unit_id, Assignment.arm)
                                             .where(Assignment.unit_id.like("shared-%"))).all())
    finally:
        engine.dispose()
    assert stored == {unit: next(iter(unit_arms)) for unit, unit_arms in seen.items()}
    lines = [json.loads(line) for line in live.server.log_path.read_text().splitlines()
             if line.startswith("{")]
    workers = {line["pid"] for line in lines if line["path"] == "/api/v1/assign"}
    assert len(workers) >= 2, "every request went to one worker: the test proves nothing"
