"""The audit log: who changed which experiment, when, and what.

The definition and lifecycle services record an entry in the same transaction as the change
itself, so a change without its entry (or the reverse) cannot be committed. Callers name the
actor: a user name from the web app, ``api key <prefix>`` from the JSON API, else
:data:`SYSTEM` (command line, allocation runs).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.models import AuditEntry, Experiment

SYSTEM = "system"


def record(
    session: Session, experiment: Experiment, actor: str, action: str, detail: Mapping[str, Any]
) -> AuditEntry:
    """Add one entry for ``experiment`` (flushed with the change it describes)."""
    entry = AuditEntry(experiment_id=experiment.id, actor=actor, action=action,
                       detail=dict(detail))
    session.add(entry)
    return entry


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level definition fields whose value differs, in the new definition's order."""
    keys = dict.fromkeys([*new, *old])
    return [key for key in keys if old.get(key) != new.get(key)]


def entries(session: Session, experiment: Experiment) -> list[AuditEntry]:
    """The experiment's entries, newest first."""
    query = select(AuditEntry).where(AuditEntry.experiment_id == experiment.id)
    return list(session.scalars(query.order_by(AuditEntry.id.desc())))
