"""POST /events: conversions, payments, revenue, complaints (idempotent by event_id)."""
from __future__ import annotations

from flask import Blueprint

from experiments.tracking import record_events
from web.endpoint import endpoint, session
from web.schemas import AcceptedOut, EventsRequest

blueprint = Blueprint("events", __name__)


@blueprint.post("/events")
@endpoint(summary="Record up to 1,000 events; retries of stored event ids count as duplicates."
                  " One invalid event (a value beyond its metric's max_abs_value, NUL or a"
                  " lone surrogate in any text) refuses the whole batch: 422 naming it,"
                  " nothing stored",
          scope="storefront", body=EventsRequest, response=AcceptedOut)
def post_events(payload: EventsRequest) -> AcceptedOut:
    result = record_events(session(), payload.events)
    return AcceptedOut(accepted=result.accepted, duplicates=result.duplicates)
