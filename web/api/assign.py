"""POST /assign: which script a unit sees."""
from __future__ import annotations

from flask import Blueprint, current_app
from pydantic import BaseModel

from experiments import assignment
from experiments.assignment import AssignmentResult, Clock, service_zone
from web.endpoint import endpoint, session
from web.schemas import AssignAnswer, AssignmentOut, AssignmentsOut, AssignRequest

blueprint = Blueprint("assign", __name__)


def _out(result: AssignmentResult) -> AssignmentOut:
    return AssignmentOut(experiment=result.experiment, unit_id=result.unit_id,
                         in_experiment=result.in_experiment, arm=result.arm,
                         variants=dict(result.variants), text=result.text)


@blueprint.post("/assign")
@endpoint(summary="Assign a unit to an arm (sticky) and get the script to show",
          scope="storefront", body=AssignRequest, response=AssignAnswer)
def assign(payload: AssignRequest) -> BaseModel:
    clock = Clock(zone=service_zone(current_app.config["TIMEZONE"]))  # hour/weekday for targeting
    if payload.experiment is not None:
        return _out(assignment.assign(session(), payload.experiment, payload.unit_id,
                                      payload.attributes, clock=clock))
    results = assignment.assign_all(session(), payload.unit_id, payload.attributes,
                                    payload.experiments, clock=clock)
    return AssignmentsOut(unit_id=payload.unit_id, assignments=[_out(r) for r in results])
