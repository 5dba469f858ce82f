"""Intake and status: submit one or many return requests, look a return up, fetch its label, list an order's returns.

Submissions answer 202: the request is stored and its issuance queued (published after the commit), but not yet
decided; the status URL tells how it goes on. A repeat of a (channel, upstream_request_id) answers with the return
the first one made, so an upstream that is unsure whether its call arrived simply sends it again; the same key with a
different request is refused with 409 (the upstream reused an id, or changed a request it had already sent).

Dates are checked against our clock before anything is stored: no order placed in the future (beyond a day of clock
skew) or more than three years ago, no delivery in the future (`rma.domain.requests.date_problems`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Final

from fastapi import APIRouter, Header, Query, Response, Security, status

from rma.api.dependencies import IntakeDep, RuntimeDep, api_key_doc
from rma.api.errors import COMMON_ERRORS, ApiError
from rma.api.schemas import (
    BatchRequest,
    BatchResponse,
    CancelOutcome,
    CancelRequest,
    ErrorBody,
    ReturnDetail,
    ReturnSummary,
    Submission,
)
from rma.api.views import detail, find, header_summary, status_url
from rma.bootstrap import Runtime
from rma.domain.errors import ConcurrentUpdateError, IdempotencyKeyReusedError, InvalidTransitionError
from rma.domain.lifecycle import Actor
from rma.domain.requests import ReturnRequest, date_problems
from rma.domain.validation import FieldError
from rma.services import cancellation, documents, queries
from rma.services.errors import PermanentStageError
from rma.services.intake import Submitted, submit_batch
from rma.services.label_formats import format_for, media_type

KEY_REUSED: Final = "upstream_request_id already used for a different request"
# The same pattern as the stored columns (`ReturnRequest.order_id`, `.channel`): anything else matches nothing anyway.
ORDER_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:/#-]*$"
CHANNEL_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]*$"
SUBMIT_ERRORS: Final[dict[int | str, dict[str, object]]] = {
    409: {
        "model": ErrorBody,
        "description": "an upstream_request_id already used for a different request: nothing was stored",
    }
}

router = APIRouter(
    prefix="/v1/returns", tags=["returns"], dependencies=[Security(api_key_doc)], responses=COMMON_ERRORS
)


def _submission(result: Submitted) -> Submission:
    return Submission(return_id=result.return_id, status_url=status_url(result.return_id), created=result.created)


def _check_dates(runtime: Runtime, requests: list[ReturnRequest], prefix: str = "") -> None:
    """422 for dates no real order has, relative to the application's clock (fields named as in the body)."""
    today = runtime.ctx.clock.now().date()
    fields = [
        FieldError(field=f"{prefix.format(index)}{problem.field}", reason=problem.reason)
        for index, request in enumerate(requests)
        for problem in date_problems(request, today=today)
    ]
    if fields:
        raise ApiError(422, "invalid request", fields=fields)


def _key_reused(exc: IdempotencyKeyReusedError, prefix: str = "") -> ApiError:
    fields = [
        FieldError(field=f"{prefix.format(reuse.index)}upstream_request_id", reason=reuse.reason)
        for reuse in exc.reuses
    ]
    return ApiError(409, KEY_REUSED, fields=fields)


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=SUBMIT_ERRORS)
async def submit(request: ReturnRequest, intake: IntakeDep, runtime: RuntimeDep, response: Response) -> Submission:
    """Store a return request once per (channel, upstream_request_id); a repeat answers with the same return.

    The same upstream_request_id with a different request is refused with 409, naming the fields that differ."""
    _check_dates(runtime, [request])
    # Stored together with the requests of concurrent callers in one transaction, answered after its commit.
    try:
        result = await asyncio.wrap_future(intake.submit(request))
    except IdempotencyKeyReusedError as exc:
        raise _key_reused(exc) from None
    answer = _submission(result)
    response.headers["Location"] = answer.status_url
    return answer


@router.post("/batch", status_code=status.HTTP_202_ACCEPTED, responses=SUBMIT_ERRORS)
def submit_many(batch: BatchRequest, runtime: RuntimeDep) -> BatchResponse:
    """Store up to 1000 requests in one transaction; the answers come in the order of the requests.

    Validated whole, like the body itself: if any request reuses an upstream_request_id for a different request, the
    batch is refused with 409 naming each such `returns[i].upstream_request_id`, and none of it is stored."""
    _check_dates(runtime, batch.returns, "returns[{}].")
    ctx = runtime.ctx
    try:
        results = submit_batch(ctx.uow, batch.returns, now=ctx.clock.now(), due_at=ctx.machine_deadline())
    except IdempotencyKeyReusedError as exc:
        raise _key_reused(exc, "returns[{}].") from None
    return BatchResponse(returns=[_submission(result) for result in results])


@router.get("")
def list_by_order(
    runtime: RuntimeDep,
    order_id: Annotated[str, Query(min_length=1, max_length=128, pattern=ORDER_ID_PATTERN)],
    channel: Annotated[str | None, Query(min_length=1, max_length=32, pattern=CHANNEL_PATTERN)] = None,
) -> list[ReturnSummary]:
    """The returns of one order, oldest first; of every channel unless `channel` is given."""
    return [header_summary(row) for row in queries.returns_of_order(runtime.queries, order_id, channel=channel)]


@router.get("/{ref}", responses={404: {"model": ErrorBody, "description": "no such return"}})
def get_return(ref: str, runtime: RuntimeDep) -> ReturnDetail:
    """Status, decision, lines, timeline, label link and refunds of a return, by RMA number or return id."""
    with runtime.ctx.uow() as uow:
        ret = find(uow, ref)
        parcel = uow.shipments.parcels([ret.id]).get(ret.id)
        history = uow.shipments.history(ret.id) if parcel is not None else ()
        return detail(ret, uow.labels.get(ret.id), uow.refunds.of_return(ret.id), parcel, history)


@router.get(
    "/{ref}/label",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}, "application/zpl": {}, "image/png": {}},
            "description": "the printable 4x6 label: PDF, ZPL or PNG by ?format= or the Accept header",
        },
        404: {"model": ErrorBody, "description": "no such return, or no label yet"},
        406: {"model": ErrorBody, "description": "the label does not exist in the format asked for"},
    },
)
def get_label(
    ref: str,
    runtime: RuntimeDep,
    accept: Annotated[str | None, Header()] = None,
    label_format: Annotated[str | None, Query(alias="format", description="PDF, ZPL or PNG")] = None,
) -> Response:
    """The prepaid return label, as the carrier issued it or converted (a PDF label is also served as PNG)."""
    try:
        wanted = format_for(accept, label_format)
    except ValueError as exc:
        raise ApiError(406, str(exc), fields=[FieldError(field="format", reason=str(exc))]) from None
    with runtime.ctx.uow() as uow:
        ret = find(uow, ref)
        label = uow.labels.get(ret.id)
    name = ret.rma_number or str(ret.id)
    try:
        document = documents.label_document(runtime.ctx, label, wanted)
    except documents.DocumentUnavailableError as exc:
        code = 406 if label is not None and label.label_format is not None and wanted else 404
        raise ApiError(code, f"return {name}: {exc}") from None
    return Response(
        content=document.content,
        media_type=media_type(document.label_format),
        headers={
            "Content-Disposition": f'inline; filename="{name}.{document.label_format.lower()}"',
            "Vary": "Accept",
        },
    )


@router.get(
    "/{ref}/qr-code",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the QR code a drop-off point scans instead of a label"},
        404: {"model": ErrorBody, "description": "no such return, or its carrier gave no QR code"},
    },
)
def get_qr_code(ref: str, runtime: RuntimeDep) -> Response:
    """The carrier's QR code for label-less drop-off, where it gives one (USPS through EasyPost, for instance)."""
    with runtime.ctx.uow() as uow:
        ret = find(uow, ref)
        label = uow.labels.get(ret.id)
    try:
        content = documents.qr_code(runtime.ctx, label)
    except documents.DocumentUnavailableError as exc:
        raise ApiError(404, f"return {ret.rma_number or ret.id}: {exc}") from None
    return Response(content=content, media_type="image/png")


@router.get(
    "/{ref}/packing-slip",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "the packing slip to put inside the box"},
        404: {"model": ErrorBody, "description": "no such return, or no label yet"},
    },
)
def get_packing_slip(ref: str, runtime: RuntimeDep) -> Response:
    """The packing slip: the RMA number as a barcode and the lines being returned, for the warehouse at receipt."""
    with runtime.ctx.uow() as uow:
        ret = find(uow, ref)
        label = uow.labels.get(ret.id)
    name = ret.rma_number or str(ret.id)
    try:
        content = documents.packing_slip(runtime.ctx, ret, label)
    except documents.DocumentUnavailableError as exc:
        raise ApiError(404, f"return {name}: {exc}") from None
    return Response(
        content=content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}-packing-slip.pdf"'},
    )


@router.post(
    "/{ref}/cancel",
    responses={
        404: {"model": ErrorBody, "description": "no such return"},
        409: {"model": ErrorBody, "description": "the parcel has shipped, or the return is settled"},
    },
)
def cancel(ref: str, request: CancelRequest, runtime: RuntimeDep) -> CancelOutcome:
    """Cancel a return whose parcel has not shipped; an unused label is then voided at the carrier."""
    with runtime.ctx.uow() as uow:
        ret = find(uow, ref)
    actor = Actor.CUSTOMER if request.by == "customer" else Actor.UPSTREAM
    try:
        new_status = cancellation.cancel(runtime.ctx, ret.id, reason=request.reason, actor=actor)
    except (PermanentStageError, InvalidTransitionError, ConcurrentUpdateError) as exc:
        raise ApiError(409, str(exc)) from None
    return CancelOutcome(return_id=ret.id, rma_number=ret.rma_number, status=new_status)
