"""/experiments: define, read, update, move through the lifecycle, allocate, archive and
delete (admin)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from flask import Blueprint, request

from experiments import definitions, lifecycle, removal
from experiments.allocation import allocate_experiment, promote_by_hand
from experiments.assignment import compile_live
from experiments.models import Experiment
from experiments.schema import ExperimentDefinition
from web.endpoint import api_actor, endpoint, if_match_version, parse, session
from web.schemas import (
    AllocationOut,
    ArmOut,
    ExperimentOut,
    ExperimentsOut,
    ExperimentsQuery,
    PromoteRequest,
    RemovedOut,
)

blueprint = Blueprint("experiments", __name__)


def experiment_out(experiment: Experiment) -> ExperimentOut:
    """Serialize with arms and rendered texts (from the cached compilation)."""
    live = compile_live(experiment)
    design = live.design
    arms = [ArmOut(key=key, variants=dict(arm), text=text)
            for key, arm, text in zip(design.arm_keys, design.arms, design.texts, strict=True)]
    return ExperimentOut(
        key=experiment.key, name=experiment.name, status=experiment.status,
        winner=experiment.winner_arm, control=design.arm_keys[design.control], arms=arms,
        weights=experiment.weights, weights_version=experiment.weights_version,
        version=experiment.version, created_at=experiment.created_at,
        updated_at=experiment.updated_at, started_at=experiment.started_at,
        stopped_at=experiment.stopped_at, promoted_at=experiment.promoted_at,
        archived_at=experiment.archived_at, definition=design.definition,
    )


@blueprint.get("/experiments")
@endpoint(summary="List experiments (archived ones only with archived=true)", scope="admin",
          response=ExperimentsOut, query=ExperimentsQuery)
def list_experiments() -> ExperimentsOut:
    query: ExperimentsQuery = parse(ExperimentsQuery, request.args.to_dict())
    found = definitions.list_experiments(session(), archived=query.archived)
    return ExperimentsOut(experiments=[experiment_out(e) for e in found])


@blueprint.post("/experiments")
@endpoint(summary="Create a draft experiment", scope="admin", body=ExperimentDefinition,
          response=ExperimentOut, status=201, etag=lambda out: out.version)
def create_experiment(payload: ExperimentDefinition) -> ExperimentOut:
    return experiment_out(definitions.create_experiment(session(), payload,
                                                       actor=api_actor()))


@blueprint.get("/experiments/<key>")
@endpoint(summary="Read one experiment; its ETag is the version PUT's If-Match expects",
          scope="admin", response=ExperimentOut, etag=lambda out: out.version)
def get_experiment(key: str) -> ExperimentOut:
    return experiment_out(definitions.get_experiment(session(), key))


@blueprint.put("/experiments/<key>")
@endpoint(summary="Replace a definition (live experiments keep their arms and learned"
                  " weights). With If-Match (the ETag of GET), a stale version is a 412 and"
                  " nothing is written", scope="admin",
          body=ExperimentDefinition, response=ExperimentOut, etag=lambda out: out.version,
          conditional=True)
def update_experiment(key: str, payload: ExperimentDefinition) -> ExperimentOut:
    return experiment_out(definitions.update_experiment(
        session(), key, payload, actor=api_actor(), expected_version=if_match_version()))


@blueprint.delete("/experiments/<key>")
@endpoint(summary="Delete a draft or stopped experiment and all its rows (assignments,"
                  " events, feedback, weights periods, allocation decisions, audit entries);"
                  " one tombstone audit entry remains. 409 while it serves arms (running,"
                  " paused, promoted)", scope="admin", response=RemovedOut)
def delete_experiment(key: str) -> RemovedOut:
    return RemovedOut(removed=removal.delete_experiment(session(), key, actor=api_actor()))


@blueprint.post("/experiments/<key>/promote")
@endpoint(summary="Promote a winner arm: new units get it, assigned units keep theirs",
          scope="admin", body=PromoteRequest, response=ExperimentOut)
def promote_experiment(key: str, payload: PromoteRequest) -> ExperimentOut:
    return experiment_out(promote_by_hand(session(), key, payload.arm, actor=api_actor()))


@blueprint.post("/experiments/<key>/allocate")
@endpoint(summary="Run Thompson allocation now: reweight, promote by the rule, or hold"
                  " (409 unless a running Thompson-sampling experiment)",
          scope="admin", response=AllocationOut)
def allocate(key: str) -> AllocationOut:
    outcome = allocate_experiment(session(), key, actor=api_actor())
    return AllocationOut(**asdict(outcome))


def _transition_view(action: str, move: Callable[..., Experiment]) -> Callable[..., object]:
    """One view per argument-less move (start, pause, stop, archive, unarchive)."""

    def view(key: str) -> ExperimentOut:
        return experiment_out(move(session(), key, actor=api_actor()))

    view.__name__ = f"{action}_experiment"
    view.__doc__ = move.__doc__
    summary = (move.__doc__ or action).splitlines()[0]
    return endpoint(summary=summary, scope="admin", response=ExperimentOut)(view)


for _action, _move in (("start", lifecycle.start_experiment),
                       ("pause", lifecycle.pause_experiment),
                       ("stop", lifecycle.stop_experiment),
                       ("archive", removal.archive_experiment),
                       ("unarchive", removal.unarchive_experiment)):
    blueprint.add_url_rule(f"/experiments/<key>/{_action}", methods=["POST"],
                           view_func=_transition_view(_action, _move))
