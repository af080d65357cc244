"""/experiments/<key>/results: the analysis of one experiment (admin).

The view parses the query string, calls :func:`experiments.results.experiment_results` and
returns its JSON document; every figure is computed by the stats modules from sufficient
statistics aggregated in SQL.
"""

from __future__ import annotations

from typing import Annotated, Any

from flask import Blueprint, request
from pydantic import BaseModel, ConfigDict, Field, RootModel

from experiments import results
from experiments.schema import Identifier
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


class ResultsOut(RootModel[dict[str, Any]]):
    """Per metric and arm: units, mean, lift with fixed-horizon and sequential intervals,
    p-values (raw, Holm, BH, sequential), chance to beat control, probability best, expected
    loss; plus srm, guardrails, power, factorial, segments and daily. Undefined figures are
    null. ``decision_basis`` names the headline: sequential while running, fixed horizon once
    stopped. ``estimator`` says whether arm means are pooled (one allocation period) or
    post-stratified by allocation period (Thompson sampling moved the weights)."""


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
    return ResultsOut(results.results_document(found))
