"""Events and feedback: idempotent, exposure-flagged, refused for unknown experiments."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.assignment import assign
from experiments.errors import InvalidInput, NotFound
from experiments.models import Event, Feedback
from experiments.schema import EventIn, FeedbackIn
from experiments.tracking import record_events, record_feedback


def events(*specs: dict) -> list[EventIn]:
    return [EventIn.model_validate(spec) for spec in specs]


def test_retried_batch_counts_duplicates(session: Session, running) -> None:
    running()
    assign(session, "stock-test", "u1")
    batch = events(*({"event_id": f"e{i}", "unit_id": "u1", "experiment": "stock-test",
                      "name": "conversion"} for i in range(5)))
    assert record_events(session, batch).accepted == 5
    again = record_events(session, batch)
    assert (again.accepted, again.duplicates) == (0, 5)
    assert len(session.scalars(select(Event)).all()) == 5


def test_unexposed_events_are_kept_but_flagged(session: Session, running) -> None:
    running()
    assign(session, "stock-test", "seen")
    record_events(session, events(
        {"event_id": "a", "unit_id": "seen", "experiment": "stock-test", "name": "conversion"},
        {"event_id": "b", "unit_id": "ghost", "experiment": "stock-test", "name": "conversion"},
        {"event_id": "c", "unit_id": "seen", "name": "payment"},
        {"event_id": "d", "unit_id": "ghost", "name": "payment"},
    ))
    flags = dict(session.execute(select(Event.event_id, Event.unexposed)).all())
    assert flags == {"a": False, "b": True, "c": False, "d": True}


def test_timestamps_are_stored_in_utc_and_default_to_now(session: Session, running) -> None:
    running()
    china = timezone(timedelta(hours=8))
    record_events(session, events(
        {"event_id": "t1", "unit_id": "u", "name": "revenue", "value": 12.5,
         "timestamp": "2026-11-11T08:00:00+08:00"},
        {"event_id": "t2", "unit_id": "u", "name": "conversion"},
    ))
    session.commit()
    stored = dict(session.execute(select(Event.event_id, Event.occurred_at)).all())
    assert stored["t1"] == datetime(2026, 11, 11, 8, tzinfo=china)
    assert stored["t1"].tzinfo is not None and stored["t1"].utcoffset() == timedelta(0)
    assert datetime.now(UTC) - stored["t2"] < timedelta(minutes=1)


def test_unknown_experiment_refuses_the_whole_batch(session: Session, running) -> None:
    running()
    with pytest.raises(NotFound) as caught:
        record_events(session, events(
            {"event_id": "ok", "unit_id": "u", "experiment": "stock-test", "name": "x"},
            {"event_id": "bad", "unit_id": "u", "experiment": "nope", "name": "x"}))
    assert caught.value.field == "events.1.experiment"
    assert session.scalars(select(Event)).all() == []


def feedback(**changes: object) -> FeedbackIn:
    return FeedbackIn.model_validate({"event_id": "f1", "unit_id": "u1",
                                      "experiment": "stock-test", "rating": 4,
                                      "helpful": True, **changes})


def test_feedback_stores_the_variant_seen_and_is_idempotent(session: Session, running) -> None:
    running()
    arm = assign(session, "stock-test", "u1").arm
    assert record_feedback(session, feedback(moved_by="stock_left")).accepted == 1
    assert record_feedback(session, feedback(moved_by="stock_left")).duplicates == 1
    row = session.scalars(select(Feedback)).one()
    assert (row.arm, row.moved_by_variant, row.unexposed) == (arm, arm.split("=")[1], False)


def test_feedback_from_an_unassigned_unit_is_flagged(session: Session, running) -> None:
    running()
    record_feedback(session, feedback(unit_id="ghost", confused_by="stock_left"))
    row = session.scalars(select(Feedback)).one()
    assert (row.arm, row.confused_by_variant, row.unexposed) == (None, None, True)


def test_feedback_must_name_units_of_the_experiment(session: Session, running) -> None:
    running()
    with pytest.raises(InvalidInput) as caught:
        record_feedback(session, feedback(moved_by="countdown"))
    assert caught.value.field == "moved_by"
