"""The audit log: who changed which experiment, when, and what.

The definition and lifecycle services record an entry in the same transaction as the change
itself, so a change without its entry (or the reverse) cannot be committed. Callers name the
actor: a user name from the web app, ``api key <prefix>`` from the JSON API, else
:data:`SYSTEM` (command line, allocation runs). Each entry's detail also keeps ``on_version``,
the experiment version the change was made to, so an editor who read version ``v`` can be
told who changed what since (:func:`changes_since`). Removals are recorded without an
experiment (:func:`record_removal`): see experiments.removal.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from experiments.models import AuditEntry, Experiment

SYSTEM = "system"
#: Actions that record what the allocation did, not a change anyone made to the definition.
NOT_EDITS = frozenset({"guardrail_hold"})
#: Detail key of the experiment version an entry's change was made to.
ON_VERSION = "on_version"


def record(
    session: Session, experiment: Experiment, actor: str, action: str,
    detail: Mapping[str, Any], *, on_version: int | None = None,
) -> AuditEntry:
    """Add one entry for ``experiment`` (flushed with the change it describes); call it before
    the change bumps the version. A creation passes ``on_version=0``: it made version 1 out of
    nothing."""
    made_to = experiment.version if on_version is None else on_version
    entry = AuditEntry(experiment_id=experiment.id, actor=actor, action=action,
                       detail={**detail, ON_VERSION: made_to})
    session.add(entry)
    return entry


def record_removal(session: Session, actor: str, action: str,
                   detail: Mapping[str, Any]) -> AuditEntry:
    """Add the entry of a removal (``delete``, ``erase``): it belongs to no experiment, so it
    outlives what it removed. ``detail`` must hold no erased personal data."""
    entry = AuditEntry(experiment_id=None, actor=actor, action=action, detail=dict(detail))
    session.add(entry)
    session.flush()
    return entry


def removals(session: Session) -> list[AuditEntry]:
    """The entries of deletions and erasures, newest first."""
    query = select(AuditEntry).where(AuditEntry.experiment_id.is_(None))
    return list(session.scalars(query.order_by(AuditEntry.id.desc())))


def changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level definition fields whose value differs, in the new definition's order."""
    keys = dict.fromkeys([*new, *old])
    return [key for key in keys if old.get(key) != new.get(key)]


def entries(session: Session, experiment: Experiment) -> list[AuditEntry]:
    """The experiment's entries, newest first."""
    query = select(AuditEntry).where(AuditEntry.experiment_id == experiment.id)
    return list(session.scalars(query.order_by(AuditEntry.id.desc())))


def changes_since(session: Session, experiment: Experiment, version: int) -> list[AuditEntry]:
    """The audited changes made to ``version`` or later, oldest first: what someone who read
    ``version`` has not seen. Allocation reweights are not audited changes (they bump the
    version but leave the definition and status alone), so they are not listed."""
    newer = []
    for entry in entries(session, experiment):
        if entry.action in NOT_EDITS:
            continue
        made_to = entry.detail.get(ON_VERSION)
        if not isinstance(made_to, int) or made_to < version:
            break
        newer.append(entry)
    return newer[::-1]
