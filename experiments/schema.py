"""The experiment definition (one shape for the API, YAML playbooks and the web form) and the
inputs the storefront sends back (events, survey feedback).

Pydantic checks shape, types and ranges of each field; rules that need several fields or the
variants catalogue live in :mod:`experiments.definitions` so they can name the exact field.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    field_validator,
    model_validator,
)

from abtest.allocation import DEFAULT_FLOOR, DEFAULT_MIN_UNITS
from abtest.stats.analysis_types import DEFAULT_EQUIVALENCE_MARGIN

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
ParameterValue = StrictStr | StrictInt | StrictFloat
DEFAULT_MAX_ABS_VALUE = 1e9
"""Default bound on an event's |value|: far above any order, far below what sums overflow."""
MAX_ABS_VALUE_LIMIT = 1e15
"""The largest bound a metric may set: 1e15 squared summed over 1e9 events is ~1e39, well
inside a double (PostgreSQL's SUM(x*x) over 1e160 raised NumericValueOutOfRange)."""
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)


def _walk(value: Any) -> Iterator[tuple[str, Any, list[str]]]:
    """Every item of a JSON value with its dotted path and, for objects, their string keys.
    Iterative: a value nested ~1,000 deep must not overflow the stack here."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        keys: list[str] = []
        if isinstance(item, dict):
            keys = [key for key in item if isinstance(key, str)]
            stack.extend((f"{path}.{key}", child) for key, child in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}.{index}", child) for index, child in enumerate(item))
        yield path.lstrip("."), item, keys


def _finite_json(value: Any) -> Any:
    """Refuse NaN and ±Infinity anywhere in a JSON value: JSON has no such numbers (Python's
    json reads ``1e999`` as inf) and PostgreSQL's json type refuses to store them."""
    for path, item, _ in _walk(value):
        if isinstance(item, float) and not math.isfinite(item):
            where = f" ({path} is {item})" if path else ""
            raise ValueError(f"numbers must be finite (JSON has no NaN or Infinity){where}")
    return value


FiniteJson = Annotated[Any, AfterValidator(_finite_json)]
"""Any JSON value without non-finite numbers (attributes, targeting)."""


def unstorable_text(value: Any) -> tuple[str, str] | None:
    """Where a string of ``value`` (keys too) holds NUL or a lone surrogate, and which: the
    dotted path of the value or of the object holding the key, and the reason. PostgreSQL
    cannot store either in text or json while SQLite would keep them, so both refuse alike."""
    for path, item, keys in _walk(value):
        for text in [item] if isinstance(item, str) else keys:
            if "\x00" in text:
                return path, "text must not contain NUL (\\u0000) characters"
            if any("\ud800" <= char <= "\udfff" for char in text):
                return path, "text must not contain unpaired surrogates"
    return None


def _storable_text(value: Any) -> Any:
    found = unstorable_text(value)
    if found:
        path, reason = found
        raise ValueError(f"{reason} ({path})" if path else reason)
    return value


def _plausible_event_time(value: datetime) -> datetime:
    """The time in UTC (naive means UTC) if it lies in [2000, 2100): outside it a timestamp is a
    client's clock or encoding bug, and the extremes of ``datetime`` cannot even be converted."""
    try:
        utc = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_EVENT <= utc < LATEST_EVENT:
        raise ValueError(f"must be at or after {EARLIEST_EVENT:%Y-%m-%d} and before"
                         f" {LATEST_EVENT:%Y-%m-%d} (UTC)")
    return utc


EventTime = Annotated[datetime, AfterValidator(_plausible_event_time), Field(json_schema_extra={
    "formatMinimum": f"{EARLIEST_EVENT:%Y-%m-%dT%H:%M:%SZ}",
    "formatExclusiveMaximum": f"{LATEST_EVENT:%Y-%m-%dT%H:%M:%SZ}"})]
"""An event time, its bounds in the schema as JSON Schema's format-range keywords (the
``formatMinimum`` vocabulary of ajv-formats), read by machines rather than only the text."""


class InputModel(BaseModel):
    """Unknown fields are errors: a typo in a playbook must not be silently ignored. Floats
    must be finite: JSON cannot carry NaN or Infinity back to a client or into PostgreSQL.
    Text must be storable on both backends (no NUL, no lone surrogate)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return _storable_text(value)


class UnitChoice(InputModel):
    """A catalogue unit in play, the variants compared, and the parameters its texts need."""

    unit: Identifier
    variants: list[Identifier] = Field(min_length=1)
    params: dict[Identifier, ParameterValue] = Field(default_factory=dict)


class Layer(InputModel):
    """A namespace slice ``[start, end)``: experiments of one layer never share a unit."""

    name: Slug
    range: tuple[Probability, Probability]

    @model_validator(mode="after")
    def _ordered(self) -> Layer:
        if self.range[0] >= self.range[1]:
            raise ValueError("layer range must be [start, end) with start < end")
        return self


class Metric(InputModel):
    """What is measured from events named ``name``: a rate (binary) or a mean (numeric)."""

    name: Identifier
    kind: Literal["binary", "numeric"]
    higher_is_better: bool = True
    max_abs_value: float = Field(
        default=DEFAULT_MAX_ABS_VALUE, gt=0.0, le=MAX_ABS_VALUE_LIMIT,
        description="Events of this metric with a larger |value| are refused (422)")


class Metrics(InputModel):
    """The decision metric, metrics reported beside it, and metrics that must not get worse."""

    primary: Metric
    secondary: list[Metric] = Field(default_factory=list)
    guardrails: list[Metric] = Field(default_factory=list)

    def all(self) -> list[Metric]:
        """Every metric, primary first."""
        return [self.primary, *self.secondary, *self.guardrails]


class FixedAllocation(InputModel):
    """Weights stay as defined (``mode`` is required: it tells the allocations apart)."""

    mode: Literal["fixed"]


class ThompsonAllocation(InputModel):
    """Thompson sampling re-weights arms every ``period_hours`` for new units only."""

    mode: Literal["thompson"]
    period_hours: int = Field(default=24, ge=1, le=24 * 30)
    floor: float = Field(default=DEFAULT_FLOOR, ge=0.0, lt=1.0)
    min_units: int = Field(default=DEFAULT_MIN_UNITS, ge=0)


Allocation = Annotated[FixedAllocation | ThompsonAllocation, Field(discriminator="mode")]


class PromotionRule(InputModel):
    """When the leading arm may be promoted: confident enough, on enough units per arm."""

    probability_best: float = Field(
        default=0.95, ge=0.5, lt=1.0,
        description="The leader's chance of being the best arm or within equivalence_margin of it")
    min_units_per_arm: int = Field(default=1000, ge=1)
    equivalence_margin: float = Field(
        default=DEFAULT_EQUIVALENCE_MARGIN, ge=0.0, le=0.5,
        description="Relative shortfall from the best arm that still counts as just as good"
                    " (0.05: within 5% of its rate), so one of several equally good arms is"
                    " shipped; 0 asks for the single best arm")


class ExperimentDefinition(InputModel):
    """A script experiment: which units vary, how arms are built, who sees it, what counts."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, title="ExperimentDefinition")

    key: Slug
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    hypothesis: str = ""
    template: Annotated[str, StringConstraints(min_length=1)]
    units: list[UnitChoice] = Field(min_length=1)
    design: Literal["factorial", "arms"] = "factorial"
    arms: list[dict[Identifier, Identifier]] | None = None
    control: str | None = Field(default=None, description="Arm key; default: the first arm")
    targeting: dict[str, FiniteJson] = Field(default_factory=dict)
    coverage: Probability = 1.0
    weights: list[Annotated[float, Field(ge=0.0, le=1.0)]] | None = None
    layer: Layer | None = None
    metrics: Metrics
    allocation: Allocation = Field(default_factory=lambda: FixedAllocation(mode="fixed"))
    promotion: PromotionRule | None = None


class EventIn(InputModel):
    """A storefront event; ``event_id`` is generated by the client so retries are harmless."""

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    unit_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    experiment: Slug | None = None
    name: Identifier
    value: StrictFloat | None = Field(
        default=None, ge=-MAX_ABS_VALUE_LIMIT, le=MAX_ABS_VALUE_LIMIT,
        description="A number (not a boolean); at most the metric's max_abs_value in size"
                    f" (default {DEFAULT_MAX_ABS_VALUE:g})")
    timestamp: EventTime | None = Field(
        default=None, description="ISO 8601, from 2000-01-01 to before 2100-01-01 UTC;"
                                  " default: now")


class FeedbackIn(InputModel):
    """The post-chat survey: did this help, which unit moved or confused the shopper."""

    event_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    unit_id: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    experiment: Slug
    rating: StrictInt = Field(ge=1, le=5)
    helpful: StrictBool
    moved_by: Identifier | None = None
    confused_by: Identifier | None = None
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None
