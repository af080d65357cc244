"""Sticky assignment of units to arms.

A returning unit costs one indexed query (experiment version joined to the unit's stored arm);
the compiled definition, with every arm's text already rendered, is cached per process under
(experiment id, version, catalogue), and ``version`` changes with every edit or status move.
A new unit in a running experiment costs one INSERT … ON CONFLICT DO NOTHING plus a read-back,
which makes simultaneous first requests agree on one stored row.

Targeting sees the request's clock as well: ``hour`` (0-23) and ``weekday`` (1 = Monday to
7 = Sunday) in the service's time zone (:func:`service_zone`: ``ABTEST_TIMEZONE``, default
Asia/Shanghai), taken when a new unit is assigned, under the stored segment attributes and the
sent ones (which win: a storefront in another zone can send its own ``hour``).
"""
from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, Select, and_, bindparam, select
from sqlalchemy.orm import Session

import variants
from abtest import bucketing
from abtest.conditions import evaluate
from experiments.db import insert_ignoring_conflicts
from experiments.definitions import Design, compile_design
from experiments.errors import NotFound
from experiments.models import Assignment, CustomerSegment, Experiment, utcnow
from experiments.schema import ExperimentDefinition
from experiments.segments import merge_attributes
from variants import Catalogue

LIVE_STATUSES = ("running", "paused", "promoted")
_CACHE_LIMIT = 4096
TIMEZONE_SETTING = "ABTEST_TIMEZONE"
#: The shops this serves are Chinese: time slots are Beijing time unless configured otherwise.
DEFAULT_TIMEZONE = "Asia/Shanghai"


def service_zone(name: str | None = None) -> ZoneInfo:
    """The zone of ``hour`` and ``weekday``: ``name``, else ``ABTEST_TIMEZONE``, else
    Asia/Shanghai; ValueError naming the setting for an unknown zone."""
    chosen = name or os.environ.get(TIMEZONE_SETTING) or DEFAULT_TIMEZONE
    try:
        return ZoneInfo(chosen)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{TIMEZONE_SETTING}: unknown time zone {chosen!r}") from None


def clock_attributes(now: datetime, zone: ZoneInfo) -> dict[str, int]:
    """``hour`` 0-23 and ISO ``weekday`` 1-7 of the aware moment ``now`` in ``zone``."""
    local = now.astimezone(zone)
    return {"hour": local.hour, "weekday": local.isoweekday()}


@dataclass(frozen=True)
class Clock:
    """When a request is served and in which zone its ``hour`` is read (tests pin ``now``)."""

    now: datetime | None = None
    zone: ZoneInfo | None = None

    def attributes(self) -> dict[str, int]:
        return clock_attributes(self.now or utcnow(), self.zone or service_zone())


@dataclass(frozen=True)
class AssignmentResult:
    """What the storefront shows one unit for one experiment."""

    experiment: str
    unit_id: str
    in_experiment: bool
    arm: str
    variants: Mapping[str, str]
    text: str


@dataclass(frozen=True)
class LiveExperiment:
    """An experiment as served: its compiled design plus the state of one version."""

    id: int
    key: str
    status: str
    design: Design
    weights: tuple[float, ...]
    weights_version: int
    winner: int | None

    def fallback(self) -> int:
        """The arm for units outside the experiment: the winner once promoted, else control."""
        return self.design.control if self.winner is None else self.winner

    def result(self, unit_id: str, index: int, in_experiment: bool) -> AssignmentResult:
        design = self.design
        return AssignmentResult(self.key, unit_id, in_experiment, design.arm_keys[index],
                                design.arms[index], design.texts[index])


_cache: dict[tuple[int, int, datetime, int], LiveExperiment] = {}


def _live(session: Session, found: Row[Any], catalogue: Catalogue) -> LiveExperiment:
    """The cached LiveExperiment for this version, compiling it on first use.

    ``created_at`` is part of the key so a recreated database (same ids) never hits a stale entry.
    """
    live = _cache.get((found.id, found.version, found.created_at, id(catalogue)))
    if live is None:
        row = session.get_one(Experiment, found.id, populate_existing=True)
        live = compile_live(row, catalogue)
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[(row.id, row.version, row.created_at, id(catalogue))] = live
    return live


def compile_live(experiment: Experiment, catalogue: Catalogue | None = None) -> LiveExperiment:
    """Compile a stored experiment for serving (no cache)."""
    definition = ExperimentDefinition.model_validate(experiment.definition)
    design = compile_design(definition, catalogue or variants.load_catalogue())
    winner = design.index(experiment.winner_arm) if experiment.winner_arm else None
    return LiveExperiment(experiment.id, experiment.key, experiment.status, design,
                          tuple(experiment.weights), experiment.weights_version, winner)


def _lookup() -> Select[Any]:
    """Experiment id/version/key with the unit's stored arm and stored segment attributes
    (NULL when none), one query: both joins are primary/unique key lookups.

    Built once with a ``unit_id`` bind parameter: constructing the statement per request cost
    as much as running it (bench/http.py profile). Run on the session's connection (Core): the
    ORM's result processing doubled the cost of this plain column query.
    """
    unit_id = bindparam("unit_id")
    columns = (Experiment.id, Experiment.version, Experiment.created_at, Experiment.key)
    return select(*columns, Assignment.arm, CustomerSegment.attributes.label("segment")).outerjoin(
        Assignment,
        and_(Assignment.experiment_id == Experiment.id, Assignment.unit_id == unit_id),
    ).outerjoin(CustomerSegment, CustomerSegment.unit_id == unit_id)


_LOOKUP = _lookup()
_LOOKUP_ONE = _LOOKUP.where(Experiment.key == bindparam("key"))


def assign(
    session: Session, key: str, unit_id: str, attributes: Mapping[str, Any] | None = None,
    catalogue: Catalogue | None = None, clock: Clock = Clock(),
) -> AssignmentResult:
    """The arm ``unit_id`` sees in experiment ``key``; NotFound for an unknown key."""
    row = session.connection().execute(_LOOKUP_ONE, {"unit_id": unit_id, "key": key}).first()
    if row is None:
        raise NotFound(f"unknown experiment {key!r}", field="experiment")
    return _decide(session, row, unit_id, dict(attributes or {}), catalogue, clock)


def assign_all(
    session: Session, unit_id: str, attributes: Mapping[str, Any] | None = None,
    keys: Sequence[str] | None = None, catalogue: Catalogue | None = None,
    clock: Clock = Clock(),
) -> list[AssignmentResult]:
    """Assign ``unit_id`` in the named experiments, or in every live one (running, paused,
    promoted) when ``keys`` is None; ordered by key."""
    query = _LOOKUP.order_by(Experiment.key)
    if keys is None:
        query = query.where(Experiment.status.in_(LIVE_STATUSES))
    else:
        query = query.where(Experiment.key.in_(set(keys)))
    rows = session.connection().execute(query, {"unit_id": unit_id}).all()
    missing = sorted(set(keys or ()) - {row.key for row in rows})
    if missing:
        raise NotFound(f"unknown experiment {missing[0]!r}", field="experiments")
    return [_decide(session, row, unit_id, dict(attributes or {}), catalogue, clock)
            for row in rows]


def _decide(
    session: Session, row: Row[Any], unit_id: str, attributes: dict[str, Any],
    catalogue: Catalogue | None, clock: Clock,
) -> AssignmentResult:
    live = _live(session, row, catalogue or variants.load_catalogue())
    if row.arm is not None and live.status in LIVE_STATUSES:
        return live.result(unit_id, live.design.index(row.arm), True)
    if live.status != "running":
        return live.result(unit_id, live.fallback(), False)
    attributes = {**clock.attributes(), **merge_attributes(row.segment, attributes)}
    index = draw(live, unit_id, attributes)
    if index < 0:
        return live.result(unit_id, live.fallback(), False)
    stored = _store(session, live, unit_id, index, attributes)
    return live.result(unit_id, live.design.index(stored), True)


def draw(live: LiveExperiment, unit_id: str, attributes: Mapping[str, Any]) -> int:
    """Arm index for a new unit, or -1 when targeting, the layer or coverage leave it out."""
    definition = live.design.definition
    if definition.targeting and not evaluate(definition.targeting, dict(attributes)):
        return -1
    layer = definition.layer
    if layer is not None and not bucketing.in_namespace(unit_id, (layer.name, *layer.range)):
        return -1
    return bucketing.assign(live.key, unit_id, list(live.weights), definition.coverage)


def _store(
    session: Session, live: LiveExperiment, unit_id: str, index: int, attributes: dict[str, Any]
) -> str:
    """Insert the assignment unless a concurrent request did; return the stored arm.

    RETURNING answers for the usual case (our row went in); only the loser of a race for the
    same unit reads the winner's row back.
    """
    arm = live.design.arm_keys[index]
    statement = insert_ignoring_conflicts(session, Assignment, ["experiment_id", "unit_id"])
    inserted = session.execute(statement.values(
        experiment_id=live.id, unit_id=unit_id, arm=arm,
        weights_version=live.weights_version, attributes=attributes,
    ).returning(Assignment.id)).first()
    if inserted is not None:
        return arm
    return session.execute(select(Assignment.arm).where(
        Assignment.experiment_id == live.id, Assignment.unit_id == unit_id)).scalar_one()
