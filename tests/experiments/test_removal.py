"""experiments.removal: archive, delete and erase on SQLite and PostgreSQL (``session`` runs on
both). Row counts are checked against counts of the rows the test inserted itself."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from experiments import audit
from experiments.allocation import AllocationSnapshot
from experiments.assignment import assign
from experiments.definitions import create_experiment, get_experiment, list_experiments
from experiments.errors import ExperimentArchived, ExperimentServing, NotFound
from experiments.lifecycle import pause_experiment, start_experiment, stop_experiment
from experiments.models import (
    Assignment,
    AuditEntry,
    CustomerSegment,
    Event,
    Experiment,
    Feedback,
    WeightsPeriod,
)
from experiments.removal import (
    archive_experiment,
    delete_experiment,
    erase_unit,
    unarchive_experiment,
)
from experiments.schema import EventIn, FeedbackIn
from experiments.tracking import record_events, record_feedback
from tests.experiments.conftest import stock_definition

PER_EXPERIMENT = (Assignment, Event, Feedback, WeightsPeriod, AllocationSnapshot, AuditEntry)
PER_UNIT = (Assignment, Event, Feedback, CustomerSegment)


def traffic(session: Session, key: str, units: list[str]) -> None:
    """Each unit assigned, one conversion, one revenue event and one survey answer."""
    for unit in units:
        assign(session, key, unit)
        record_events(session, [
            EventIn(event_id=f"{key}-{unit}-c", unit_id=unit, experiment=key,
                    name="conversion"),
            EventIn(event_id=f"{key}-{unit}-r", unit_id=unit, experiment=key, name="revenue",
                    value=10.0)])
        record_feedback(session, FeedbackIn(event_id=f"{key}-{unit}-f", unit_id=unit,
                                            experiment=key, rating=4, helpful=True,
                                            comment="好"))
    session.flush()


def count(session: Session, model: type[Any], **where: Any) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return session.scalar(query) or 0


@pytest.fixture
def two_experiments(session: Session) -> Callable[[], tuple[Experiment, Experiment]]:
    """``gone`` and ``kept``, started, with traffic of shared and own units, then stopped."""

    def make() -> tuple[Experiment, Experiment]:
        for key in ("gone", "kept"):
            create_experiment(session, stock_definition(key))
            start_experiment(session, key)
        traffic(session, "gone", ["u1", "u2", "u3"])
        traffic(session, "kept", ["u1", "u4"])
        gone = get_experiment(session, "gone")
        session.add(AllocationSnapshot(experiment_id=gone.id, weights_version=1,
                                       action="reweight", weights=[0.5, 0.5], figures={}))
        stop_experiment(session, "gone")
        session.commit()
        return gone, get_experiment(session, "kept")

    return make


def test_delete_removes_every_row_of_the_experiment_and_leaves_a_tombstone(
    session: Session, two_experiments: Callable[[], tuple[Experiment, Experiment]],
) -> None:
    gone, kept = two_experiments()
    expected = {model.__tablename__: count(session, model, experiment_id=gone.id)
                for model in PER_EXPERIMENT}
    kept_before = {model: count(session, model, experiment_id=kept.id)
                   for model in PER_EXPERIMENT}
    assert all(expected.values())  # the test seeded every table

    removed = delete_experiment(session, "gone", actor="alice")
    session.commit()

    assert removed == expected
    assert all(count(session, model, experiment_id=gone.id) == 0 for model in PER_EXPERIMENT)
    assert {model: count(session, model, experiment_id=kept.id)
            for model in PER_EXPERIMENT} == kept_before
    with pytest.raises(NotFound):
        get_experiment(session, "gone")
    [tombstone] = audit.removals(session)
    assert (tombstone.actor, tombstone.action) == ("alice", "delete")
    assert tombstone.detail == {"experiment": "gone", "name": gone.name, "status": "stopped",
                                "removed": expected}


@pytest.mark.parametrize("status", ["running", "paused", "promoted"])
def test_archive_and_delete_are_refused_while_the_experiment_serves(
    session: Session, status: str,
) -> None:
    create_experiment(session, stock_definition())
    start_experiment(session, "stock-test")
    traffic(session, "stock-test", ["u1"])
    if status == "paused":
        pause_experiment(session, "stock-test")
    if status == "promoted":
        from experiments.allocation import promote_by_hand

        promote_by_hand(session, "stock-test", "stock_left=on")
    session.commit()
    for act in (delete_experiment, archive_experiment):
        with pytest.raises(ExperimentServing, match=f"it is {status}.*stop it first"):
            act(session, "stock-test", actor="alice")
        session.rollback()
    experiment = get_experiment(session, "stock-test")
    assert experiment.archived_at is None and count(session, Assignment) == 1
    assert audit.removals(session) == []


def test_archive_hides_from_the_default_list_and_freezes_moves_until_unarchived(
    session: Session,
) -> None:
    for key in ("shown", "hidden"):
        create_experiment(session, stock_definition(key))
    version = get_experiment(session, "hidden").version
    archived = archive_experiment(session, "hidden", actor="alice")
    session.commit()
    assert archived.archived_at is not None and archived.version == version + 1
    assert [e.key for e in list_experiments(session)] == ["shown"]
    assert [e.key for e in list_experiments(session, archived=True)] == ["hidden", "shown"]
    assert get_experiment(session, "hidden").status == "draft"  # still viewable
    with pytest.raises(ExperimentArchived, match="unarchive it first"):
        start_experiment(session, "hidden")
    session.rollback()

    unarchive_experiment(session, "hidden", actor="bob")
    start_experiment(session, "hidden")
    session.commit()
    actions = [(e.actor, e.action) for e in audit.entries(session, archived)]
    assert actions[:3] == [("system", "start"), ("bob", "unarchive"), ("alice", "archive")]


def test_archived_drafts_free_their_layer_range(session: Session) -> None:
    layer = {"layer": {"name": "chat", "range": [0, 0.5]}}
    create_experiment(session, stock_definition("old", **layer))
    archive_experiment(session, "old")
    create_experiment(session, stock_definition("new", **layer))  # no LayerOverlap
    session.commit()
    assert count(session, Experiment) == 2


def test_erase_removes_one_units_rows_everywhere_and_is_idempotent(
    session: Session, two_experiments: Callable[[], tuple[Experiment, Experiment]],
) -> None:
    two_experiments()
    session.add_all([CustomerSegment(unit_id=unit, segment="champions", attributes={},
                                     scored_as_of=datetime(2026, 11, 1, tzinfo=UTC))
                     for unit in ("u1", "u2")])
    session.commit()
    expected = {model.__tablename__: count(session, model, unit_id="u1") for model in PER_UNIT}
    others = {model: count(session, model) - count(session, model, unit_id="u1")
              for model in PER_UNIT}
    assert expected == {"assignments": 2, "events": 4, "feedback": 2, "customer_segments": 1}

    assert erase_unit(session, "u1", actor="alice") == expected
    session.commit()
    assert all(count(session, model, unit_id="u1") == 0 for model in PER_UNIT)
    assert {model: count(session, model) for model in PER_UNIT} == others

    again = erase_unit(session, "u1", actor="alice")
    session.commit()
    assert again == dict.fromkeys(expected, 0)
    second, first = audit.removals(session)
    assert (first.action, first.actor, first.detail) == ("erase", "alice", {"removed": expected})
    assert second.detail == {"removed": again}
    assert "u1" not in repr(first.detail) + repr(second.detail)  # no erased data in the log
