"""Manual review: the queue of returns the policy sent to a person, and that person's decision.

The list shows why each return is there (the customer-readable reasons and the ids of the rules that fired), so a
reviewer can decide without opening the policy. Deciding twice is refused with 409, never applied twice.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Security

from rma.api.dependencies import RuntimeDep, api_key_doc
from rma.api.errors import COMMON_ERRORS, ApiError
from rma.api.schemas import ErrorBody, ReviewDecision, ReviewOutcome, ReviewSummary
from rma.api.views import find, review_summary
from rma.domain.errors import ConcurrentUpdateError, InvalidTransitionError
from rma.services import queries
from rma.services.errors import PermanentStageError, ReturnNotFoundError
from rma.services.issuance import decide_review

router = APIRouter(
    prefix="/v1/reviews", tags=["reviews"], dependencies=[Security(api_key_doc)], responses=COMMON_ERRORS
)


@router.get("")
def pending_reviews(runtime: RuntimeDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[ReviewSummary]:
    """Returns waiting for a person, longest waiting first."""
    with runtime.ctx.uow() as uow:
        waiting = queries.pending_reviews(uow, limit=limit)
        return [review_summary(ret) for ret in waiting]


@router.post(
    "/{ref}",
    responses={
        404: {"model": ErrorBody, "description": "no such return"},
        409: {"model": ErrorBody, "description": "the return is not (or no longer) pending review"},
    },
)
def decide(ref: str, decision: ReviewDecision, runtime: RuntimeDep) -> ReviewOutcome:
    """Approve or reject a return in manual review; the note is recorded in its timeline."""
    ctx = runtime.ctx
    with ctx.uow() as uow:
        ret = find(uow, ref)
    try:
        new_status = decide_review(
            ctx, ret.id, approve=decision.approve, note=decision.note, reviewer=decision.reviewer
        )
    except ReturnNotFoundError as exc:
        raise ApiError(404, str(exc)) from None
    except (PermanentStageError, InvalidTransitionError, ConcurrentUpdateError) as exc:
        raise ApiError(409, str(exc)) from None
    return ReviewOutcome(return_id=ret.id, rma_number=ret.rma_number, status=new_status)
