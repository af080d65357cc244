"""Sufficient statistics of an experiment, aggregated in SQL (DESIGN.md, "Analysis never loads
raw rows into Python").

One two-level query, built from SQLAlchemy constructs so it runs unchanged on SQLite and
PostgreSQL:

1. per unit (:func:`_per_unit`): each exposed assignment with one correlated subquery per metric
   over ``events`` of the unit and the metric's name with ``assigned_at <= occurred_at
   [<= window end]``, keeping events of this experiment or of no experiment (``experiment_id IS
   NULL`` counts for every experiment the unit is in) and dropping events flagged
   ``unexposed``. A binary metric is 1 when such an event exists; a numeric metric is the sum
   of their values (a missing value counts 0); a unit without events gets 0. Values beyond
   :data:`~experiments.schema.MAX_ABS_VALUE_LIMIT`, which the API refuses but rows stored
   before that bound existed may hold, are left out (:func:`out_of_bound_events` counts them):
   ``SUM(x*x)`` over 1e160 overflows PostgreSQL's double and the analysis' floats.
2. per group (arm, weights version, UTC exposure day, segment): ``COUNT``, ``SUM(x)`` and
   ``SUM(x*x)``.

A query runs on one core: SQLite has no parallel query, and PostgreSQL does not run plans with
correlated subqueries in parallel workers. For a large experiment the units are split into
assignment-id ranges aggregated at once on their own connections (:func:`_shard_ranges`), and
the few group rows of the shards are added up: the sums are the same, the wall time is divided
by the cores used.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Engine,
    Row,
    Select,
    case,
    cast,
    exists,
    func,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

from abtest.stats.analysis_types import MetricSpec
from abtest.stats.summary import SampleStats
from experiments.models import OUT_OF_BOUND, Assignment, Event
from experiments.schema import MAX_ABS_VALUE_LIMIT

#: Label of the segment values outside the top N by traffic.
OTHER = "(other)"
#: Label of units whose exposure attributes lack the segment key.
MISSING = "(none)"
DEFAULT_TOP_SEGMENTS = 5
#: Exposed units from which a SQLite file is aggregated on several connections at once; below
#: it one query takes well under a second and the extra connections would not pay.
SHARD_MIN_UNITS = 100_000
#: At most this many concurrent shards (one core each).
MAX_SHARDS = 4

IdRange = tuple[int, int]


@dataclass(frozen=True)
class GroupStats:
    """Sufficient statistics of the units of one (arm, weights version, day, segment) group.

    ``stats`` has one ``SampleStats`` per metric, in the order the metrics were asked for.
    """

    arm: str
    weights_version: int
    day: str
    segment: str | None
    stats: tuple[SampleStats, ...]

    @property
    def key(self) -> tuple[str, int, str, str | None]:
        return self.arm, self.weights_version, self.day, self.segment


def group_statistics(
    session: Session,
    experiment_id: int,
    metrics: Sequence[MetricSpec],
    *,
    segment: str | None = None,
    top: int = DEFAULT_TOP_SEGMENTS,
    until: datetime | None = None,
) -> list[GroupStats]:
    """COUNT/SUM/SUM(x*x) per arm, weights version, UTC exposure day and segment, in SQL.

    Parameters
    ----------
    session : Session
    experiment_id : int
    metrics : sequence of MetricSpec
        Event names and kinds; ``GroupStats.stats`` follows this order.
    segment : str, optional
        Exposure attribute (key of ``Assignment.attributes``) to break down by: its ``top``
        values by units keep their name, the others become ``"(other)"``.
    until : datetime, optional
        End of the analysis window; units exposed after it and events after it are ignored.
    """
    top_values = _top_values(session, experiment_id, segment, top, until)
    queries = [
        _grouped(session, experiment_id, metrics, segment, top_values, until, ids)
        for ids in _shard_ranges(session, experiment_id, until)
    ]
    if len(queries) == 1:
        rows: Iterable[Row[Any]] = session.execute(queries[0])
    else:
        rows = _execute_concurrently(session.get_bind().engine, queries)
    return _merged(_group(row, len(metrics)) for row in rows)


def _grouped(
    session: Session,
    experiment_id: int,
    metrics: Sequence[MetricSpec],
    segment: str | None,
    top_values: list[str | None],
    until: datetime | None,
    ids: IdRange | None,
) -> Select[Any]:
    """The outer level: the group sums over the per-unit rows (of the ``ids`` range if given)."""
    per_unit = _per_unit(session, experiment_id, metrics, segment, until, ids).subquery("unit")
    label = _segment_label(per_unit.c.segment, segment, top_values)
    sums = []
    for i in range(len(metrics)):
        value = per_unit.c[f"m{i}"]
        sums += [func.coalesce(func.sum(value), 0.0), func.coalesce(func.sum(value * value), 0.0)]
    keys = (per_unit.c.arm, per_unit.c.weights_version, per_unit.c.day, label.label("segment"))
    return select(*keys, func.count(), *sums).group_by(*keys)


def _per_unit(
    session: Session,
    experiment_id: int,
    metrics: Sequence[MetricSpec],
    segment: str | None,
    until: datetime | None,
    ids: IdRange | None,
) -> Select[Any]:
    """One row per exposed unit with its raw segment value and metric values.

    Each metric is a correlated subquery (an index range probe per unit) rather than one
    ``LEFT JOIN events ... GROUP BY unit``: the join pushed every matching event row through
    an aggregator, about 40% slower on SQLite on the events of ``bench.analysis_speed`` (the
    same time on PostgreSQL). ``offset(0)`` keeps this a subquery of its own (``LIMIT -1
    OFFSET 0`` on SQLite, ``OFFSET 0`` on PostgreSQL): SQLite would otherwise flatten it into
    the outer ``GROUP BY`` and run each subquery once per use there, three times for a numeric
    metric's ``SUM(x)`` and ``SUM(x*x)``.
    """
    counted = _counted(until)
    exposed = _exposed(experiment_id, until)
    if ids is not None:
        exposed += [Assignment.id >= ids[0], Assignment.id < ids[1]]
    raw_segment = null() if segment is None else _segment_expression(segment)
    return (
        select(
            Assignment.arm.label("arm"),
            Assignment.weights_version.label("weights_version"),
            _utc_day(session, Assignment.assigned_at).label("day"),
            raw_segment.label("segment"),
            *[_metric_value(m, counted).label(f"m{i}") for i, m in enumerate(metrics)],
        )
        .where(*exposed)
        .offset(0)
    )


def _metric_value(metric: MetricSpec, counted: Sequence[ColumnElement[bool]]) -> Any:
    """Per-unit value as a correlated subquery on ``counted`` events of the metric's name:
    1 if there is one (binary), else the sum of their values (a missing value counts 0)."""
    mine = [Event.name == metric.name, *counted]
    if metric.kind == "binary":
        return case((exists().where(*mine), 1), else_=0)
    total = func.coalesce(func.sum(func.coalesce(Event.value, 0.0)), 0.0)
    return select(total).where(*mine, _in_bound()).scalar_subquery()


def _counted(until: datetime | None) -> list[ColumnElement[bool]]:
    """An event counts for an assignment: same unit, this experiment or none, exposed, inside
    the window from the exposure to ``until``."""
    counted = [
        Event.unit_id == Assignment.unit_id,
        or_(Event.experiment_id == Assignment.experiment_id, Event.experiment_id.is_(None)),
        Event.unexposed.is_(False),
        Event.occurred_at >= Assignment.assigned_at,
    ]
    if until is not None:
        counted.append(Event.occurred_at <= until)
    return counted


def _in_bound() -> ColumnElement[bool]:
    return or_(Event.value.is_(None), func.abs(Event.value) <= MAX_ABS_VALUE_LIMIT)


def out_of_bound_events(
    session: Session, experiment_id: int, metrics: Sequence[MetricSpec],
    until: datetime | None = None,
) -> dict[str, int]:
    """Per numeric metric, the events of exposed units the analysis leaves out because their
    |value| exceeds :data:`~experiments.schema.MAX_ABS_VALUE_LIMIT` (metrics without any are
    absent), so the results can say why a figure ignores them."""
    names = [m.name for m in metrics if m.kind == "numeric"]
    if not names:
        return {}
    query = (
        select(Event.name, func.count())
        .where(text(OUT_OF_BOUND), Event.name.in_(names), *_counted(until),
               *_exposed(experiment_id, until))
        .group_by(Event.name)
    )
    return {name: count for name, count in session.execute(query)}


def _segment_expression(segment: str) -> ColumnElement[Any]:
    """``attributes ->> key`` (PostgreSQL) / ``json_extract`` (SQLite) as text."""
    return Assignment.attributes[segment].as_string()


def _exposed(experiment_id: int, until: datetime | None) -> list[ColumnElement[bool]]:
    """The units in the analysis: assigned in the experiment, by ``until`` when given."""
    exposed = [Assignment.experiment_id == experiment_id]
    if until is not None:
        exposed.append(Assignment.assigned_at <= until)
    return exposed


def _top_values(
    session: Session, experiment_id: int, segment: str | None, top: int, until: datetime | None
) -> list[str | None]:
    """The ``top`` values of the segment attribute by units (None for "missing"); [] if none."""
    if segment is None:
        return []
    raw = (
        select(_segment_expression(segment).label("value"))
        .where(*_exposed(experiment_id, until))
        .subquery()
    )
    ranked = (
        select(raw.c.value)
        .group_by(raw.c.value)
        .order_by(func.count().desc(), raw.c.value.asc().nulls_last())
        .limit(top)
    )
    return list(session.scalars(ranked))


def _segment_label(
    value: ColumnElement[Any], segment: str | None, top_values: list[str | None]
) -> ColumnElement[Any]:
    """A unit's segment label: its ``value`` if among ``top_values``, NULL when missing and
    missing is among them, else "(other)"; without a segment, ``value`` (NULL for all).

    Always an expression of ``value``: PostgreSQL refuses a constant in ``GROUP BY``.
    """
    if segment is None:
        return value
    named = [v for v in top_values if v is not None]
    whens: list[tuple[ColumnElement[bool], Any]] = [(value.in_(named), value)] if named else []
    if None in top_values:
        whens.append((value.is_(None), null()))
    # Nothing ranked (no unit exposed when ranking): everyone is "(other)".
    return case(*(whens or [(value.is_(None), literal(OTHER))]), else_=literal(OTHER))


def _utc_day(session: Session, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """``YYYY-MM-DD`` of a UTC timestamp on either backend.

    SQLite stores the UTC wall time as text (``date()`` reads it); PostgreSQL's ``timestamptz``
    is converted to UTC first so the session time zone cannot shift the day.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return func.date(column)
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return cast(column, Date)


def _shard_ranges(
    session: Session, experiment_id: int, until: datetime | None
) -> list[IdRange | None]:
    """Half-open assignment-id ranges to aggregate at once, or ``[None]`` for one query.

    Sharded only with more than one core, at least :data:`SHARD_MIN_UNITS` units, a database
    other connections can read (not in-memory SQLite), and nothing uncommitted in the session,
    which the other connections could not see. Each shard reads the committed data as of its
    own start, milliseconds apart. Ids are cut into equal spans, which split the units about
    evenly because ids grow with exposure time.
    """
    shards = min(os.cpu_count() or 1, MAX_SHARDS)
    if shards == 1 or _in_memory(session) or _uncommitted(session):
        return [None]
    units, low, high = session.execute(
        select(func.count(), func.min(Assignment.id), func.max(Assignment.id)).where(
            *_exposed(experiment_id, until)
        )
    ).one()
    if units < SHARD_MIN_UNITS:
        return [None]
    bounds = [low + (high + 1 - low) * i // shards for i in range(shards + 1)]
    return list(zip(bounds, bounds[1:], strict=False))


def _in_memory(session: Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "sqlite" and bind.engine.url.database in (None, "", ":memory:")


def _uncommitted(session: Session) -> bool:
    """Pending objects, or a write in the session's open transaction.

    SQLite's driver opens a transaction only for a write; PostgreSQL assigns a transaction id
    only at the first write (``pg_current_xact_id_if_assigned``, PostgreSQL 13+).
    """
    if session.new or session.dirty or session.deleted:
        return True
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        return bool(session.connection().connection.dbapi_connection.in_transaction)
    if dialect == "postgresql":
        return session.scalar(select(func.pg_current_xact_id_if_assigned())) is not None
    return True


def _execute_concurrently(engine: Engine, queries: Sequence[Select[Any]]) -> list[Row[Any]]:
    """Every query on its own pooled connection and thread: the drivers (sqlite3, psycopg)
    release the GIL while the database computes, so the threads use as many cores."""

    def run(query: Select[Any]) -> list[Row[Any]]:
        with engine.connect() as connection:
            return list(connection.execute(query))

    with ThreadPoolExecutor(len(queries)) as pool:
        return [row for rows in pool.map(run, queries) for row in rows]


def _group(row: Any, metric_count: int) -> GroupStats:
    n = int(row[4])
    stats = tuple(
        SampleStats(n, float(row[5 + 2 * i]), float(row[6 + 2 * i])) for i in range(metric_count)
    )
    return GroupStats(row[0], int(row[1]), str(row[2]), row[3], stats)


def _merged(groups: Iterable[GroupStats]) -> list[GroupStats]:
    """Groups with the same key (from different shards) added up."""
    merged: dict[tuple[str, int, str, str | None], GroupStats] = {}
    for group in groups:
        if (seen := merged.get(group.key)) is not None:
            stats = tuple(a + b for a, b in zip(seen.stats, group.stats, strict=True))
            group = replace(group, stats=stats)
        merged[group.key] = group
    return list(merged.values())
