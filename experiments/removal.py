"""Data lifecycle: archive and delete experiments, erase one shopper's rows everywhere.

Archiving only hides an experiment from the default lists: it keeps serving what it served
(a stopped experiment's winner), and it cannot be started or moved until unarchived, so nothing
runs out of sight. Archived experiments hold no layer range.

Deleting removes the experiment and every row that belongs to it: assignments, events,
feedback, weights periods, allocation decisions and its audit entries. What remains is one
tombstone entry in the audit log (action ``delete``, no experiment id) naming the key, the
name, who deleted it, when, and how many rows of each table went; its history went with it,
because entries about a thing that no longer exists can be shown nowhere.

Erasing a unit (a shopper's request under PIPL Art. 47) removes its assignments, events,
feedback and segment row in every experiment. The audit entry (action ``erase``) keeps who,
when and how many rows of each table, never the unit id or anything else that was erased. A
second erasure of the same unit finds nothing and records 0 rows: the request is still
answered and audited.

Archive and delete are refused while an experiment serves arms (running, paused, or promoted:
assigned units still see their own arm), so they are for drafts and stopped experiments.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Delete, delete
from sqlalchemy.orm import Session

from experiments import audit
from experiments.allocation import AllocationSnapshot
from experiments.definitions import get_experiment, touch
from experiments.errors import ExperimentServing
from experiments.models import (
    Assignment,
    AuditEntry,
    CustomerSegment,
    Event,
    Experiment,
    Feedback,
    WeightsPeriod,
    utcnow,
)

#: Statuses in which an experiment serves arms to shoppers: archive and delete are refused.
SERVING_STATUSES = ("running", "paused", "promoted")
#: Rows removed per table, in the order they are removed.
Removed = dict[str, int]


def archive_experiment(session: Session, key: str, *, actor: str = audit.SYSTEM) -> Experiment:
    """Hide ``key`` from the default lists (audited); it stays viewable by key."""
    experiment = _removable(session, key, "archive")
    if experiment.archived_at is None:
        audit.record(session, experiment, actor, "archive", {"status": experiment.status})
        experiment.archived_at = utcnow()
        touch(experiment)
        session.flush()
    return experiment


def unarchive_experiment(session: Session, key: str, *, actor: str = audit.SYSTEM) -> Experiment:
    """Show ``key`` in the lists again and allow its moves (audited)."""
    experiment = get_experiment(session, key, for_update=True)
    if experiment.archived_at is not None:
        audit.record(session, experiment, actor, "unarchive", {"status": experiment.status})
        experiment.archived_at = None
        touch(experiment)
        session.flush()
    return experiment


def delete_experiment(session: Session, key: str, *, actor: str = audit.SYSTEM) -> Removed:
    """Remove ``key`` and all its rows, leaving a tombstone in the audit log."""
    experiment = _removable(session, key, "delete")
    removed = _delete_all(session, {
        "assignments": delete(Assignment).where(Assignment.experiment_id == experiment.id),
        "events": delete(Event).where(Event.experiment_id == experiment.id),
        "feedback": delete(Feedback).where(Feedback.experiment_id == experiment.id),
        "weights_periods": delete(WeightsPeriod).where(
            WeightsPeriod.experiment_id == experiment.id),
        "allocation_snapshots": delete(AllocationSnapshot).where(
            AllocationSnapshot.experiment_id == experiment.id),
        "audit_entries": delete(AuditEntry).where(AuditEntry.experiment_id == experiment.id),
    })
    session.delete(experiment)
    tombstone = {"experiment": experiment.key, "name": experiment.name,
                 "status": experiment.status, "removed": removed}
    audit.record_removal(session, actor, "delete", tombstone)
    return removed


def erase_unit(session: Session, unit_id: str, *, actor: str = audit.SYSTEM) -> Removed:
    """Remove every row of ``unit_id`` in every experiment; audited without the id."""
    removed = _delete_all(session, {
        "assignments": delete(Assignment).where(Assignment.unit_id == unit_id),
        "events": delete(Event).where(Event.unit_id == unit_id),
        "feedback": delete(Feedback).where(Feedback.unit_id == unit_id),
        "customer_segments": delete(CustomerSegment).where(CustomerSegment.unit_id == unit_id),
    })
    audit.record_removal(session, actor, "erase", {"removed": removed})
    return removed


def _removable(session: Session, key: str, action: str) -> Experiment:
    """The experiment, row-locked so that no start can slip in before the removal commits."""
    experiment = get_experiment(session, key, for_update=True)
    if experiment.status in SERVING_STATUSES:
        raise ExperimentServing(
            f"cannot {action} experiment {key!r}: it is {experiment.status} and still serves"
            f" its arms; stop it first ({action} is allowed for draft and stopped experiments)",
            field="status")
    return experiment


def _delete_all(session: Session, statements: Mapping[str, Delete]) -> Removed:
    """Run each DELETE in order; the number of rows each removed, by table."""
    return {table: session.execute(statement).rowcount  # type: ignore[attr-defined]
            for table, statement in statements.items()}
