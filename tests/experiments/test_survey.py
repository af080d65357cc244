"""experiments.survey: SQL counts against plain-Python counts of the inserted feedback rows, on
SQLite and PostgreSQL (the ``session`` fixture runs on both)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from experiments.definitions import design_of
from experiments.errors import NotFound
from experiments.models import Assignment, Experiment, Feedback
from experiments.schema import FeedbackIn
from experiments.survey import Ratings, survey_summary
from experiments.tracking import record_feedback

T0 = datetime(2026, 11, 9, 20, 0, tzinfo=UTC)
COMMENTS = ["话术很贴心", "", "   ", None, "倒计时有点催", "库存提示让我马上下单了", None]


def _rows(experiment: Experiment, count: int, seed: int) -> list[dict[str, Any]]:
    """Random answers; about one in six unexposed (no arm), which the summary must ignore."""
    rng = random.Random(seed)
    arms = design_of(experiment).arm_keys[:-1]  # the last arm gets no answer at all
    rows = []
    for i in range(count):
        unexposed = rng.random() < 1 / 6
        moved, confused = rng.choice([None, "stock_left"]), rng.choice([None, None, "stock_left"])
        rows.append({
            "event_id": f"f{i}", "experiment_id": experiment.id, "unit_id": f"u{i}",
            "arm": None if unexposed else rng.choice(arms), "rating": rng.randint(1, 5),
            "helpful": rng.random() < 0.6, "moved_by": moved,
            "moved_by_variant": moved and rng.choice(["on", "off"]),
            "confused_by": confused, "confused_by_variant": confused and "on",
            "comment": rng.choice(COMMENTS), "unexposed": unexposed,
            "created_at": T0 + timedelta(minutes=i),
        })
    return rows


def _reference(rows: list[dict[str, Any]]) -> Ratings:
    n = len(rows)
    if n == 0:
        return Ratings(0, None, None, None)
    return Ratings(n, sum(r["rating"] for r in rows) / n,
                   sum(r["rating"] >= 4 for r in rows) / n, sum(r["helpful"] for r in rows) / n)


def _approx(ratings: Ratings) -> Ratings:
    return Ratings(ratings.responses, *(None if v is None else pytest.approx(v)
                                         for v in (ratings.mean_rating, ratings.csat,
                                                   ratings.helpful_share)))


def test_summary_matches_python_counts(session: Session,
                                       running: Callable[..., Experiment]) -> None:
    experiment = running(
        units=[{"unit": "stock_left", "variants": ["off", "on"], "params": {"stock": 3}},
               {"unit": "countdown", "variants": ["off", "on"]}],
        template="亲，{countdown}{stock_left}")
    rows = _rows(experiment, 300, seed=7)
    session.add_all(Feedback(**row) for row in rows)
    session.commit()

    summary = survey_summary(session, experiment.key, top=3, comments=4)

    exposed = [r for r in rows if not r["unexposed"]]
    assert summary.overall == _approx(_reference(exposed))
    for arm in summary.arms:
        assert arm.ratings == _approx(_reference([r for r in exposed if r["arm"] == arm.arm]))
    assert [a.arm for a in summary.arms] == list(design_of(experiment).arm_keys)
    assert summary.arms[-1].ratings == Ratings(0, None, None, None)

    for field, found in (("moved_by", summary.moved), ("confused_by", summary.confused)):
        counts = Counter((r[field], r[f"{field}_variant"]) for r in exposed if r[field])
        expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        assert [((c.unit, c.variant), c.count) for c in found] == expected

    texts = [r for r in exposed if r["comment"] and r["comment"].strip()]
    latest = sorted(texts, key=lambda r: r["created_at"], reverse=True)[:4]
    assert [(c.comment, c.arm, c.rating, c.helpful) for c in summary.comments] == [
        (r["comment"], r["arm"], r["rating"], r["helpful"]) for r in latest]


def test_summary_of_answers_recorded_through_the_tracking_service(
    session: Session, running: Callable[..., Experiment]
) -> None:
    experiment = running()
    session.add(Assignment(experiment_id=experiment.id, unit_id="shopper", arm="stock_left=on",
                           weights_version=1, attributes={}))
    session.commit()
    for i, (unit, rating) in enumerate([("shopper", 5), ("shopper", 2), ("stranger", 5)]):
        record_feedback(session, FeedbackIn(event_id=f"e{i}", unit_id=unit,
                                            experiment=experiment.key, rating=rating,
                                            helpful=rating > 3, moved_by="stock_left",
                                            comment=f"第{i}条"))
    session.commit()
    summary = survey_summary(session, experiment.key)
    assert summary.overall == Ratings(2, 3.5, 0.5, 0.5)
    assert [(c.unit, c.variant, c.count) for c in summary.moved] == [("stock_left", "on", 2)]
    assert summary.confused == ()
    assert [c.comment for c in summary.comments] == ["第1条", "第0条"]


def test_summary_without_answers_and_of_an_unknown_experiment(
    session: Session, running: Callable[..., Experiment]
) -> None:
    experiment = running()
    summary = survey_summary(session, experiment.key)
    assert summary.overall == Ratings(0, None, None, None)
    assert (summary.moved, summary.confused, summary.comments) == ((), (), ())
    assert len(summary.arms) == 2
    with pytest.raises(NotFound):
        survey_summary(session, "no-such-experiment")
