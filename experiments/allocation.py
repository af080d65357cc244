"""Thompson allocation of running experiments, winner promotion, and their recorded history.

One run for one experiment: aggregate per-arm statistics per allocation period in SQL (the
results service's :func:`experiments.aggregation.group_statistics`), then the pure decision
:func:`abtest.promotion.bandit_step` (guardrail holds, Thompson weights on the period-stratified
estimate the results page shows, the promotion rule), then either open a new allocation period
with the new weights or promote the leader. An arm newly held at the floor by a guardrail is
written to the audit log with why. New units follow the new weights; assigned units keep their
arm (assignment is sticky, DESIGN.md).

Several processes (gunicorn workers, a cron ``abtest allocate``) may run this at once. The
database decides who acts: the new period is claimed by a compare-and-set
``UPDATE experiments SET weights_version = v + 1 ... WHERE weights_version = v``; a run that
finds the version moved changes nothing and reports ``"skipped"``. Every reweighting and every
promotion (automatic or by hand) is stored as an :class:`AllocationSnapshot` with the figures
that justified it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import JSON, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from abtest.allocation import AllocationResult, Periods, arm_totals
from abtest.promotion import (
    BanditStep,
    GuardrailData,
    PromotionDecision,
    PromotionRule,
    bandit_step,
)
from abtest.stats.summary import SampleStats
from experiments import audit
from experiments.aggregation import GroupStats, group_statistics
from experiments.definitions import Design, design_of, get_experiment
from experiments.errors import NotAllocatable
from experiments.lifecycle import promote_experiment
from experiments.models import Base, Experiment, WeightsPeriod, utcnow
from experiments.results import metric_specs
from experiments.schema import ExperimentDefinition, ThompsonAllocation
from variants import Catalogue

EMPTY = SampleStats(0, 0.0, 0.0)
RACE_LOST = "another process reweighted this period"


class AllocationSnapshot(Base):
    """One allocation decision: ``action`` is ``reweight``, ``promote`` or ``manual_promote``.

    ``weights`` are the weights of period ``weights_version`` opened by the decision;
    ``figures`` holds per-arm units, conversions (metric sum), posterior and probability best,
    and the promotion clauses when the rule was checked.
    """

    __tablename__ = "allocation_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiments.id", ondelete="CASCADE"))
    weights_version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    weights: Mapped[list[float]] = mapped_column(JSON)
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class AllocationOutcome:
    """What one allocation run did to one experiment.

    ``action``: ``reweight`` or ``promote`` (stored as a snapshot), ``hold`` (the gate kept the
    weights, nothing written), ``skipped`` (another process acted first). ``probability_best``
    is each arm's Monte Carlo ``P(best)`` when it was computed; ``reasons`` say why nothing
    changed, or which promotion clauses are unmet when reweighting instead of promoting.
    """

    experiment: str
    action: str
    weights: tuple[float, ...]
    weights_version: int
    reasons: tuple[str, ...] = ()
    winner: str | None = None
    probability_best: tuple[float, ...] | None = None


#: The audit action of an arm newly held at the floor weight by a guardrail.
GUARDRAIL_HOLD = "guardrail_hold"


@dataclass(frozen=True)
class _ArmData:
    """Primary and guardrail statistics per allocation period and arm."""

    primary: Periods
    guardrails: tuple[GuardrailData, ...]


def allocate_experiment(
    session: Session,
    key: str,
    *,
    seed: int | np.random.Generator | None = None,
    catalogue: Catalogue | None = None,
    actor: str = audit.SYSTEM,
) -> AllocationOutcome:
    """Reweight (or promote) experiment ``key`` now, whatever its period; the caller commits.

    NotFound for an unknown key, NotAllocatable unless it is a running Thompson experiment.
    ``actor`` is who the audit log names for a promotion (the scheduler: ``system``).
    """
    experiment = get_experiment(session, key)
    settings = _thompson_settings(experiment)
    if settings is None:
        raise NotAllocatable(f"{key!r} is not a running Thompson-sampling experiment"
                             f" (status {experiment.status})")
    design = design_of(experiment, catalogue)
    data = _arm_data(session, experiment, design)
    step = bandit_step(
        data.primary, design.definition.metrics.primary.kind, floor=settings.floor,
        min_units=settings.min_units, rule=promotion_rule(design.definition),
        control_index=design.control, guardrails=data.guardrails,
        current_weights=experiment.weights, seed=seed,
    )
    result, decision = step.allocation, step.decision
    if not result.reweighted:
        return _unchanged(experiment, "hold", result.reason, result.probability_best)
    _audit_new_holds(session, experiment, design, step, actor)
    if decision is not None and decision.promote:
        return _promote(session, experiment, design, data, step, catalogue, actor)
    return _reweight(session, experiment, design, data, step)


def allocate_due(
    session: Session,
    now: datetime | None = None,
    *,
    seed: int | np.random.Generator | None = None,
    catalogue: Catalogue | None = None,
) -> list[AllocationOutcome]:
    """Allocate every running Thompson experiment whose period (``period_hours``) has elapsed
    since its current weights took effect. The caller commits."""
    moment = now or utcnow()
    return [
        allocate_experiment(session, experiment.key, seed=seed, catalogue=catalogue)
        for experiment, settings in _running(session)
        if _due(session, experiment, settings, moment)
    ]


def promote_by_hand(
    session: Session, key: str, arm: str, catalogue: Catalogue | None = None,
    *, actor: str = audit.SYSTEM,
) -> Experiment:
    """A marketer's promotion through :func:`experiments.lifecycle.promote_experiment`,
    recorded as a ``manual_promote`` snapshot with the per-arm figures at that moment."""
    experiment = promote_experiment(session, key, arm, catalogue, actor=actor)
    design = design_of(experiment, catalogue)
    data = _arm_data(session, experiment, design)
    figures = {"arms": _arm_figures(design, data.primary, None), "winner": arm}
    _record(session, experiment, "manual_promote", figures)
    return experiment


def promotion_rule(definition: ExperimentDefinition) -> PromotionRule | None:
    """The rule the service checks for ``definition`` (None: no automatic promotion).

    The definition sets the thresholds; the sequential and guardrail levels are
    :class:`abtest.promotion.PromotionRule`'s. bench/bandit.py measures this same rule, read
    from the urgency-close playbook.
    """
    configured = definition.promotion
    if configured is None:
        return None
    return PromotionRule(configured.probability_best, configured.min_units_per_arm,
                         configured.equivalence_margin)


def snapshots(session: Session, key: str) -> list[AllocationSnapshot]:
    """The experiment's allocation history, oldest first."""
    experiment = get_experiment(session, key)
    query = select(AllocationSnapshot).where(AllocationSnapshot.experiment_id == experiment.id)
    return list(session.scalars(query.order_by(AllocationSnapshot.id)))


def _thompson_settings(experiment: Experiment) -> ThompsonAllocation | None:
    allocation = design_of(experiment).definition.allocation
    if experiment.status != "running" or not isinstance(allocation, ThompsonAllocation):
        return None
    return allocation


def _running(session: Session) -> list[tuple[Experiment, ThompsonAllocation]]:
    query = select(Experiment).where(Experiment.status == "running").order_by(Experiment.key)
    found = ((e, _thompson_settings(e)) for e in session.scalars(query))
    return [(e, settings) for e, settings in found if settings is not None]


def _due(
    session: Session, experiment: Experiment, settings: ThompsonAllocation, now: datetime
) -> bool:
    period = session.get_one(WeightsPeriod, (experiment.id, experiment.weights_version))
    return period.valid_from + timedelta(hours=settings.period_hours) <= now


def _arm_data(session: Session, experiment: Experiment, design: Design) -> _ArmData:
    """Per allocation period and arm, the results service's group rows for every metric."""
    metrics = metric_specs(design.definition)
    groups = group_statistics(session, experiment.id, metrics)
    periods = [_per_period(design, groups, m) for m in range(len(metrics))]
    guardrails = tuple(
        GuardrailData(spec.name, spec.kind, spec.higher_is_better, periods[m])
        for m, spec in enumerate(metrics)
        if spec.role == "guardrail"
    )
    return _ArmData(periods[0], guardrails)


def _per_period(design: Design, groups: Sequence[GroupStats], metric: int) -> Periods:
    """``periods[t][i]`` for the weights versions that have units, oldest first."""
    by_version: dict[int, list[SampleStats]] = {}
    for group in groups:
        arms = by_version.setdefault(group.weights_version, [EMPTY] * len(design.arm_keys))
        i = design.index(group.arm)
        arms[i] = arms[i] + group.stats[metric]
    return tuple(tuple(by_version[v]) for v in sorted(by_version)) or (
        (EMPTY,) * len(design.arm_keys),)


def _audit_new_holds(
    session: Session, experiment: Experiment, design: Design, step: BanditStep, actor: str
) -> None:
    """One audit entry per arm a guardrail holds at the floor that the last run did not."""
    last = session.scalars(
        select(AllocationSnapshot).where(AllocationSnapshot.experiment_id == experiment.id)
        .order_by(AllocationSnapshot.id.desc()).limit(1)).first()
    before = (last.figures.get("held_back") or {}) if last is not None else {}
    for arm, why in sorted(step.held_back.items()):
        key = design.arm_keys[arm]
        if key not in before:
            audit.record(session, experiment, actor, GUARDRAIL_HOLD, {"arm": key, "reason": why})


def _reweight(
    session: Session, experiment: Experiment, design: Design, data: _ArmData, step: BanditStep
) -> AllocationOutcome:
    result, decision = step.allocation, step.decision
    if not _claim_period(session, experiment, result.weights):
        return _unchanged(experiment, "skipped", RACE_LOST, result.probability_best)
    figures = _step_figures(design, data, step)
    _record(session, experiment, "reweight", figures)
    return AllocationOutcome(
        experiment.key, "reweight", result.weights, experiment.weights_version,
        reasons=decision.reasons if decision is not None else (),
        probability_best=result.probability_best,
    )


def _promote(
    session: Session,
    experiment: Experiment,
    design: Design,
    data: _ArmData,
    step: BanditStep,
    catalogue: Catalogue | None,
    actor: str,
) -> AllocationOutcome:
    """Claim the period with the winner at weight 1 (what new units get), then promote."""
    result, decision = step.allocation, step.decision
    assert decision is not None and decision.leader is not None
    winner = design.arm_keys[decision.leader]
    only = tuple(float(i == decision.leader) for i in range(len(design.arm_keys)))
    if not _claim_period(session, experiment, only):
        return _unchanged(experiment, "skipped", RACE_LOST, result.probability_best)
    promote_experiment(session, experiment.key, winner, catalogue, actor=actor)
    figures = {**_step_figures(design, data, step), "winner": winner}
    _record(session, experiment, "promote", figures)
    return AllocationOutcome(
        experiment.key, "promote", only, experiment.weights_version, winner=winner,
        probability_best=result.probability_best,
    )


def _claim_period(session: Session, experiment: Experiment, weights: Sequence[float]) -> bool:
    """Compare-and-set the next weights version; False when another process got there first."""
    seen = experiment.weights_version
    claimed = session.execute(
        update(Experiment)
        .where(Experiment.id == experiment.id, Experiment.weights_version == seen)
        .values(
            weights=list(weights),
            weights_version=seen + 1,
            version=Experiment.version + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    session.add(WeightsPeriod(experiment_id=experiment.id, version=seen + 1, weights=list(weights)))
    session.flush()
    session.refresh(experiment)
    return True


def _record(
    session: Session, experiment: Experiment, action: str, figures: dict[str, Any]
) -> None:
    session.add(
        AllocationSnapshot(
            experiment_id=experiment.id,
            weights_version=experiment.weights_version,
            action=action,
            weights=list(experiment.weights),
            figures=figures,
        )
    )
    session.flush()


def _step_figures(design: Design, data: _ArmData, step: BanditStep) -> dict[str, Any]:
    return {
        "arms": _arm_figures(design, data.primary, step.allocation),
        "promotion": _decision_figures(design, step.decision),
        "held_back": {design.arm_keys[arm]: why for arm, why in step.held_back.items()},
    }


def _arm_figures(
    design: Design, periods: Periods, result: AllocationResult | None
) -> list[dict[str, Any]]:
    """Units, conversions (metric sum), posterior and P(best) per arm, JSON-ready."""
    figures = []
    for i, (key, arm) in enumerate(zip(design.arm_keys, arm_totals(periods), strict=True)):
        row: dict[str, Any] = {"arm": key, "units": arm.n, "conversions": arm.sum}
        if result is not None and result.posteriors is not None:
            row["posterior"] = asdict(result.posteriors[i])
            row["probability_best"] = result.probability_best[i]  # type: ignore[index]
        figures.append(row)
    return figures


def _decision_figures(design: Design, decision: PromotionDecision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "promote": decision.promote,
        "leader": design.arm_keys[decision.leader] if decision.leader is not None else None,
        "clauses": [_finite(asdict(clause)) for clause in decision.clauses],
    }


def _finite(row: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON (PostgreSQL refuses it): undefined figures become null."""
    return {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in row.items()}


def _unchanged(
    experiment: Experiment, action: str, reason: str,
    probability_best: tuple[float, ...] | None,
) -> AllocationOutcome:
    return AllocationOutcome(
        experiment.key, action, tuple(experiment.weights), experiment.weights_version,
        (reason,), probability_best=probability_best,
    )
