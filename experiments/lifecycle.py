"""The status machine: draft → running ⇄ paused → stopped, or promoted with a winner arm.

A promoted experiment keeps its layer range, because its assigned units still see their own
arms; stopping it retires it: everyone sees the winner, nobody is in the experiment any more,
and the range is free for the next experiment.

Each move bumps the experiment's version so every process serves the new state at once, and is
recorded in the audit log under the caller's ``actor``.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from experiments import audit
from experiments.definitions import check_layer, design_of, get_experiment, touch
from experiments.errors import ExperimentArchived, FieldIssue, IllegalTransition, InvalidInput
from experiments.models import Experiment, utcnow
from experiments.schema import ExperimentDefinition
from variants import Catalogue

# action: (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "start": (frozenset({"draft", "paused"}), "running"),
    "pause": (frozenset({"running"}), "paused"),
    "stop": (frozenset({"running", "paused", "promoted"}), "stopped"),
    "promote": (frozenset({"running", "paused", "stopped"}), "promoted"),
}


def _move(session: Session, key: str, action: str, actor: str, **detail: str) -> Experiment:
    experiment = get_experiment(session, key)
    if experiment.archived_at is not None:
        raise ExperimentArchived(f"cannot {action} experiment {key!r}: it is archived"
                                 " (unarchive it first)", field="archived")
    sources, target = TRANSITIONS[action]
    if experiment.status not in sources:
        allowed = ", ".join(sorted(sources))
        raise IllegalTransition(
            f"cannot {action} experiment {key!r}: it is {experiment.status}"
            f" ({action} is allowed from {allowed})", field="status")
    audit.record(session, experiment, actor, action,
                 {"from": experiment.status, "to": target, **detail})
    experiment.status = target
    touch(experiment)
    return experiment


def start_experiment(session: Session, key: str, *, actor: str = audit.SYSTEM) -> Experiment:
    """Start (or resume) serving arms to new units; the layer must still be free."""
    experiment = _move(session, key, "start", actor)
    definition = ExperimentDefinition.model_validate(experiment.definition)
    check_layer(session, definition, exclude_id=experiment.id)
    experiment.started_at = experiment.started_at or utcnow()
    session.flush()
    return experiment


def pause_experiment(session: Session, key: str, *, actor: str = audit.SYSTEM) -> Experiment:
    """Stop enrolling: assigned units keep their arm, new units get the control."""
    experiment = _move(session, key, "pause", actor)
    session.flush()
    return experiment


def stop_experiment(session: Session, key: str, *, actor: str = audit.SYSTEM) -> Experiment:
    """End the experiment: everyone gets the control, or the winner once promoted; its layer
    range is free. The analysis window keeps ending at the first stop or promotion."""
    experiment = _move(session, key, "stop", actor)
    experiment.stopped_at = experiment.stopped_at or utcnow()
    session.flush()
    return experiment


def promote_experiment(
    session: Session, key: str, arm: str, catalogue: Catalogue | None = None,
    *, actor: str = audit.SYSTEM,
) -> Experiment:
    """Make ``arm`` the winner: new units get it, assigned units keep their arm, so the layer
    range must be free again when a stopped experiment is promoted."""
    experiment = get_experiment(session, key)
    design = design_of(experiment, catalogue)
    if arm not in design.arm_keys:
        raise InvalidInput([FieldIssue("arm", f"{arm!r} is not an arm of {key!r};"
                                              f" arms: {', '.join(design.arm_keys)}")])
    experiment = _move(session, key, "promote", actor, arm=arm)
    check_layer(session, design.definition, exclude_id=experiment.id)
    experiment.winner_arm = arm
    now = utcnow()
    experiment.promoted_at = now
    experiment.stopped_at = experiment.stopped_at or now
    session.flush()
    return experiment
