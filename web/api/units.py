"""/units/<unit_id>: erase one shopper's data in every experiment (admin), e.g. on a request
under PIPL Art. 47. See experiments.removal for what is removed and what the audit keeps."""
from __future__ import annotations

from flask import Blueprint

from experiments.removal import erase_unit as erase
from web.endpoint import api_actor, endpoint, parse, session
from web.schemas import RemovedOut, UnitPath

blueprint = Blueprint("units", __name__)


@blueprint.delete("/units/<path:unit_id>")
@endpoint(summary="Erase one unit's assignments, events, feedback and segment in every"
                  " experiment; audited with the counts, never the unit id. Idempotent: a"
                  " second call answers 200 with 0 removed", scope="admin", response=RemovedOut)
def erase_unit(unit_id: str) -> RemovedOut:
    checked: UnitPath = parse(UnitPath, {"unit_id": unit_id})
    return RemovedOut(removed=erase(session(), checked.unit_id, actor=api_actor()))
