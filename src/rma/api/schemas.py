"""The API's own request and response shapes.

The intake body is the domain's `ReturnRequest` itself, so HTTP, messages and the CLI accept exactly one schema.
Responses are separate models: they carry no contact or address data, only what the status page and the customer's
label need, and a change inside the domain does not silently change the public contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

from rma.domain.lifecycle import Actor, Status
from rma.domain.policy import Outcome
from rma.domain.refunds import RefundQuote
from rma.domain.requests import FREE_TEXT, ReturnRequest
from rma.domain.validation import FieldError

MAX_BATCH = 1000


class ErrorBody(BaseModel):
    error: str
    fields: list[FieldError] | None = Field(default=None, description="one entry per invalid field (422 only)")


class Submission(BaseModel):
    return_id: UUID
    status_url: str
    created: bool = Field(description="false when this request had been received before: the first return answers")


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    returns: Annotated[list[ReturnRequest], Field(min_length=1, max_length=MAX_BATCH)]


class BatchResponse(BaseModel):
    returns: list[Submission] = Field(description="one per submitted request, in the order they were sent")


class ReturnSummary(BaseModel):
    return_id: UUID
    rma_number: str | None
    status: Status
    channel: str
    order_id: str
    upstream_request_id: str
    created_at: datetime
    updated_at: datetime
    status_url: str


class DecisionView(BaseModel):
    outcome: Outcome
    returnless: bool
    reasons: list[str] = Field(description="customer-readable")
    policy_version: str | None
    refund_quote: RefundQuote


class LineView(BaseModel):
    order_line_id: str
    sku: str
    item_name: str
    quantity: int
    status: Status


class TimelineView(BaseModel):
    seq: int
    from_status: Status | None
    to_status: Status
    at: datetime
    actor: Actor
    cause: str
    line_id: str | None


class LabelView(BaseModel):
    url: str
    packing_slip_url: str
    qr_code_url: str | None = Field(description="a QR code for label-less drop-off, where the carrier gives one")
    carrier: str
    service: str | None
    tracking_number: str | None
    format: str | None
    cost: int | None = Field(description="what the label cost, minor units of `currency`")
    currency: str | None
    void_status: str | None = Field(
        description="for an unused label voided at the carrier: refunded, submitted, rejected or not_bought"
    )


class ParcelEventView(BaseModel):
    at: datetime
    status: str
    message: str
    place: str | None


class ParcelView(BaseModel):
    tracking_number: str
    carrier_status: str
    events: list[ParcelEventView] = Field(description="the carrier's scans, oldest first")


class RefundView(BaseModel):
    amount: int = Field(description="minor units")
    currency: str
    status: str


class ReturnDetail(ReturnSummary):
    attention_cause: str | None
    decision: DecisionView | None
    lines: list[LineView]
    timeline: list[TimelineView]
    label: LabelView | None
    parcel: ParcelView | None
    refunds: list[RefundView]


class ReviewSummary(ReturnSummary):
    reasons: list[str]
    rule_ids: list[str] = Field(description="the policy rules that fired, in order, each once")
    requested_refund: int | None = Field(description="the policy's refund quote, minor units")
    currency: str
    review_due_at: datetime | None


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: StrictBool
    note: Annotated[str, Field(max_length=400), FREE_TEXT] = ""
    reviewer: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._@-]*$")]

    @field_validator("reviewer")
    @classmethod
    def _not_the_system(cls, value: str) -> str:
        # The sandbox auto-reviewer's decisions are recorded as the system's; a person cannot claim that name.
        if value == "auto-reviewer":
            raise ValueError("'auto-reviewer' is reserved for the automatic reviewer")
        return value


class ReviewOutcome(BaseModel):
    return_id: UUID
    rma_number: str | None
    status: Status


class Health(BaseModel):
    status: str


class WebhookAnswer(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"] = Field(
        description="accepted: queued for the tracking stage; duplicate: received before, nothing changed; ignored: "
        "an event of a kind we do not use"
    )
    event_id: str | None = None


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=400), FREE_TEXT]
    by: Literal["customer", "upstream"] = Field(description="who asked for the cancellation")


class CancelOutcome(BaseModel):
    return_id: UUID
    rma_number: str | None
    status: Status
