"""Experiment definitions: validation against the variants catalogue, create, update, read.

A definition is checked twice: pydantic for the shape of each field, then :func:`compile_design`
for rules that span fields or need the catalogue (units and variants exist, parameters cover
the texts, template slots match the units, every arm renders, weights fit the arms). Every arm is
rendered once here, so serving an arm later is a lookup.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

import variants
from abtest.conditions import InvalidCondition, validate_condition
from experiments import audit
from experiments.errors import (
    Conflict,
    FieldIssue,
    InvalidInput,
    LayerOverlap,
    NotFound,
    StaleVersion,
)
from experiments.models import Experiment, WeightsPeriod, utcnow
from experiments.schema import ExperimentDefinition
from variants import Catalogue

ACTIVE_STATUSES = ("draft", "running", "paused")
# A promoted experiment still serves its assigned units their own arms (in_experiment: true),
# so it keeps its layer range; stopping it (everyone then sees the winner) frees the range.
LAYER_HOLDING_STATUSES = (*ACTIVE_STATUSES, "promoted")
FROZEN_STATUSES = ("stopped", "promoted")


@dataclass(frozen=True)
class Design:
    """What a valid definition compiles to: arms in order, their keys and rendered texts."""

    definition: ExperimentDefinition
    arms: tuple[Mapping[str, str], ...]
    arm_keys: tuple[str, ...]
    texts: tuple[str, ...]
    control: int

    def index(self, arm_key: str) -> int:
        """Position of ``arm_key``; ValueError when it is not an arm of this design."""
        return self.arm_keys.index(arm_key)

    def default_weights(self) -> list[float]:
        """The defined weights, else equal shares."""
        count = len(self.arms)
        return list(self.definition.weights or [1.0 / count] * count)


def validation_issues(error: ValidationError, prefix: str = "") -> list[FieldIssue]:
    """Pydantic errors as dotted field paths (``units.0.variants.1``) with their messages."""
    return [
        FieldIssue(".".join(str(part) for part in (prefix, *problem["loc"]) if part != ""),
                   problem["msg"], problem["type"], _plain(problem.get("ctx", {})))
        for problem in error.errors(include_url=False)
    ]


def _plain(context: Mapping[str, Any]) -> dict[str, Any]:
    """Pydantic's error context without the exception objects of custom validators."""
    return {name: value for name, value in context.items()
            if isinstance(value, str | int | float | bool | list | tuple)}


def parse_definition(
    data: Mapping[str, Any] | ExperimentDefinition, catalogue: Catalogue | None = None
) -> Design:
    """Validate a raw definition completely; InvalidInput lists every problem found."""
    if isinstance(data, ExperimentDefinition):
        definition = data
    else:
        try:
            definition = ExperimentDefinition.model_validate(data)
        except ValidationError as error:
            raise InvalidInput(validation_issues(error)) from None
    return compile_design(definition, catalogue or variants.load_catalogue())


def compile_design(definition: ExperimentDefinition, catalogue: Catalogue) -> Design:
    """Apply the cross-field and catalogue rules, then render every arm once."""
    issues = _unit_issues(definition, catalogue) + _targeting_issues(definition)
    if issues:
        raise InvalidInput(issues)
    arms = _arms(definition)
    params = {choice.unit: choice.params for choice in definition.units}
    try:
        texts = tuple(variants.render(definition.template, arm, catalogue, params) for arm in arms)
    except ValueError as error:
        raise InvalidInput([FieldIssue("template", str(error), "bad_template",
                                       {"detail": str(error)})]) from None
    keys = tuple(variants.arm_key(arm) for arm in arms)
    design = Design(definition, tuple(arms), keys, texts, _control(definition, keys))
    issues = _weight_issues(definition, len(arms))
    if issues:
        raise InvalidInput(issues)
    return design


def _unit_issues(definition: ExperimentDefinition, catalogue: Catalogue) -> list[FieldIssue]:
    """Units exist once each, their variants exist, and params fit every variant in play."""
    issues: list[FieldIssue] = []
    seen: set[str] = set()
    for i, choice in enumerate(definition.units):
        if choice.unit in seen:
            issues.append(FieldIssue(f"units.{i}.unit", f"unit {choice.unit!r} is listed twice",
                                     "unit_twice", {"unit": choice.unit}))
            continue
        seen.add(choice.unit)
        if choice.unit not in catalogue:
            known = ", ".join(catalogue)
            issues.append(FieldIssue(f"units.{i}.unit",
                                     f"unknown unit {choice.unit!r} (catalogue has: {known})"))
            continue
        unit = catalogue[choice.unit]
        issues += [
            FieldIssue(f"units.{i}.variants.{j}",
                       f"unknown variant {variant!r} of unit {choice.unit!r}"
                       f" (variants: {', '.join(unit.variants)})")
            for j, variant in enumerate(choice.variants) if variant not in unit.variants
        ]
        if len(set(choice.variants)) != len(choice.variants):
            issues.append(FieldIssue(f"units.{i}.variants", "a variant is listed twice",
                                     "variant_twice"))
        issues += _param_issues(i, choice.unit, choice.variants, choice.params, catalogue)
    return issues


def _targeting_issues(definition: ExperimentDefinition) -> list[FieldIssue]:
    """A condition the targeting language rejects would silently match nobody: refuse it."""
    try:
        validate_condition(definition.targeting)
    except InvalidCondition as error:
        return [FieldIssue("targeting", str(error), "invalid_condition", {"detail": str(error)})]
    return []


def _param_issues(
    i: int, unit: str, in_play: list[str], params: Mapping[str, object], catalogue: Catalogue
) -> list[FieldIssue]:
    """Render each variant alone: a missing or unknown parameter names ``units.i.params``."""
    for variant in in_play:
        if variant in catalogue[unit].variants:
            try:
                variants.check_choices({unit: variant}, catalogue, {unit: params})
            except ValueError as error:
                return [FieldIssue(f"units.{i}.params", str(error), "bad_params",
                                   {"detail": str(error)})]
    return []


def _arms(definition: ExperimentDefinition) -> list[dict[str, str]]:
    """Factorial product of the units' variants, or the validated explicit arms."""
    units = {choice.unit: choice.variants for choice in definition.units}
    if definition.design == "factorial":
        if definition.arms is not None:
            raise InvalidInput([FieldIssue("arms", "a factorial design takes no arms list;"
                                                   " set design: arms to list arms")])
        return variants.arms(units)
    if not definition.arms:
        raise InvalidInput([FieldIssue("arms", "design 'arms' needs a non-empty arms list")])
    try:
        return variants.arms(units, explicit=definition.arms)
    except ValueError as error:
        raise InvalidInput([FieldIssue("arms", str(error))]) from None


def _control(definition: ExperimentDefinition, keys: tuple[str, ...]) -> int:
    if definition.control is None:
        return 0
    if definition.control not in keys:
        message = f"control {definition.control!r} is not an arm; arms: {', '.join(keys)}"
        raise InvalidInput([FieldIssue("control", message, "not_an_arm",
                                       {"control": definition.control, "arms": list(keys)})])
    return keys.index(definition.control)


def _weight_issues(definition: ExperimentDefinition, arm_count: int) -> list[FieldIssue]:
    """Weights match the arms and sum to 1; a Thompson floor leaves room for every arm."""
    issues: list[FieldIssue] = []
    weights = definition.weights
    if weights is not None and len(weights) != arm_count:
        issues.append(FieldIssue("weights", f"{len(weights)} weights for {arm_count} arms",
                                 "weights_count", {"weights": len(weights), "arms": arm_count}))
    elif weights is not None and not math.isclose(sum(weights), 1.0, abs_tol=1e-6):
        issues.append(FieldIssue("weights", f"weights sum to {sum(weights):g}, not 1",
                                 "weights_sum", {"total": f"{sum(weights):g}"}))
    floor = getattr(definition.allocation, "floor", 0.0)
    if floor * arm_count > 1.0:
        issues.append(FieldIssue("allocation.floor",
                                 f"floor {floor:g} × {arm_count} arms exceeds 1", "floor_too_high",
                                 {"floor": f"{floor:g}", "arms": arm_count}))
    names = [metric.name for metric in definition.metrics.all()]
    if len(set(names)) != len(names):
        issues.append(FieldIssue("metrics", "a metric name is used twice", "metric_twice"))
    return issues


def get_experiment(session: Session, key: str, *, for_update: bool = False) -> Experiment:
    """The experiment called ``key`` (row-locked until commit if ``for_update``); NotFound
    otherwise."""
    query = select(Experiment).where(Experiment.key == key)
    experiment = session.scalar(query.with_for_update() if for_update else query)
    if experiment is None:
        raise NotFound(f"unknown experiment {key!r}", field="experiment")
    return experiment


def list_experiments(session: Session, *, archived: bool = False) -> list[Experiment]:
    """Every experiment by key; archived ones only when asked (experiments.removal)."""
    query = select(Experiment).order_by(Experiment.key)
    if not archived:
        query = query.where(Experiment.archived_at.is_(None))
    return list(session.scalars(query))


def design_of(experiment: Experiment, catalogue: Catalogue | None = None) -> Design:
    """Recompile a stored definition (it was valid when saved)."""
    return parse_definition(experiment.definition, catalogue)


def create_experiment(
    session: Session, data: Mapping[str, Any] | ExperimentDefinition,
    catalogue: Catalogue | None = None, *, actor: str = audit.SYSTEM,
) -> Experiment:
    """Validate and insert a new draft experiment with weights version 1 (audited)."""
    design = parse_definition(data, catalogue)
    definition = design.definition
    if session.scalar(select(Experiment.id).where(Experiment.key == definition.key)):
        raise Conflict(f"experiment {definition.key!r} already exists", field="key")
    check_layer(session, definition, exclude_id=None)
    experiment = Experiment(key=definition.key, name=definition.name, status="draft",
                            definition=definition.model_dump(mode="json"),
                            weights=design.default_weights(), weights_version=1, version=1)
    _set_layer(experiment, definition)
    session.add(experiment)
    session.flush()
    session.add(WeightsPeriod(experiment_id=experiment.id, version=1, weights=experiment.weights))
    audit.record(session, experiment, actor, "create", {"name": experiment.name}, on_version=0)
    session.flush()
    return experiment


def update_experiment(
    session: Session, key: str, data: Mapping[str, Any] | ExperimentDefinition,
    catalogue: Catalogue | None = None, *, actor: str = audit.SYSTEM,
    expected_version: int | None = None,
) -> Experiment:
    """Replace the definition of ``key``.

    Drafts change freely. Running or paused experiments keep their arms and control, because
    stored assignments and analysis refer to them; everything else (texts, targeting, weights,
    metrics) may change. Stopped or promoted experiments are frozen. With
    ``expected_version`` the write is conditional: StaleVersion if the stored version differs
    (checked under a row lock, so two editors cannot both pass). The weights (learned by
    Thompson sampling, or set by hand) are reset only when the edit changes the defined ones.
    """
    experiment = get_experiment(session, key, for_update=expected_version is not None)
    if expected_version is not None and experiment.version != expected_version:
        raise StaleVersion(f"experiment {key!r} is at version {experiment.version}, not"
                           f" {expected_version}: it was changed since you read it")
    design = parse_definition(data, catalogue)
    definition = design.definition
    if definition.key != key:
        raise InvalidInput([FieldIssue("key", f"key {definition.key!r} does not match {key!r}")])
    if experiment.status in FROZEN_STATUSES:
        raise Conflict(f"experiment {key!r} is {experiment.status}; its definition is frozen")
    before = design_of(experiment, catalogue) if experiment.status != "draft" else None
    if before is not None:
        _check_same_arms(before, design)
    check_layer(session, definition, exclude_id=experiment.id)
    stored = definition.model_dump(mode="json")
    audit.record(session, experiment, actor, "edit",
                 {"changed": audit.changed_fields(experiment.definition, stored)})
    experiment.name = definition.name
    experiment.definition = stored
    _set_layer(experiment, definition)
    # A draft has learned nothing; a live experiment keeps its weights unless the edit changes
    # the defined ones.
    defined_changed = before is None or design.default_weights() != before.default_weights()
    if defined_changed and design.default_weights() != experiment.weights:
        set_weights(session, experiment, design.default_weights())
    touch(experiment)
    session.flush()
    return experiment


def _check_same_arms(old: Design, new: Design) -> None:
    if old.arm_keys != new.arm_keys or old.control != new.control:
        raise Conflict("the experiment is live: its arms and control cannot change"
                       f" (arms: {', '.join(old.arm_keys)}); stop it and create a new one",
                       field="units")


def upsert_experiment(
    session: Session, data: Mapping[str, Any] | ExperimentDefinition,
    catalogue: Catalogue | None = None, *, actor: str = audit.SYSTEM,
) -> tuple[Experiment, bool]:
    """Create ``data``'s experiment or update the existing one; True when created."""
    design = parse_definition(data, catalogue)
    key = design.definition.key
    if session.scalar(select(Experiment.id).where(Experiment.key == key)) is None:
        return create_experiment(session, design.definition, catalogue, actor=actor), True
    return update_experiment(session, key, design.definition, catalogue, actor=actor), False


def set_weights(session: Session, experiment: Experiment, weights: list[float]) -> int:
    """Open a new allocation period: new units are drawn with ``weights`` from now on."""
    experiment.weights_version += 1
    experiment.weights = list(weights)
    session.add(WeightsPeriod(experiment_id=experiment.id, version=experiment.weights_version,
                              weights=list(weights)))
    touch(experiment)
    return experiment.weights_version


def touch(experiment: Experiment) -> None:
    """Mark a change, so per-process caches of this experiment are refreshed."""
    experiment.version += 1
    experiment.updated_at = utcnow()


def check_layer(session: Session, definition: ExperimentDefinition, exclude_id: int | None) -> None:
    """LayerOverlap when another experiment holding its layer (draft, running, paused or
    promoted: LAYER_HOLDING_STATUSES, and not archived) claims part of the same range."""
    if definition.layer is None:
        return
    start, end = definition.layer.range
    query = select(Experiment.key, Experiment.layer_start, Experiment.layer_end).where(
        Experiment.layer_name == definition.layer.name,
        Experiment.status.in_(LAYER_HOLDING_STATUSES),
        Experiment.archived_at.is_(None),
        Experiment.layer_start < end,
        Experiment.layer_end > start,
    )
    if exclude_id is not None:
        query = query.where(Experiment.id != exclude_id)
    clash = session.execute(query.limit(1)).first()
    if clash is not None:
        raise LayerOverlap(
            f"layer {definition.layer.name!r} range [{start:g}, {end:g}) overlaps experiment"
            f" {clash.key!r} [{clash.layer_start:g}, {clash.layer_end:g})",
            field="layer.range",
        )


def _set_layer(experiment: Experiment, definition: ExperimentDefinition) -> None:
    layer = definition.layer
    experiment.layer_name = layer.name if layer else None
    experiment.layer_start, experiment.layer_end = layer.range if layer else (None, None)
