"""Post-chat survey summary of an experiment, overall and per arm, aggregated in SQL.

The storefront's survey (``POST /api/v1/feedback``) asks whether the script helped, for a 1–5
rating, and which script unit moved or confused the shopper; ``experiments.tracking`` stores the
variant of that unit the shopper actually saw. This module counts those rows in the database
(DESIGN.md: analysis never loads raw rows) and returns frozen values for the experiment page,
the weekly report and e-mails.

Feedback from units never assigned to the experiment (``unexposed``) is left out: they saw no
arm, so their answers say nothing about the scripts being tested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from experiments.definitions import design_of, get_experiment
from experiments.models import Feedback

#: Ratings counted as satisfied for CSAT (the usual "top two boxes" of a 1–5 scale).
SATISFIED_FROM = 4
DEFAULT_TOP = 5
DEFAULT_COMMENTS = 5


@dataclass(frozen=True)
class Ratings:
    """Counts and shares of a group of survey answers (shares None without answers)."""

    responses: int
    mean_rating: float | None
    csat: float | None
    helpful_share: float | None


@dataclass(frozen=True)
class ArmSurvey:
    """The answers of the shoppers assigned to one arm."""

    arm: str
    ratings: Ratings


@dataclass(frozen=True)
class UnitVariantCount:
    """How many shoppers named this unit, in the variant they saw, as moving or confusing."""

    unit: str
    variant: str | None
    count: int


@dataclass(frozen=True)
class SurveyComment:
    """One free-text comment with the answer it came with."""

    arm: str | None
    rating: int
    helpful: bool
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class SurveySummary:
    """Everything the experiment page shows about the survey."""

    experiment: str
    overall: Ratings
    arms: tuple[ArmSurvey, ...]
    moved: tuple[UnitVariantCount, ...]
    confused: tuple[UnitVariantCount, ...]
    comments: tuple[SurveyComment, ...]


def survey_summary(
    session: Session, key: str, *, top: int = DEFAULT_TOP, comments: int = DEFAULT_COMMENTS
) -> SurveySummary:
    """Summarise experiment ``key``'s exposed survey answers (NotFound for an unknown key).

    Arms follow the design's order, each listed even without answers; ``top`` unit variants
    per list, most named first; the ``comments`` most recent non-empty comments.
    """
    experiment = get_experiment(session, key)
    exposed = (Feedback.experiment_id == experiment.id, Feedback.unexposed.is_(False))
    sums = _sums_by_arm(session, exposed)
    empty = (0, 0, 0, 0)
    arms = tuple(ArmSurvey(arm, _ratings(*sums.get(arm, empty)))
                 for arm in design_of(experiment).arm_keys)
    totals = [sum(column) for column in zip(*sums.values(), strict=True)] or empty
    return SurveySummary(
        experiment=experiment.key,
        overall=_ratings(*totals),
        arms=arms,
        moved=_named(session, exposed, Feedback.moved_by, Feedback.moved_by_variant, top),
        confused=_named(session, exposed, Feedback.confused_by, Feedback.confused_by_variant,
                        top),
        comments=_recent_comments(session, exposed, comments),
    )


def _sums_by_arm(
    session: Session, exposed: tuple[ColumnElement[bool], ...]
) -> dict[str, tuple[int, int, int, int]]:
    """Per arm: answers, sum of ratings, satisfied answers, helpful answers."""
    query = (
        select(
            Feedback.arm,
            func.count(),
            func.sum(Feedback.rating),
            func.sum(case((Feedback.rating >= SATISFIED_FROM, 1), else_=0)),
            func.sum(case((Feedback.helpful.is_(True), 1), else_=0)),
        )
        .where(*exposed)
        .group_by(Feedback.arm)
    )
    return {row[0]: tuple(int(value) for value in row[1:]) for row in session.execute(query)}


def _ratings(responses: int, rating_sum: int, satisfied: int, helpful: int) -> Ratings:
    if responses == 0:
        return Ratings(0, None, None, None)
    return Ratings(responses, rating_sum / responses, satisfied / responses, helpful / responses)


def _named(
    session: Session,
    exposed: tuple[ColumnElement[bool], ...],
    unit: Any,
    variant: Any,
    top: int,
) -> tuple[UnitVariantCount, ...]:
    """The ``top`` most named (unit, variant) pairs of one survey question."""
    count = func.count().label("count")
    query = (
        select(unit, variant, count)
        .where(*exposed, unit.is_not(None))
        .group_by(unit, variant)
        .order_by(count.desc(), unit, variant)
        .limit(top)
    )
    return tuple(UnitVariantCount(u, v, int(n)) for u, v, n in session.execute(query))


def _recent_comments(
    session: Session, exposed: tuple[ColumnElement[bool], ...], limit: int
) -> tuple[SurveyComment, ...]:
    query = (
        select(Feedback.arm, Feedback.rating, Feedback.helpful, Feedback.comment,
               Feedback.created_at)
        .where(*exposed, Feedback.comment.is_not(None), func.trim(Feedback.comment) != "")
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
        .limit(limit)
    )
    return tuple(SurveyComment(*row) for row in session.execute(query))
