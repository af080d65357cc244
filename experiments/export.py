"""Streaming export of an experiment's events for offline analysis.

Rows are read with ``yield_per`` so memory stays flat however many events there are. An event
belongs to the experiment when it names it, or names none and comes from a unit assigned in it.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from experiments.definitions import get_experiment
from experiments.models import Assignment, Event

EVENT_COLUMNS = ("event_id", "unit_id", "arm", "name", "value", "occurred_at", "received_at",
                 "unexposed")


def iter_events(session: Session, key: str, batch: int = 1000) -> Iterator[dict[str, Any]]:
    """Events of experiment ``key`` in time order, with the arm of their unit (None if none).

    NotFound is raised at the call, before the first row, so callers can report it cleanly.
    """
    experiment = get_experiment(session, key)
    query = (
        select(Event.event_id, Event.unit_id, Assignment.arm, Event.name, Event.value,
               Event.occurred_at, Event.received_at, Event.unexposed)
        .outerjoin(Assignment, and_(Assignment.experiment_id == experiment.id,
                                    Assignment.unit_id == Event.unit_id))
        .where(or_(Event.experiment_id == experiment.id,
                   and_(Event.experiment_id.is_(None), Assignment.id.is_not(None))))
        .order_by(Event.occurred_at, Event.id)
        .execution_options(yield_per=batch)
    )
    return (dict(row._mapping) for row in session.execute(query))
