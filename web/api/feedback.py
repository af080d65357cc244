"""POST /feedback: the post-chat survey (idempotent by event_id)."""
from __future__ import annotations

from flask import Blueprint

from experiments.schema import FeedbackIn
from experiments.tracking import record_feedback
from web.endpoint import endpoint, session
from web.schemas import AcceptedOut

blueprint = Blueprint("feedback", __name__)


@blueprint.post("/feedback")
@endpoint(summary="Record a survey answer: rating, helpful, which unit moved or confused",
          scope="storefront", body=FeedbackIn, response=AcceptedOut)
def post_feedback(payload: FeedbackIn) -> AcceptedOut:
    result = record_feedback(session(), payload)
    return AcceptedOut(accepted=result.accepted, duplicates=result.duplicates)
