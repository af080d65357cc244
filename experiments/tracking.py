"""Events and survey feedback coming back from the storefront.

Both are idempotent by the client's ``event_id`` (UNIQUE + ON CONFLICT DO NOTHING). Rows from
units that were never exposed are kept but flagged ``unexposed`` so analysis can leave them out.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.db import insert_ignoring_conflicts
from experiments.definitions import design_of
from experiments.errors import FieldIssue, InvalidInput, NotFound
from experiments.models import Assignment, Event, Experiment, Feedback, utcnow
from experiments.schema import DEFAULT_MAX_ABS_VALUE, EventIn, FeedbackIn, Metrics
from variants import parse_arm_key

MAX_EVENTS_PER_CALL = 1000


@dataclass(frozen=True)
class Accepted:
    """How many rows were new, and how many were retries of rows already stored."""

    accepted: int
    duplicates: int


def record_events(session: Session, events: Sequence[EventIn]) -> Accepted:
    """Store a batch in one INSERT; unknown experiments are refused before anything is written."""
    if len(events) > MAX_EVENTS_PER_CALL:
        raise InvalidInput([FieldIssue("events", f"at most {MAX_EVENTS_PER_CALL} events per call,"
                                                 f" got {len(events)}")])
    if not events:
        return Accepted(0, 0)
    ids, bounds = _experiments_named(session, events)
    _check_values(events, bounds)
    exposed = _exposures(session, {event.unit_id for event in events})
    now = utcnow()
    rows = [_event_row(event, ids.get(event.experiment or ""), exposed, now) for event in events]
    statement = insert_ignoring_conflicts(session, Event, ["event_id"]).returning(Event.id)
    # Core execution: SQLAlchemy sends one multi-row INSERT … RETURNING per batch; the ORM's
    # bulk path did the same with 6x the Python work per row (bench/http.py profile).
    inserted = len(session.connection().execute(statement, rows).all())
    return Accepted(inserted, len(rows) - inserted)


def _event_row(
    event: EventIn, experiment_id: int | None, exposed: dict[str, set[int]], now: datetime
) -> dict[str, object]:
    """The row for one event; the receive time stands in for a missing timestamp."""
    units_experiments = exposed.get(event.unit_id, set())
    was_exposed = (experiment_id in units_experiments if experiment_id is not None
                   else bool(units_experiments))
    return {
        "event_id": event.event_id, "experiment_id": experiment_id, "unit_id": event.unit_id,
        "name": event.name, "value": event.value, "occurred_at": event.timestamp or now,
        "received_at": now, "unexposed": not was_exposed,
    }


def _experiments_named(
    session: Session, events: Sequence[EventIn]
) -> tuple[dict[str, int], dict[tuple[str, str], float]]:
    """Key → id for the experiments the batch names, and (key, metric) → the metric's bound on
    |value|; NotFound names the first unknown experiment."""
    keys = {event.experiment for event in events if event.experiment}
    if not keys:
        return {}, {}
    found, bounds = {}, {}
    query = select(Experiment.key, Experiment.id, Experiment.definition).where(
        Experiment.key.in_(keys))
    for key, experiment_id, definition in session.execute(query):
        found[key] = experiment_id
        for metric in Metrics.model_validate(definition["metrics"]).all():
            bounds[key, metric.name] = metric.max_abs_value
    for i, event in enumerate(events):
        if event.experiment and event.experiment not in found:
            raise NotFound(f"unknown experiment {event.experiment!r}",
                           field=f"events.{i}.experiment")
    return found, bounds


def _check_values(events: Sequence[EventIn], bounds: dict[tuple[str, str], float]) -> None:
    """Refuse the batch when a value exceeds its metric's bound (the default one for events
    that name no experiment or a name that is no metric of it): one absurd number would
    otherwise dominate, or overflow, every sum the analysis takes."""
    issues = []
    for i, event in enumerate(events):
        bound = bounds.get((event.experiment or "", event.name), DEFAULT_MAX_ABS_VALUE)
        if event.value is not None and abs(event.value) > bound:
            issues.append(FieldIssue(f"events.{i}.value",
                                     f"|value| must be at most {bound:g} for metric"
                                     f" {event.name!r}, got {event.value:g}"))
    if issues:
        raise InvalidInput(issues)


def _exposures(session: Session, unit_ids: set[str]) -> dict[str, set[int]]:
    """Unit id → ids of the experiments it is assigned in (one query for the whole batch)."""
    exposed: dict[str, set[int]] = {}
    query = select(Assignment.unit_id, Assignment.experiment_id).where(
        Assignment.unit_id.in_(unit_ids))
    for unit_id, experiment_id in session.execute(query):
        exposed.setdefault(unit_id, set()).add(experiment_id)
    return exposed


def record_feedback(session: Session, feedback: FeedbackIn) -> Accepted:
    """Store one survey answer with the variants the unit saw of the units it names."""
    experiment = session.scalar(select(Experiment).where(Experiment.key == feedback.experiment))
    if experiment is None:
        raise NotFound(f"unknown experiment {feedback.experiment!r}", field="experiment")
    units = [choice.unit for choice in design_of(experiment).definition.units]
    for field in ("moved_by", "confused_by"):
        named = getattr(feedback, field)
        if named is not None and named not in units:
            message = f"{named!r} is not a unit of {experiment.key!r} (units: {', '.join(units)})"
            raise InvalidInput([FieldIssue(field, message)])
    arm = session.scalar(select(Assignment.arm).where(
        Assignment.experiment_id == experiment.id, Assignment.unit_id == feedback.unit_id))
    seen = parse_arm_key(arm) if arm else {}
    statement = insert_ignoring_conflicts(session, Feedback, ["event_id"]).returning(Feedback.id)
    inserted = session.execute(statement.values(
        event_id=feedback.event_id, experiment_id=experiment.id, unit_id=feedback.unit_id,
        arm=arm, rating=feedback.rating, helpful=feedback.helpful,
        moved_by=feedback.moved_by, moved_by_variant=seen.get(feedback.moved_by or ""),
        confused_by=feedback.confused_by, confused_by_variant=seen.get(feedback.confused_by or ""),
        comment=feedback.comment, unexposed=arm is None, created_at=utcnow(),
    )).first()
    return Accepted(1, 0) if inserted else Accepted(0, 1)

