"""experiments.allocation: Thompson reweighting on stored data, snapshots, promotion, races."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bench.bandit import scenario, shipped_settings
from experiments import audit, results
from experiments.allocation import (
    allocate_due,
    allocate_experiment,
    promote_by_hand,
    promotion_rule,
    snapshots,
)
from experiments.assignment import assign, compile_live
from experiments.db import make_session_factory
from experiments.definitions import parse_definition
from experiments.errors import NotAllocatable
from experiments.models import Assignment, Event, Experiment, WeightsPeriod, utcnow
from experiments.results import experiment_results
from experiments.scheduler import AllocationScheduler

THOMPSON = {"mode": "thompson", "period_hours": 1, "floor": 0.05, "min_units": 100}
Z = 3.29  # two-sided 0.001 binomial bounds, as the assignment uniformity tests


def seed_arm(session: Session, experiment: Experiment, arm: int, units: int, conversions: int,
             tag: str = "") -> None:
    """Store ``units`` assignments to arm ``arm`` in the current period, the first
    ``conversions`` of them converted (rows written directly: fast and exact)."""
    key = compile_live(experiment).design.arm_keys[arm]
    now = utcnow()
    for j in range(units):
        unit = f"seed-{tag}{arm}-{j}"
        session.add(Assignment(experiment_id=experiment.id, unit_id=unit, arm=key,
                               weights_version=experiment.weights_version, attributes={},
                               assigned_at=now))
        if j < conversions:
            session.add(Event(event_id=f"ev-{unit}", experiment_id=experiment.id, unit_id=unit,
                              name="conversion", occurred_at=now + timedelta(seconds=1)))
    session.commit()


@pytest.fixture
def thompson(running: Callable[..., Experiment]) -> Callable[..., Experiment]:
    def make(**changes: Any) -> Experiment:
        return running(allocation=THOMPSON, **changes)

    return make


def test_fixed_allocation_is_left_alone(session, running):
    experiment = running()
    seed_arm(session, experiment, 0, 300, 10)
    seed_arm(session, experiment, 1, 300, 60)
    with pytest.raises(NotAllocatable, match="not a running Thompson"):
        allocate_experiment(session, experiment.key, seed=1)
    assert experiment.weights_version == 1
    assert snapshots(session, experiment.key) == []


def test_too_few_units_hold_the_weights(session, thompson):
    experiment = thompson()
    seed_arm(session, experiment, 0, 300, 10)
    seed_arm(session, experiment, 1, 99, 30)
    outcome = allocate_experiment(session, experiment.key, seed=1)
    assert (outcome.action, outcome.weights) == ("hold", (0.5, 0.5))
    assert "fewer than 100" in outcome.reasons[0]
    assert outcome.probability_best is None
    assert experiment.weights_version == 1
    assert snapshots(session, experiment.key) == []


def test_reweighting_opens_a_period_and_stores_a_snapshot(session, thompson):
    experiment = thompson()
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    outcome = allocate_experiment(session, experiment.key, seed=1)
    session.commit()
    assert outcome.action == "reweight"
    assert outcome.weights_version == experiment.weights_version == 2
    assert outcome.weights[1] == pytest.approx(0.95)  # P(best) ~ 1, capped by the 5% floor
    period = session.get_one(WeightsPeriod, (experiment.id, 2))
    assert tuple(period.weights) == outcome.weights
    [snapshot] = snapshots(session, experiment.key)
    assert (snapshot.action, snapshot.weights_version) == ("reweight", 2)
    arms = snapshot.figures["arms"]
    assert [(a["units"], a["conversions"]) for a in arms] == [(300, 15.0), (300, 45.0)]
    assert arms[1]["posterior"] == {"alpha": 46.0, "beta": 256.0}
    assert sum(a["probability_best"] for a in arms) == pytest.approx(1.0)
    assert snapshot.figures["promotion"] is None  # the definition has no promotion rule


def test_assigned_units_keep_their_arm_and_new_units_follow_the_new_weights(session, thompson):
    experiment = thompson()
    before = {f"u{i}": assign(session, experiment.key, f"u{i}").arm for i in range(200)}
    session.commit()
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    weights = allocate_experiment(session, experiment.key, seed=1).weights
    session.commit()
    assert {unit: assign(session, experiment.key, unit).arm for unit in before} == before
    n = 2000
    arms = compile_live(experiment).design.arm_keys
    new = [assign(session, experiment.key, f"new-{i}").arm for i in range(n)]
    share, expected = new.count(arms[0]) / n, weights[0]
    assert abs(share - expected) <= Z * math.sqrt(expected * (1 - expected) / n)
    versions = session.scalars(select(Assignment.weights_version).where(
        Assignment.unit_id.like("new-%"))).all()
    assert set(versions) == {2}


def test_two_runs_of_one_period_reweight_once(engine, session, thompson):
    experiment = thompson()
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    with Session(engine) as late:
        stale = late.get_one(Experiment, experiment.id)  # loaded before the other run commits
        assert stale.weights_version == 1
        first = allocate_experiment(session, experiment.key, seed=1)
        session.commit()
        second = allocate_experiment(late, experiment.key, seed=2)
        late.commit()
    assert (first.action, second.action) == ("reweight", "skipped")
    session.expire_all()
    assert session.get_one(Experiment, experiment.id).weights_version == 2
    assert len(snapshots(session, experiment.key)) == 1
    count = select(func.count()).select_from(WeightsPeriod).where(
        WeightsPeriod.experiment_id == experiment.id)
    assert session.scalar(count) == 2


def test_allocate_due_waits_for_the_period(session, thompson):
    experiment = thompson()
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    assert allocate_due(session, seed=1) == []  # version 1 began less than an hour ago
    later = utcnow() + timedelta(hours=1, seconds=1)
    [outcome] = allocate_due(session, later, seed=1)
    session.commit()
    assert outcome.action == "reweight"
    assert allocate_due(session, seed=1) == []  # the new period began just now
    assert [o.action for o in allocate_due(session, later + timedelta(hours=1), seed=1)] == [
        "reweight"]


def test_promotion_through_allocation_records_why_and_serves_the_winner(session, thompson):
    experiment = thompson(promotion={"probability_best": 0.95, "min_units_per_arm": 300})
    seed_arm(session, experiment, 0, 1500, 60)
    seed_arm(session, experiment, 1, 1500, 150)
    outcome = allocate_experiment(session, experiment.key, seed=1)
    session.commit()
    winner = compile_live(experiment).design.arm_keys[1]
    assert (outcome.action, outcome.winner) == ("promote", winner)
    assert (experiment.status, experiment.winner_arm) == ("promoted", winner)
    [snapshot] = snapshots(session, experiment.key)
    assert snapshot.action == "promote"
    assert snapshot.weights == [0.0, 1.0]
    clauses = {c["name"]: c for c in snapshot.figures["promotion"]["clauses"]}
    assert set(clauses) == {"probability_best", "min_units", "sequential"}
    assert all(c["met"] for c in clauses.values())
    assert clauses["min_units"]["value"] == 1500
    assert {assign(session, experiment.key, f"after-{i}").arm for i in range(50)} == {winner}


def test_unmet_rule_reweights_and_records_the_reasons(session, thompson):
    experiment = thompson(promotion={"probability_best": 0.95, "min_units_per_arm": 1000})
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    outcome = allocate_experiment(session, experiment.key, seed=1)
    assert outcome.action == "reweight"
    assert experiment.status == "running"
    promotion = snapshots(session, experiment.key)[0].figures["promotion"]
    assert not promotion["promote"]
    unmet = {c["name"]: c["detail"] for c in promotion["clauses"] if not c["met"]}
    assert "min_units" in unmet and "probability_best" not in unmet
    assert "300 units < 1000" in unmet["min_units"]
    assert outcome.reasons == tuple(unmet.values())
    assert outcome.probability_best[1] > 0.99  # type: ignore[index]


def test_an_arm_harming_a_guardrail_is_held_at_the_floor_never_promoted_and_audited(
    session, thompson
):
    metrics = {"primary": {"name": "conversion", "kind": "binary"},
               "guardrails": [{"name": "complaint", "kind": "binary",
                               "higher_is_better": False}]}
    experiment = thompson(promotion={"probability_best": 0.95, "min_units_per_arm": 300},
                          metrics=metrics)
    seed_arm(session, experiment, 0, 1500, 60)
    seed_arm(session, experiment, 1, 1500, 150)
    for j in range(120):  # the better-converting arm draws far more complaints
        unit = f"seed-1-{j}"
        session.add(Event(event_id=f"complaint-{j}", experiment_id=experiment.id, unit_id=unit,
                          name="complaint", occurred_at=utcnow() + timedelta(seconds=2)))
    session.commit()
    outcome = allocate_experiment(session, experiment.key, seed=1)
    assert outcome.action == "reweight"
    harmful = compile_live(experiment).design.arm_keys[1]
    assert outcome.weights[1] == pytest.approx(THOMPSON["floor"])
    figures = snapshots(session, experiment.key)[0].figures
    alert = next(check for check in results.experiment_results(session, experiment.key)
                 .analysis.guardrails.checks if check.arm == harmful)
    assert alert.harmed  # the page's alert and the bandit's hold: one test, named the same
    assert f"by the {alert.test}" in figures["held_back"][harmful]
    assert figures["promotion"]["leader"] != harmful
    [entry] = [e for e in audit.entries(session, experiment) if e.action == "guardrail_hold"]
    assert entry.detail["arm"] == harmful and "complaint higher" in entry.detail["reason"]
    session.commit()
    allocate_experiment(session, experiment.key, seed=2)  # still held: no second entry
    assert len([e for e in audit.entries(session, experiment)
                if e.action == "guardrail_hold"]) == 1


def test_manual_promotion_is_recorded(session, thompson):
    experiment = thompson()
    seed_arm(session, experiment, 0, 200, 10)
    arm = compile_live(experiment).design.arm_keys[1]
    promote_by_hand(session, experiment.key, arm)
    session.commit()
    [snapshot] = snapshots(session, experiment.key)
    assert snapshot.action == "manual_promote"
    assert snapshot.figures["winner"] == arm
    assert snapshot.figures["arms"][0] == {"arm": snapshot.figures["arms"][0]["arm"],
                                           "units": 200, "conversions": 10.0}
    assert experiment.winner_arm == arm


def test_results_still_analyse_a_reweighted_experiment(session, thompson):
    experiment = thompson()
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    allocate_experiment(session, experiment.key, seed=1)
    session.commit()
    seed_arm(session, experiment, 1, 200, 30, tag="p2")
    periods = experiment_results(session, experiment.key).analysis.srm
    assert periods.periods == 2


def test_the_background_scheduler_reweights_a_due_experiment_once(engine, session, thompson):
    experiment = thompson()
    seed_arm(session, experiment, 0, 300, 15)
    seed_arm(session, experiment, 1, 300, 45)
    period = session.get_one(WeightsPeriod, (experiment.id, 1))
    period.valid_from = utcnow() - timedelta(hours=2)  # version 1 began two hours ago
    session.commit()
    factory = make_session_factory(engine)
    scheduler = AllocationScheduler(factory, period_seconds=0.05)
    scheduler.start()
    deadline = time.monotonic() + 20
    while not snapshots(session, experiment.key) and time.monotonic() < deadline:
        time.sleep(0.05)
        session.expire_all()
    time.sleep(0.3)  # several more ticks: the new period is not due for an hour
    scheduler.stop(timeout=20)
    session.expire_all()
    assert session.get_one(Experiment, experiment.id).weights_version == 2
    assert [s.action for s in snapshots(session, experiment.key)] == ["reweight"]
    with pytest.raises(ValueError):
        AllocationScheduler(factory, period_seconds=0).start()


def test_the_bandit_benchmark_measures_the_settings_the_playbook_ships(playbook):
    definition = parse_definition(playbook("urgency-close")).definition
    allocation, rule = shipped_settings()
    assert allocation == definition.allocation and rule == promotion_rule(definition)
    assert (allocation.floor, allocation.min_units) == (0.07, 200)  # tuned by bench/bandit.py
    assert (rule.probability_best, rule.min_units_per_arm) == (0.90, 500)
    assert rule.equivalence_margin == 0.05
    served = scenario(allocation, rates=(0.05,) * 8)
    assert (served.floor, served.min_units) == (allocation.floor, allocation.min_units)
