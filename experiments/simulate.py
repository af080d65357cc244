"""Drive simulated traffic with known conversion rates through the real service code.

Each visitor goes through :func:`experiments.assignment.assign`; it converts with its arm's true
rate, reported through :func:`experiments.tracking.record_events`; every ``allocate_every``
visitors :func:`experiments.allocation.allocate_experiment` reweights or promotes. So what the
simulation shows is what the service would do, including stickiness, the period claims and the
promotion rule. Every visitor is eligible: the simulated copy of the definition drops
targeting, layer and coverage (they decide *who* enters, not how arms compete).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from experiments.allocation import allocate_experiment
from experiments.assignment import assign
from experiments.definitions import Design, get_experiment, parse_definition, upsert_experiment
from experiments.errors import FieldIssue, InvalidInput
from experiments.lifecycle import start_experiment
from experiments.schema import EventIn
from experiments.tracking import MAX_EVENTS_PER_CALL, record_events

#: A step's action after promotion: no allocation runs, the winner gets every new unit.
SERVING_WINNER = "serving winner"


@dataclass(frozen=True)
class Step:
    """One allocation period of the simulation: the weights in force, who came, and the
    allocation's action at its end (:data:`SERVING_WINNER` once promoted)."""

    first_visitor: int
    weights_version: int
    weights: tuple[float, ...]
    units: tuple[int, ...]
    action: str


@dataclass(frozen=True)
class SimulationReport:
    """What happened: per-step traffic, totals per arm, the winner and the regret.

    ``regret`` is the expected conversions lost against always showing the best arm,
    ``Σ visitors_i (max rate - rate_i)``.
    """

    experiment: str
    arms: tuple[str, ...]
    true_rates: tuple[float, ...]
    steps: tuple[Step, ...]
    units: tuple[int, ...]
    conversions: tuple[int, ...]
    winner: str | None
    promoted_after: int | None
    regret: float


def simulation_design(definition: Mapping[str, Any], true_rates: Sequence[float]) -> Design:
    """The eligible-to-all copy of ``definition``; InvalidInput when the rates do not fit."""
    data = {**definition, "targeting": {}, "coverage": 1.0, "layer": None}
    design = parse_definition(data)
    if len(true_rates) != len(design.arm_keys) or not all(0 <= r <= 1 for r in true_rates):
        raise InvalidInput([FieldIssue("true_rates", (
            f"{len(true_rates)} rates for {len(design.arm_keys)} arms"
            f" ({', '.join(design.arm_keys)}); each must be in [0, 1]"))])
    return design


def simulate_traffic(
    session: Session,
    definition: Mapping[str, Any],
    true_rates: Sequence[float],
    visitors: int,
    allocate_every: int,
    seed: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> SimulationReport:
    """Create and start the experiment, then serve ``visitors`` in allocation periods.

    Commits after every period. ``progress`` is called with the visitors served in each one.
    """
    design = simulation_design(definition, true_rates)
    key = design.definition.key
    upsert_experiment(session, design.definition)
    start_experiment(session, key)
    session.commit()
    rng = np.random.default_rng(seed)
    units, conversions = np.zeros(len(true_rates), int), np.zeros(len(true_rates), int)
    steps: list[Step] = []
    winner, promoted_after = None, None
    for first in range(0, visitors, allocate_every):
        count = min(allocate_every, visitors - first)
        step = _serve(session, design, true_rates, range(first, first + count), rng)
        units, conversions = units + step[0], conversions + step[1]
        action = SERVING_WINNER
        if winner is None:  # once promoted, the winner serves every new unit: nothing to allocate
            outcome = allocate_experiment(session, key, seed=rng)
            session.commit()
            action, winner = outcome.action, outcome.winner
            promoted_after = first + count if winner is not None else None
        steps.append(Step(first, *step[2:], tuple(int(u) for u in step[0]), action))
        if progress is not None:
            progress(count)
    rates = np.asarray(true_rates)
    return SimulationReport(key, design.arm_keys, tuple(true_rates), tuple(steps),
                            tuple(int(u) for u in units), tuple(int(c) for c in conversions),
                            winner, promoted_after, float(units @ (rates.max() - rates)))


def _serve(
    session: Session, design: Design, true_rates: Sequence[float], visitors: range,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, int, tuple[float, ...]]:
    """Assign each visitor, convert with its arm's true rate, report the conversions.

    Returns units and conversions per arm, and the weights version and weights in force.
    """
    key, metric = design.definition.key, design.definition.metrics.primary.name
    units, conversions = np.zeros(len(true_rates), int), np.zeros(len(true_rates), int)
    events = []
    for visitor in visitors:
        unit = f"visitor-{visitor}"
        arm = design.index(assign(session, key, unit).arm)
        units[arm] += 1
        if rng.random() < true_rates[arm]:
            conversions[arm] += 1
            events.append(EventIn(event_id=f"conversion-{unit}", unit_id=unit, experiment=key,
                                  name=metric))
    for start in range(0, len(events), MAX_EVENTS_PER_CALL):
        record_events(session, events[start:start + MAX_EVENTS_PER_CALL])
    experiment = get_experiment(session, key)
    return units, conversions, experiment.weights_version, tuple(experiment.weights)


def format_report(report: SimulationReport) -> str:
    """A terminal summary: traffic share per arm per step, totals, winner and regret."""
    short = [f"arm{i}" for i in range(len(report.arms))]
    lines = [f"{report.experiment}: {sum(report.units):,} visitors, "
             f"{len(report.steps)} allocation steps", "",
             _row(["from", "version", *short, "then"])]
    lines += [_row([f"{s.first_visitor:,}", str(s.weights_version),
                    *(f"{u / max(sum(s.units), 1):.0%}" for u in s.units), s.action])
              for s in report.steps]
    lines += ["", _row(["arm", "true rate", "visitors", "conv.", "rate", "key"])]
    lines += [_row([name, f"{rate:.2%}", f"{n:,}", f"{c:,}", f"{c / n:.2%}" if n else "-", key])
              for name, key, rate, n, c in zip(short, report.arms, report.true_rates,
                                               report.units, report.conversions, strict=True)]
    best = best_arms(report)
    verdict = "a true best arm" if report.winner in {report.arms[i] for i in best} else (
        "NOT a best arm")
    promoted = (f"promoted {report.winner} after {report.promoted_after:,} visitors ({verdict})"
                if report.winner else "no arm promoted")
    names = " = ".join(short[i] for i in best)
    lines += ["", promoted, f"conversions: {sum(report.conversions):,}",
              f"regret vs always showing {names}: {report.regret:,.1f} expected conversions"]
    return "\n".join(lines)


def best_arms(report: SimulationReport) -> tuple[int, ...]:
    """Every arm with the top true rate: tied arms are all best, promoting any one is right."""
    top = max(report.true_rates)
    return tuple(i for i, rate in enumerate(report.true_rates) if rate == top)


def _row(cells: Sequence[str]) -> str:
    """Right-aligned fixed-width cells (the last, free text, left as it is)."""
    return "".join(f"{cell:>9} " for cell in cells[:-1]) + cells[-1]
