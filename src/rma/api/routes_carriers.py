"""Carrier webhooks: a carrier tells us of a parcel's scans as they happen.

Not behind our API keys (a carrier cannot send them): each body must carry the account's HMAC signature instead.
The answer is quick: the event is kept by its id (a duplicate delivery changes nothing) and its application queued
on the tracking queue, in one transaction; polling stays the safety net for events that never come."""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from rma.api.dependencies import RuntimeDep
from rma.api.errors import ApiError
from rma.api.schemas import ErrorBody, WebhookAnswer
from rma.ports.stores import CarrierEvent
from rma.services import tracking

MAX_BODY_BYTES: Final = 1_000_000

router = APIRouter(prefix="/v1/carriers", tags=["carriers"])


@router.post(
    "/{carrier}/webhook",
    responses={
        401: {"model": ErrorBody, "description": "the signature is missing or wrong"},
        404: {"model": ErrorBody, "description": "no webhooks are configured for this carrier"},
        413: {"model": ErrorBody, "description": "the body is too large for an event"},
        422: {"model": ErrorBody, "description": "the body is not a well-formed event"},
    },
)
async def carrier_webhook(carrier: str, request: Request, runtime: RuntimeDep) -> WebhookAnswer:
    """Take a carrier's tracking event (EasyPost: tracker.updated)."""
    hook = runtime.webhooks.get(carrier)
    if hook is None:
        raise ApiError(404, f"no webhooks are configured for carrier {carrier!r}")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise ApiError(413, f"an event body is at most {MAX_BODY_BYTES} bytes")
    if not hook.verify(body, request.headers):
        raise ApiError(401, "the webhook signature is missing or does not match the account's secret")
    try:
        parsed = hook.parse(body)
    except ValueError as exc:
        raise ApiError(422, f"not a well-formed {carrier} event: {exc}") from None
    if parsed is None:
        return WebhookAnswer(status="ignored")
    event_id, update = parsed
    fresh = await run_in_threadpool(tracking.receive_event, runtime.ctx, CarrierEvent(carrier, event_id, update))
    return WebhookAnswer(status="accepted" if fresh else "duplicate", event_id=event_id)
