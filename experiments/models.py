"""SQLAlchemy 2 typed models: the tables the services read and write.

Analysis later groups rows in SQL (COUNT/SUM per arm and period), so what it needs is stored as
plain columns: the arm key and weights version of each assignment, the assignment time
(exposure), the event name/value/time and an ``unexposed`` flag.
"""
from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

OUT_OF_BOUND = "abs(value) > 1e15"
"""Events beyond any metric's bound (experiments.schema.MAX_ABS_VALUE_LIMIT), as SQL: the
predicate of their partial index (migration 0008), written alike in the query that counts
them, since SQLite uses a partial index only for a term written like its own."""


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp is stored in UTC."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """A random per-user session token: every sign-in cookie names it, so replacing it ends
    every session of the user at once (see experiments.users.end_sessions)."""
    return secrets.token_hex(16)


class UtcDateTime(TypeDecorator[datetime]):
    """DateTime that always goes in as UTC and comes out timezone-aware.

    SQLite has no time zones and returns naive values; this makes both backends agree.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base; JSON columns hold dicts/lists (definitions, attributes, weights)."""

    type_annotation_map = {dict[str, Any]: JSON, list[float]: JSON, datetime: UtcDateTime}


class Experiment(Base):
    """One experiment: its validated definition plus lifecycle state.

    ``version`` grows on every change (definition, status, weights) so processes can cache
    the compiled definition keyed by (id, version) and check it in the same query that looks
    up a unit's sticky assignment.
    """

    __tablename__ = "experiments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    definition: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    weights: Mapped[list[float]]
    weights_version: Mapped[int] = mapped_column(Integer, default=1)
    winner_arm: Mapped[str | None] = mapped_column(String(500))
    layer_name: Mapped[str | None] = mapped_column(String(64), index=True)
    layer_start: Mapped[float | None] = mapped_column(Float)
    layer_end: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    promoted_at: Mapped[datetime | None]
    archived_at: Mapped[datetime | None]


class WeightsPeriod(Base):
    """Weights in force from ``valid_from``: one row per weights version (allocation period).

    Thompson allocation appends rows; assignments point at the version they were drawn under.
    """

    __tablename__ = "weights_periods"

    experiment_id: Mapped[int] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    weights: Mapped[list[float]]
    valid_from: Mapped[datetime] = mapped_column(default=utcnow)


class Assignment(Base):
    """The sticky arm of one unit in one experiment; the row is also the exposure record."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("experiment_id", "unit_id", name="uq_assignment_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    unit_id: Mapped[str] = mapped_column(String(200), index=True)
    arm: Mapped[str] = mapped_column(String(500))
    weights_version: Mapped[int] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]]
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """A conversion, payment, revenue or complaint reported by the storefront."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_experiment_name", "experiment_id", "name"),
        Index("ix_events_unit", "unit_id"),
        # Covering index of the results join (migration 0003): unit, metric name, time window.
        Index("ix_events_unit_name_time", "unit_id", "name", "occurred_at", "experiment_id",
              "unexposed", "value"),
        Index("ix_events_out_of_bound", "name", "unit_id", sqlite_where=text(OUT_OF_BOUND),
              postgresql_where=text(OUT_OF_BOUND)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE")
    )
    unit_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    unexposed: Mapped[bool] = mapped_column(Boolean, default=False)


class Feedback(Base):
    """The post-chat survey, with the variants the shopper saw of the units they named."""

    __tablename__ = "feedback"
    __table_args__ = (Index("ix_feedback_experiment", "experiment_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    unit_id: Mapped[str] = mapped_column(String(200))
    arm: Mapped[str | None] = mapped_column(String(500))
    rating: Mapped[int] = mapped_column(Integer)
    helpful: Mapped[bool] = mapped_column(Boolean)
    moved_by: Mapped[str | None] = mapped_column(String(64))
    moved_by_variant: Mapped[str | None] = mapped_column(String(64))
    confused_by: Mapped[str | None] = mapped_column(String(64))
    confused_by_variant: Mapped[str | None] = mapped_column(String(64))
    comment: Mapped[str | None] = mapped_column(Text)
    unexposed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key: only the sha256 of the token is kept; ``prefix`` finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    scope: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class User(Base):
    """A marketer who signs in to the web app; only a salted password hash is kept.

    ``role`` is ``viewer`` (read), ``editor`` (define and move experiments) or ``admin``
    (also manages users). ``session_token`` is part of every session cookie of the user and is
    replaced on logout, password and role change, which ends those sessions on every worker.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    session_token: Mapped[str] = mapped_column(String(32), default=new_session_token)


class LoginThrottle(Base):
    """Recent failed sign-ins under one key (a hashed account name or client network), shared
    by every worker (experiments.login_throttle).

    ``last_failure_at`` is epoch seconds, not a timestamp column: the wait is checked in the
    same statement that counts the attempt, and plain number arithmetic is the same SQL on
    SQLite and PostgreSQL.
    """

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[float] = mapped_column(Float, index=True)


class AuditEntry(Base):
    """Who changed which experiment, when, and what (create, edit, start, pause, stop, promote,
    archive, unarchive).

    ``actor`` is a user name or ``api key <prefix>``; ``detail`` says what changed. Removals
    (``delete`` of an experiment, ``erase`` of a shopper's rows) have no ``experiment_id``:
    their entry outlives what they removed (experiments.removal).
    """

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_experiment", "experiment_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int | None] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerSegment(Base):
    """A unit's RFM segment attributes from the latest order import (experiments.segments).

    The primary key is the unit id so /assign merges them with one indexed lookup.
    """

    __tablename__ = "customer_segments"

    unit_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    segment: Mapped[str] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any]]
    scored_as_of: Mapped[datetime]
    imported_at: Mapped[datetime] = mapped_column(default=utcnow)
