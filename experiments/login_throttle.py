"""Sign-in throttling shared by every worker: failure counts per account and per client
network live in the database, so N workers give a password guesser no N-fold budget.

The first :data:`FREE_FAILURES` failures under a key cost nothing; after that each attempt
must wait ``BASE_DELAY * 2 ** (failures - FREE_FAILURES)`` seconds after the last failure,
capped at :data:`MAX_DELAY`. An attempt is counted *before* its password is checked, in one
conditional upsert per key that also refuses it while the key waits, so a burst of parallel
guesses cannot all pass the check while the slow password hashes run. A refused attempt is not
counted, so the right password works as soon as the wait is over. Success clears the account's
count and takes back only its own attempt from the network's (an attacker's own account must
not launder a password spray). Counts are forgotten :data:`FORGET_AFTER` seconds after the
last failure (:func:`admit` deletes older rows).

Keys are SHA-256 digests, so any typed name (NUL included) fits the column; IPv6 clients are
counted per /64, the block one subscriber usually gets.
"""
from __future__ import annotations

import hashlib
import ipaddress
import itertools
import math
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, delete, select, update
from sqlalchemy.orm import Session

from experiments.db import upsert_insert
from experiments.errors import Throttled
from experiments.models import LoginThrottle

FREE_FAILURES = 5
BASE_DELAY = 1.0
MAX_DELAY = 300.0
FORGET_AFTER = 3600.0
IPV6_PREFIX = 64
assert FORGET_AFTER > MAX_DELAY  # a forgotten count has always finished its wait


@dataclass(frozen=True)
class ThrottleKeys:
    """The two counters one sign-in attempt goes under."""

    account: str
    network: str


def keys_for(username: str, address: str | None) -> ThrottleKeys:
    """The keys of an attempt on ``username`` from the client ``address``."""
    return ThrottleKeys(_digest("account", username), _digest("network", _network(address)))


def _network(address: str | None) -> str:
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return address or ""
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


def _digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode("utf-8", "surrogatepass")).hexdigest()


def delay(failures: int) -> float:
    """Seconds an attempt waits after the last failure once ``failures`` are counted."""
    if failures < FREE_FAILURES:
        return 0.0
    return min(MAX_DELAY, BASE_DELAY * 2.0 ** (failures - FREE_FAILURES))


def _delay_sql(failures: ColumnElement[int]) -> ColumnElement[float]:
    """:func:`delay` as a SQL ``CASE``, one branch per step below the cap."""
    steps = itertools.takewhile(lambda n: delay(n) < MAX_DELAY, itertools.count(FREE_FAILURES))
    return case((failures < FREE_FAILURES, 0.0), *((failures == n, delay(n)) for n in steps),
                else_=MAX_DELAY)


def admit(session: Session, keys: ThrottleKeys, now: float) -> None:
    """Count an attempt under both keys, or raise Throttled with the seconds left to wait.

    On Throttled the caller rolls back: the attempt may be counted under one key already.
    """
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.last_failure_at <= now - FORGET_AFTER))
    for key in (keys.account, keys.network):
        if not _count(session, key, now):
            raise Throttled("too many failed sign-ins; wait before trying again",
                            retry_after=_seconds_left(session, keys, now))


def _count(session: Session, key: str, now: float) -> bool:
    """One more attempt under ``key`` unless it is waiting; whether it was counted."""
    row = LoginThrottle.__table__.c
    statement = upsert_insert(session, LoginThrottle).values(
        key=key, failures=1, last_failure_at=now,
    ).on_conflict_do_update(
        index_elements=["key"],
        set_={"failures": row.failures + 1, "last_failure_at": now},
        where=row.last_failure_at + _delay_sql(row.failures) <= now,
    ).returning(row.failures)
    return session.execute(statement).first() is not None


def _seconds_left(session: Session, keys: ThrottleKeys, now: float) -> int:
    """Whole seconds until both keys may try again (at least 1: the attempt was refused)."""
    rows = session.execute(select(LoginThrottle.failures, LoginThrottle.last_failure_at).where(
        LoginThrottle.key.in_([keys.account, keys.network]))).all()
    left = max((last + delay(failures) - now for failures, last in rows), default=0.0)
    return max(1, math.ceil(left))


def succeeded(session: Session, keys: ThrottleKeys) -> None:
    """The password was right: forget the account's failures, take this attempt back from the
    network's count."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == keys.account))
    session.execute(update(LoginThrottle).where(
        LoginThrottle.key == keys.network, LoginThrottle.failures > 0,
    ).values(failures=LoginThrottle.failures - 1))
