"""Request and response bodies of the JSON API (pydantic, so the OpenAPI document is generated
from the same models that validate requests)."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    model_validator,
)

from experiments.schema import EventIn, ExperimentDefinition, FiniteJson, InputModel, Slug
from experiments.tracking import MAX_EVENTS_PER_CALL

UnitId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class _Request(InputModel):
    """Unknown fields, non-finite numbers and text PostgreSQL cannot store are refused."""


class AssignRequest(_Request):
    """One experiment (``experiment``), several (``experiments``) or every live one (neither)."""

    unit_id: UnitId
    experiment: Slug | None = None
    experiments: list[Slug] | None = Field(default=None, max_length=100)
    attributes: dict[str, FiniteJson] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_selector(self) -> AssignRequest:
        if self.experiment is not None and self.experiments is not None:
            raise ValueError("give either experiment or experiments, not both")
        return self


class AssignmentOut(BaseModel):
    """The arm a unit sees; ``in_experiment`` false means the fallback (control or winner)."""

    experiment: str
    unit_id: str
    in_experiment: bool
    arm: str
    variants: dict[str, str]
    text: str


class AssignmentsOut(BaseModel):
    """Answer to a multi-experiment assign."""

    unit_id: str
    assignments: list[AssignmentOut]


class AssignAnswer(RootModel[AssignmentOut | AssignmentsOut]):
    """One assignment when ``experiment`` was given, else the list for the unit."""


class EventsRequest(_Request):
    """A batch of events, retried as a whole when delivery is uncertain."""

    events: list[EventIn] = Field(max_length=MAX_EVENTS_PER_CALL)


class AcceptedOut(BaseModel):
    """New rows and retried (already stored) rows."""

    accepted: int
    duplicates: int


class PromoteRequest(_Request):
    """The winner arm's key, e.g. ``countdown=on|stock_left=on|loyal_price=off``."""

    arm: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class ArmOut(BaseModel):
    """One arm, its choices and its rendered script."""

    key: str
    variants: dict[str, str]
    text: str


class ExperimentOut(BaseModel):
    """An experiment: definition, lifecycle state and current weights."""

    key: str
    name: str
    status: str
    winner: str | None
    control: str
    arms: list[ArmOut]
    weights: list[float]
    weights_version: int
    version: int
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    promoted_at: datetime | None
    archived_at: datetime | None = Field(
        description="Set while archived: hidden from the default list, no lifecycle moves")
    definition: ExperimentDefinition


class AllocationOut(BaseModel):
    """One allocation run (experiments.allocation.AllocationOutcome).

    ``action``: ``reweight`` (new weights for new units) or ``promote`` (the winner gets every
    new unit), both recorded as allocation snapshots; ``hold`` (too little data, weights kept)
    or ``skipped`` (another process reweighted this period first). ``probability_best`` is each
    arm's P(best) when computed; ``reasons`` say why nothing changed or which promotion clauses
    are unmet.
    """

    experiment: str
    action: Literal["reweight", "promote", "hold", "skipped"]
    weights: list[float]
    weights_version: int
    probability_best: list[float] | None
    reasons: list[str]
    winner: str | None


class ExperimentsOut(BaseModel):
    """Every experiment (archived ones only with ``archived=true``)."""

    experiments: list[ExperimentOut]


class ExperimentsQuery(BaseModel):
    """Query parameters of the experiment list."""

    model_config = ConfigDict(extra="forbid")

    archived: bool = Field(default=False, description="Also list archived experiments")


class UnitPath(_Request):
    """The unit id of a path, checked as the storefront's (length, storable text)."""

    unit_id: UnitId


class RemovedOut(BaseModel):
    """Rows removed, by table. A deletion leaves one tombstone entry in the audit log; an
    erasure an entry with these counts and without the unit id. Erasing a unit again answers
    200 with every count 0."""

    removed: dict[str, int]


class HealthOut(BaseModel):
    """Liveness with a database round trip."""

    status: str
    database: str


class ErrorDetail(BaseModel):
    """One problem: what, where (dotted field path), and a stable code."""

    code: str
    message: str
    field: str | None = None
    details: list[dict[str, str]] | None = None


class ErrorOut(BaseModel):
    """Every 4xx/5xx answer has this shape."""

    error: ErrorDetail
