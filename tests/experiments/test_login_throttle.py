"""The sign-in throttle's counting, on both backends: the wait schedule against the rule as the
issue words it (5 free failures, then 1 s, 2 s, 4 s … capped), exact counting under a burst of
parallel attempts, forgetting, and the keys; and the migration that adds it (with the users'
session tokens).
"""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, column, insert, inspect, select, table
from sqlalchemy.orm import Session

from experiments import login_throttle
from experiments.db import make_engine, make_session_factory, upgrade
from experiments.errors import Throttled
from experiments.login_throttle import ThrottleKeys, admit, keys_for, succeeded
from experiments.models import User

T0 = 1_800_000_000.0
KEYS = keys_for("ed", "192.0.2.7")


def attempt(session: Session, now: float, keys: ThrottleKeys = KEYS) -> int | None:
    """None when admitted (and committed), else the Retry-After seconds."""
    try:
        admit(session, keys, now)
    except Throttled as refused:
        session.rollback()
        return refused.retry_after
    session.commit()
    return None


def test_waits_double_after_five_failures_up_to_the_cap(session: Session) -> None:
    now = T0
    for _ in range(5):
        assert attempt(session, now) is None
    # Independent statement of the rule: wait 2**k seconds after the (5+k)-th failure, <= 300.
    expected = [min(2 ** k, 300) for k in range(12)]
    seen = []
    for wait in expected:
        seen.append(attempt(session, now))
        assert attempt(session, now + wait - 0.5) is not None  # still waiting
        now += wait
        assert attempt(session, now) is None
    assert seen == expected


def test_a_refused_attempt_is_not_counted(session: Session) -> None:
    for _ in range(5):
        attempt(session, T0)
    for tries in range(20):
        assert attempt(session, T0 + tries * 0.01) == 1
    assert attempt(session, T0 + 1) is None  # the 6th counted attempt
    assert attempt(session, T0 + 1) == 2  # waits 2 s, as after 6 failures, not after 26


def test_success_clears_the_account_but_not_the_network(session: Session) -> None:
    for _ in range(5):
        attempt(session, T0)
    attempt(session, T0 + 1)  # the 6th: right password
    succeeded(session, KEYS)
    session.commit()
    other_account = keys_for("vi", "192.0.2.7")
    assert attempt(session, T0 + 1, other_account) == 1  # the network still has 5 failures
    assert attempt(session, T0 + 2, other_account) is None
    mine_elsewhere = keys_for("ed", "198.51.100.1")
    for _ in range(5):  # the account starts afresh
        assert attempt(session, T0 + 2, mine_elsewhere) is None


def test_one_key_waiting_refuses_without_counting_the_other(session: Session) -> None:
    for number in range(5):
        attempt(session, T0, keys_for(f"user{number}", "192.0.2.7"))
    fresh_account = keys_for("ed", "192.0.2.7")
    assert attempt(session, T0, fresh_account) == 1  # the network waits
    for _ in range(5):  # and nothing was counted for "ed" (rolled back)
        assert attempt(session, T0 + 1, keys_for("ed", "198.51.100.1")) is None


def test_counts_are_forgotten_an_hour_after_the_last_failure(session: Session) -> None:
    for minute in range(9):
        attempt(session, T0 + 60 * minute)
    assert attempt(session, T0 + 480) is not None
    later = T0 + 480 + login_throttle.FORGET_AFTER
    for _ in range(5):
        assert attempt(session, later) is None


def test_a_burst_of_parallel_attempts_admits_exactly_the_free_ones(engine: Engine) -> None:
    """20 workers at once (own connections): the count is taken before the password check,
    so exactly 5 get through, however the attempts interleave."""
    factory = make_session_factory(engine)
    start = threading.Barrier(20)
    outcomes: list[int | None] = []

    def worker() -> None:
        with factory() as session:
            start.wait()
            outcomes.append(attempt(session, T0))

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(None) == 5 and outcomes.count(1) == 15


@pytest.mark.parametrize("name", ["a\x00b", "\udcff", "x" * 5000])
def test_any_typed_name_is_a_fixed_size_key(session: Session, name: str) -> None:
    keys = keys_for(name, "192.0.2.7")
    assert len(keys.account) == 64
    assert attempt(session, T0, keys) is None


def test_ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert keys_for("ed", "2001:db8:1:2::1") == keys_for("ed", "2001:db8:1:2:ffff::9")
    assert keys_for("ed", "2001:db8:1:2::1") != keys_for("ed", "2001:db8:1:3::1")
    assert keys_for("ed", "::ffff:192.0.2.7") == KEYS
    assert keys_for("ed", "192.0.2.8") != KEYS
    assert keys_for("ed", "192.0.2.7").account == keys_for("ed", None).account


def test_upgrading_gives_each_existing_user_a_token_of_their_own(db_url: str) -> None:
    """Migration 0006 on a database with users (0005): each gets a distinct random token, so
    cookies from before (the bare id) sign in no more, and the column is NOT NULL."""
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0005")
        users = table("users", column("username"), column("password_hash"), column("role"),
                      column("created_at"))
        with engine.begin() as connection:
            connection.execute(insert(users), [
                {"username": name, "password_hash": "x", "role": "viewer",
                 "created_at": datetime(2026, 11, 1, tzinfo=UTC)} for name in ("a", "b", "c")])
        upgrade(engine)
        with make_session_factory(engine)() as session:
            tokens = session.scalars(select(User.session_token)).all()
        assert len(tokens) == 3 == len(set(tokens))
        assert all(re.fullmatch(r"[0-9a-f]{32}", token) for token in tokens)
        columns = {found["name"]: found for found in inspect(engine).get_columns("users")}
        assert columns["session_token"]["nullable"] is False
    finally:
        engine.dispose()
