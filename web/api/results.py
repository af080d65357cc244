"""/experiments/<key>/results: the analysis of one experiment (admin).

The view parses the query string, calls :func:`experiments.results.experiment_results` and
returns its JSON document; every figure is computed by the stats modules from sufficient
statistics aggregated in SQL.
"""

from __future__ import annotations

from typing import Annotated

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field

from experiments import results
from experiments.schema import MAX_ABS_VALUE_LIMIT, Identifier
from web.endpoint import endpoint, parse, session

blueprint = Blueprint("results", __name__)


class ResultsQuery(BaseModel):
    """Query parameters: a breakdown attribute, the significance level, how many segments."""

    model_config = ConfigDict(extra="forbid")

    segment: Identifier | None = Field(
        default=None, description="Exposure attribute to break results down by (e.g. channel)"
    )
    alpha: Annotated[float, Field(ge=results.ALPHA_RANGE[0], le=results.ALPHA_RANGE[1])] = Field(
        default=0.05, description="Significance level; intervals have coverage 1 - alpha"
    )
    top: Annotated[int, Field(ge=1, le=50)] = Field(
        default=results.DEFAULT_TOP_SEGMENTS,
        description="Segments kept by traffic; the rest are pooled as '(other)'",
    )


Interval = tuple[float | None, float | None]


class _Open(BaseModel):
    """A section of the results document: the fields listed are documented, others pass on."""

    model_config = ConfigDict(extra="allow")


class HeadlineOut(BaseModel):
    """What a results row shows, on one scale: the relative lift's interval and its p-value."""

    basis: str = Field(description="decision_basis the row is for: sequential or fixed_horizon")
    test: str = Field(description="The test behind p_value and ci, named in full")
    p_value: float | None = Field(description="Two-sided p-value of the relative lift (log "
                                              "ratio); < alpha exactly when ci excludes 0")
    ci: Interval = Field(description="Interval of the relative lift, never below -1 (-100%)")
    significant: bool = Field(description="p_value < alpha, i.e. ci excludes 0")
    p_value_adjusted: float | None = Field(
        description="p_value adjusted for several arms (what the verdict uses)")
    adjustment: str = Field(description="How p_value_adjusted was adjusted")


class ArmOut(_Open):
    """One arm on one metric (figures null for control)."""

    headline: HeadlineOut | None = Field(
        default=None, description="The row as the page shows it; null for control")
    p_value_relative: float | None = Field(
        default=None, description="Fixed-horizon p of the relative lift, pairs with "
                                  "lift.relative_ci")
    p_value_sequential_relative: float | None = Field(
        default=None, description="Always-valid p of the relative lift, pairs with "
                                  "lift.relative_ci_sequential")
    p_value_absolute: float | None = Field(
        default=None, description="Fixed-horizon p of the absolute lift, pairs with "
                                  "lift.absolute_ci (null beside Newcombe's small-count "
                                  "interval); p_value is the named test of the difference")
    p_value_sequential: float | None = Field(
        default=None, description="Always-valid p of the absolute lift, pairs with "
                                  "lift.absolute_ci_sequential")


class MetricOut(_Open):
    """One metric: method, omnibus test and one row per arm."""

    arms: list[ArmOut]
    events_out_of_bound: int = Field(
        default=0, description="Events left out of this metric: their |value| exceeds the"
                               f" largest bound a metric may set ({MAX_ABS_VALUE_LIMIT:g}), so"
                               " they were stored before the bound existed and would overflow"
                               " the sums")


class GuardrailCheckOut(_Open):
    """One treatment arm on one guardrail metric, judged by its own results row."""

    harmed: bool = Field(description="The row's interval lies wholly on the harmful side of 0")
    p_value: float | None = Field(description="The row's headline p-value")
    test: str = Field(default="", description="The row's test (the alert names it)")
    ci: Interval = Field(default=(None, None), description="The row's headline interval")


class GuardrailsOut(_Open):
    """Every guardrail check and whether any arm harms one."""

    checks: list[GuardrailCheckOut]


class PowerOut(_Open):
    """The plan for the planned lift on the primary metric, for the test that decides."""

    test: str = Field(default="", description="The test planned for: sequential while running")
    n_per_arm: int | None = Field(default=None, description="Units per arm that test needs")
    n_per_arm_fixed: int | None = Field(
        default=None, description="The fixed-horizon plan (the sequential one inflates it)")
    days_needed: int | None = Field(
        default=None, description="Days still needed for n_per_arm (0: reached; the verdict "
                                  "quotes the same number)")


class StepOut(BaseModel):
    """One recommended action."""

    action: str = Field(description="promote, stop, extend, keep_control or check_srm")
    arm: str | None = Field(description="The arm it acts on, if any")
    days: int | None = Field(description="Days to keep running (extend)")


class DriverOut(BaseModel):
    """A factorial term that moves the primary metric."""

    term: str = Field(description="unit[variant] or an interaction unit[variant]:other[variant]")
    units: list[str] = Field(description="The units in the term")
    effect: float = Field(description="Change of the primary mean (a proportion for a binary "
                                      "metric: 0.012 = +1.2 pp), the other units at reference")
    ci: Interval = Field(description="Delta-method interval of effect (coverage 1 - alpha)")
    p_value: float = Field(description="Wald test of effect = 0; < alpha when ci excludes 0")
    p_value_adjusted: float | None = Field(
        description="Holm over the model's terms: a driver has it below alpha")


class EquivalentOut(BaseModel):
    """An arm as good as the leader within the equivalence margin."""

    arm: str
    differs_in: list[str] = Field(description="Units whose variant differs from the leader's")
    difference: float = Field(description="Modelled mean of arm minus the leader's")
    ci: Interval = Field(description="Interval of difference, within ± margin × leader's mean")


class DecisionOut(BaseModel):
    """The verdict, computed once; the page and the weekly report render this object."""

    kind: str = Field(description="significant_winner, significant_loser, leading, "
                                  "no_difference, needs_more_data or no_data")
    leader: str | None = Field(description="The arm most likely best among those not stopped")
    probability_best: float | None
    lift: float | None = Field(description="Leader's relative lift on the primary metric")
    lift_ci: Interval | None = Field(description="The leader row's headline interval")
    p_value: float | None = Field(description="The leader row's headline p, adjusted for arms")
    test: str | None = Field(description="The test the lift rests on (the row's headline)")
    ship: list[str] = Field(description="Arms to ship, any one of them (significant winner "
                                        "and the arms equally good); empty otherwise")
    drivers: list[DriverOut]
    negligible_units: list[str] = Field(
        description="Units whose averaged effect lies within ± equivalence_margin")
    unclear_units: list[str] = Field(description="Units neither driving nor negligible yet")
    equivalent_arms: list[EquivalentOut]
    equivalence_margin: float | None = Field(
        description="The promotion rule's relative margin (null without a factorial fit)")
    scale: str = Field(description="pp: effects are proportions shown in percentage points")
    days_needed: int | None
    steps: list[StepOut] = Field(description="The recommendation, in order")
    srm_mismatch: bool
    planned_effect: float | None
    ended: bool
    alpha: float


class ResultsOut(_Open):
    """Per metric and arm: units, mean, lift with fixed-horizon and sequential intervals,
    p-values (raw, Holm, BH, sequential, relative), the row's ``headline``, chance to beat
    control, probability best, expected loss; plus srm, guardrails, power, factorial, segments
    and daily. Undefined figures are null. ``decision_basis`` names the headline: sequential
    while running, fixed horizon once stopped. ``estimator`` says whether arm means are pooled
    (one allocation period) or post-stratified by allocation period (Thompson sampling moved
    the weights)."""

    metrics: list[MetricOut]
    guardrails: GuardrailsOut
    power: PowerOut
    decision: DecisionOut


@blueprint.get("/experiments/<key>/results")
@endpoint(
    summary="Results of an experiment (fixed horizon, sequential, Bayesian, health, segments)",
    scope="admin",
    response=ResultsOut,
    query=ResultsQuery,
)
def experiment_results(key: str) -> ResultsOut:
    query: ResultsQuery = parse(ResultsQuery, request.args.to_dict())
    found = results.experiment_results(
        session(), key, segment=query.segment, alpha=query.alpha, top=query.top
    )
    return ResultsOut.model_validate(results.results_document(found))
