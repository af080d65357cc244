"""A seeded week of simulated traffic for the weekly-report tests (services, fixed seeds).

Units go through :func:`experiments.assignment.assign` (with RFM segments imported through
:mod:`experiments.segments`, so the stored segment reaches the exposure attributes), events
through :func:`experiments.tracking.record_events` and survey answers through
:func:`experiments.tracking.record_feedback`. ``assign`` stamps exposures with the wall clock,
so each new assignment row is then moved to a seeded time inside the week; events follow their
unit's exposure and stay inside the week too.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from experiments.assignment import assign
from experiments.definitions import create_experiment
from experiments.lifecycle import start_experiment
from experiments.models import Assignment, Experiment, WeightsPeriod
from experiments.reports import IsoWeek
from experiments.schema import EventIn, FeedbackIn
from experiments.segments import import_orders
from experiments.tracking import record_events, record_feedback

WEEK = IsoWeek(2026, 47)
KEY = "urgency-close"
#: True conversion rate per number of urgency units switched on (0..3).
RATES = (0.12, 0.18, 0.24, 0.32)
COMMENTS = ("倒计时让我下决心了", "库存提示有点假", "老客价不错", "too pushy", None)


@dataclass(frozen=True)
class SeededWeek:
    """What was seeded: exposure times per unit (all inside ``WEEK``)."""

    exposed_at: dict[str, datetime]


def start_in_week(session: Session, definition: dict[str, Any], at: datetime) -> Experiment:
    """Create and start ``definition``, dated ``at`` (start and first allocation period)."""
    experiment = create_experiment(session, definition)
    start_experiment(session, definition["key"])
    experiment.started_at = at
    session.execute(update(WeightsPeriod).where(WeightsPeriod.experiment_id == experiment.id)
                    .values(valid_from=at))
    session.commit()
    return experiment


def _orders_csv(rng: random.Random, units: int) -> str:
    lines = ["customer_id,order_time,amount"]
    for i in range(units):
        for _ in range(rng.randint(1, 6)):
            day = WEEK.start - timedelta(days=rng.randint(1, 300))
            lines.append(f"u{i},{day.date().isoformat()},{rng.randint(20, 900)}.00")
    return "\n".join(lines) + "\n"


def seed_week(session: Session, playbook: Callable[[str], dict[str, Any]], units: int = 320,
              seed: int = 47) -> SeededWeek:
    """The urgency-close playbook running through ``WEEK`` with ``units`` shoppers."""
    rng = random.Random(seed)
    definition = playbook(KEY)
    definition.pop("layer")
    experiment = start_in_week(session, definition, WEEK.start + timedelta(hours=1))
    import_orders(session, io.StringIO(_orders_csv(rng, units * 3 // 4)), WEEK.start)
    exposed: dict[str, datetime] = {}
    events: list[EventIn] = []
    for i in range(units):
        unit = f"u{i}"
        arm = assign(session, KEY, unit, {"channel": rng.choice(["chat", "qianniu"])}).arm
        exposed[unit] = WEEK.start + timedelta(hours=rng.uniform(2, 24 * 7 - 30))
        session.execute(update(Assignment).where(
            Assignment.experiment_id == experiment.id, Assignment.unit_id == unit,
        ).values(assigned_at=exposed[unit]))
        events += _events(rng, unit, arm, exposed[unit])
        _feedback(session, rng, unit)
    for start in range(0, len(events), 500):
        record_events(session, events[start:start + 500])
    session.commit()
    return SeededWeek(exposed)


def _events(rng: random.Random, unit: str, arm: str, at: datetime) -> list[EventIn]:
    """Conversion (rate by urgency units on), its revenue, and a rare complaint."""
    events = []
    when = at + timedelta(hours=rng.uniform(0.1, 24))
    if rng.random() < RATES[arm.count("=on")]:
        events.append(EventIn(event_id=f"{unit}-c", unit_id=unit, experiment=KEY,
                              name="conversion", timestamp=when))
        events.append(EventIn(event_id=f"{unit}-r", unit_id=unit, experiment=KEY,
                              name="revenue", value=round(rng.uniform(30, 300), 2),
                              timestamp=when))
    if rng.random() < 0.03:
        events.append(EventIn(event_id=f"{unit}-x", unit_id=unit, experiment=KEY,
                              name="complaint", timestamp=when))
    return events


def _feedback(session: Session, rng: random.Random, unit: str) -> None:
    if rng.random() < 0.4:
        record_feedback(session, FeedbackIn(
            event_id=f"{unit}-f", unit_id=unit, experiment=KEY, rating=rng.randint(1, 5),
            helpful=rng.random() < 0.6,
            moved_by=rng.choice(["countdown", "stock_left", "loyal_price", None]),
            confused_by=rng.choice(["countdown", "stock_left", None, None]),
            comment=rng.choice(COMMENTS)))


def add_late_traffic(session: Session) -> None:
    """A unit exposed after ``WEEK`` and a conversion after it: the week's report ignores both."""
    late = WEEK.end + timedelta(hours=3)
    assign(session, KEY, "late-unit", {"channel": "chat"})
    session.execute(update(Assignment).where(Assignment.unit_id == "late-unit")
                    .values(assigned_at=late))
    record_events(session, [
        EventIn(event_id=f"late-{unit}", unit_id=unit, experiment=KEY, name="conversion",
                timestamp=late)
        for unit in ("late-unit", "u0", "u1", "u2")
    ])
    session.commit()
