"""Evaluate a return request against the policy in force at its order date.

The result is a `Decision`: authorize | review | reject, whether the refund needs no return, customer-readable
reasons, a refund quote, and a trace of every rule that fired, so support staff can explain any decision.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from rma.domain.money import format_amount
from rma.domain.policy.calendar import roll_forward
from rma.domain.policy.model import Fault, PolicyBook, PolicyVersion
from rma.domain.refunds import RefundInput, RefundLineInput, RefundQuote, calculate_refund, shipping_shares
from rma.domain.requests import ReturnLineRequest, ReturnRequest


class Outcome(StrEnum):
    AUTHORIZE = "authorize"
    REVIEW = "review"
    REJECT = "reject"


class OrderHistory(BaseModel):
    """What earlier returns of the same order already claimed and were refunded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    claimed_quantity: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    refunded_by_line: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    refunded_total: Annotated[int, Field(ge=0)] = 0


class RuleHit(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: str
    detail: str
    line: str | None = None


class LineDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    order_line_id: str
    outcome: Outcome
    quantity: int
    units_already_claimed: int = 0
    reason: str
    fault: Fault
    in_policy: bool
    window_closes_on: date | None
    returnless_eligible: bool
    restocking_fee_bp: int
    reasons: list[str]


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    decision: Outcome
    returnless: bool
    reasons: list[str]
    refund: RefundQuote
    trace: list[RuleHit]
    policy_version: str | None
    evaluated_on: date
    lines: list[LineDecision]


def _bp(percent: Decimal) -> int:
    """Percent (two decimals at most, validated by the policy model) to basis points."""
    return int(percent * 100)


def _quoted(line: ReturnLineRequest) -> str:
    return f"\u201c{line.item_name}\u201d"


class _LineEvaluation:
    """Mutable scratch pad for one line while its rules run."""

    def __init__(self, line: ReturnLineRequest, fault: Fault) -> None:
        self.line = line
        self.fault = fault
        self.outcome = Outcome.AUTHORIZE
        self.reasons: list[str] = []
        self.in_policy = True
        self.window_closes_on: date | None = None
        self.returnless_eligible = False
        self.fee_bp = 0

    def worsen(self, outcome: Outcome, reason: str) -> None:
        rank = {Outcome.AUTHORIZE: 0, Outcome.REVIEW: 1, Outcome.REJECT: 2}
        if rank[outcome] > rank[self.outcome]:
            self.outcome = outcome
        self.reasons.append(reason)


class _Evaluator:
    def __init__(self, request: ReturnRequest, policy: PolicyVersion, today: date, history: OrderHistory) -> None:
        self.request = request
        self.policy = policy
        self.today = today
        self.history = history
        self.trace: list[RuleHit] = []

    def hit(self, rule: str, detail: str, line: ReturnLineRequest | None = None) -> None:
        self.trace.append(RuleHit(rule=rule, detail=detail, line=line.order_line_id if line else None))

    def window_closes_on(self, line: ReturnLineRequest) -> date:
        req, window = self.request, self.policy.window
        if req.delivery_date is not None:
            start = req.delivery_date
            self.hit("window.start", f"counted from delivery on {start}", line)
        else:
            start = req.order_date + timedelta(days=window.expected_transit_days)
            self.hit(
                "window.start",
                f"delivery date unknown: counted from order date {req.order_date} plus "
                f"{window.expected_transit_days} days expected transit ({start})",
                line,
            )
        days = self.policy.window_days(line.category, line.sku)
        closes = start + timedelta(days=days)
        self.hit("window.days", f"{days}-day window for category {line.category!r}: closes {closes}", line)
        extension = self.policy.holiday_extension
        extended = extension.extended_until(req.order_date) if extension else None
        if extended is not None and extended > closes:
            closes = extended
            self.hit("window.holiday_extension", f"ordered in the holiday season: returnable until {closes}", line)
        rolled = roll_forward(closes, window.business_calendar)
        if rolled != closes:
            self.hit("window.business_day", f"{closes} is not a business day: rolled forward to {rolled}", line)
        return rolled

    def evaluate_line(self, line: ReturnLineRequest) -> _LineEvaluation:
        policy = self.policy
        reason = line.reason
        if reason.canonical is None:
            fault = policy.fault.unknown_code
            self.hit("reason.unknown", f"unknown reason code {reason.raw!r}: treated as {fault} fault", line)
        else:
            fault = policy.fault.fault_of(reason.canonical)
            self.hit("reason.fault", f"{reason.raw!r} means {reason.canonical.value}: {fault} fault", line)
        ev = _LineEvaluation(line, fault)
        override = policy.sku_overrides.get(line.sku)

        self._check_returnable(ev, override is not None and not override.returnable)
        self._check_quantity(ev)
        self._check_window(ev)
        if override is not None and override.review:
            self.hit("sku.review", f"SKU {line.sku} is always reviewed by a person", line)
            ev.worsen(Outcome.REVIEW, f"A member of our team will review the return of {_quoted(line)}.")
        if reason.canonical in policy.fault.review:
            self.hit("reason.review", f"reason {reason.canonical} is always reviewed by a person", line)
            ev.worsen(Outcome.REVIEW, f"A member of our team will review the return of {_quoted(line)}.")
        self._restocking_fee(ev, override.restocking_fee_percent if override else None)
        self._returnless(ev, override.returnless if override else None)
        return ev

    def _check_returnable(self, ev: _LineEvaluation, sku_blocked: bool) -> None:
        line, policy = ev.line, self.policy
        blocked_by = None
        if line.category in policy.non_returnable_categories:
            blocked_by = f"items in the {line.category} category are not returnable"
        elif line.sku in policy.non_returnable_skus or sku_blocked:
            blocked_by = "this item is not returnable"
        if blocked_by is None:
            return
        ev.in_policy = False
        if ev.fault is Fault.SELLER:
            # A defective perishable or hazmat item cannot come back, but the customer is still owed a remedy.
            self.hit("returnable.seller_fault_review", f"not returnable ({blocked_by}) but seller fault", line)
            ev.worsen(
                Outcome.REVIEW,
                f"{_quoted(line)} cannot be sent back ({blocked_by}); our team will contact you.",
            )
        else:
            self.hit("returnable.rejected", blocked_by, line)
            ev.worsen(Outcome.REJECT, f"{_quoted(line)} cannot be returned: {blocked_by}.")

    def _check_quantity(self, ev: _LineEvaluation) -> None:
        line = ev.line
        claimed = self.history.claimed_quantity.get(line.order_line_id, 0)
        remaining = max(0, line.quantity_delivered - claimed)
        if line.quantity_to_return <= remaining:
            self.hit("quantity.ok", f"{line.quantity_to_return} of {remaining} returnable units", line)
            return
        self.hit(
            "quantity.exceeded",
            f"asked {line.quantity_to_return}, {remaining} remain ({claimed} claimed)",
            line,
        )
        ev.in_policy = False
        ev.worsen(
            Outcome.REJECT,
            f"You asked to return {line.quantity_to_return} of {_quoted(line)} but only {remaining} can still be "
            f"returned: {line.quantity_delivered} were delivered and {claimed} are already on an earlier return.",
        )

    def _check_window(self, ev: _LineEvaluation) -> None:
        line = ev.line
        ev.window_closes_on = closes = self.window_closes_on(line)
        if self.today <= closes:
            self.hit("window.open", f"requested {self.today}, window closes {closes}", line)
            return
        ev.in_policy = False
        mode = self.policy.authorization.out_of_policy
        self.hit(
            "window.closed",
            f"requested {self.today}, window closed {closes}; out-of-policy mode {mode}",
            line,
        )
        text = f"The return window for {_quoted(line)} closed on {closes:%B %-d, %Y}."
        if mode == "reject":
            ev.worsen(Outcome.REJECT, text)
        elif mode == "review":
            ev.worsen(Outcome.REVIEW, f"{text} A member of our team will review your request.")

    def _restocking_fee(self, ev: _LineEvaluation, override_percent: Decimal | None) -> None:
        line, fees = ev.line, self.policy.restocking_fee
        if ev.outcome is Outcome.REJECT:
            return  # nothing is taken back, so no fee applies (and the customer is not told of one)
        if ev.fault is Fault.SELLER:
            self.hit("fee.none_seller_fault", "no restocking fee for a seller-fault reason", line)
            return
        remorse = line.condition in fees.buyer_remorse_conditions
        if ev.in_policy and not remorse:
            self.hit("fee.none_original_condition", f"in policy and {line.condition}: no restocking fee", line)
            return
        percent = override_percent if override_percent is not None else fees.buyer_remorse_percent
        bp = _bp(percent) if remorse else 0
        if not ev.in_policy:
            bp = max(bp, _bp(fees.out_of_policy_percent))
        ev.fee_bp = bp
        why = "accepted outside the policy" if not ev.in_policy else f"returned {line.condition} for a buyer reason"
        self.hit("fee.restocking", f"{bp / 100:g}% restocking fee: {why}", line)
        if bp:
            ev.reasons.append(f"A {bp / 100:g}% restocking fee applies to {_quoted(line)} because it was {why}.")

    def _returnless(self, ev: _LineEvaluation, forced: bool | None) -> None:
        line, rules = ev.line, self.policy.returnless
        if forced is not None:
            ev.returnless_eligible = forced
            self.hit("returnless.sku_override", f"SKU override: returnless {forced}", line)
            return
        limit = rules.max_unit_price.get(self.request.currency)
        eligible = (
            rules.enabled
            and limit is not None
            and line.unit_price <= limit
            and (not rules.categories or line.category in rules.categories)
            and line.category not in rules.excluded_categories
            and ev.fault in rules.faults
        )
        ev.returnless_eligible = eligible
        if eligible:
            self.hit(
                "returnless.eligible",
                f"unit price {line.unit_price} <= {limit}: no need to send it back",
                line,
            )

    def run(self) -> Decision:
        request, policy = self.request, self.policy
        self.hit("policy.version", f"policy {policy.version} in force since {policy.effective_from}")
        evaluations = [self.evaluate_line(line) for line in request.lines]
        active = [ev for ev in evaluations if ev.outcome is not Outcome.REJECT]
        reasons = [reason for ev in evaluations for reason in ev.reasons]

        if not active:
            outcome, returnless = Outcome.REJECT, False
        else:
            outcome = Outcome.REVIEW if any(ev.outcome is Outcome.REVIEW for ev in active) else Outcome.AUTHORIZE
            returnless = all(ev.returnless_eligible for ev in active)
            if returnless:
                self.hit("returnless.decision", "every accepted line qualifies: refund without a return")
                reasons.append("You do not need to send the item back; your refund will be issued directly.")
            outcome = self._value_threshold(active, outcome, reasons)

        refund = self._quote(evaluations, returnless, reasons)
        if outcome is Outcome.AUTHORIZE:
            units = sum(ev.line.quantity_to_return for ev in active)
            reasons.insert(0, f"Your return of {units} item{'s' if units != 1 else ''} is authorized.")
        return Decision(
            decision=outcome,
            returnless=returnless,
            reasons=reasons,
            refund=refund,
            trace=self.trace,
            policy_version=policy.version,
            evaluated_on=self.today,
            lines=[
                LineDecision(
                    order_line_id=ev.line.order_line_id,
                    outcome=ev.outcome if outcome is not Outcome.REJECT else Outcome.REJECT,
                    quantity=ev.line.quantity_to_return,
                    units_already_claimed=self.history.claimed_quantity.get(ev.line.order_line_id, 0),
                    reason=ev.line.reason.canonical or ev.line.reason.raw,
                    fault=ev.fault,
                    in_policy=ev.in_policy,
                    window_closes_on=ev.window_closes_on,
                    returnless_eligible=ev.returnless_eligible,
                    restocking_fee_bp=ev.fee_bp,
                    reasons=ev.reasons,
                )
                for ev in evaluations
            ],
        )

    def _value_threshold(self, active: list[_LineEvaluation], outcome: Outcome, reasons: list[str]) -> Outcome:
        currency = self.request.currency
        threshold = self.policy.authorization.review_above.get(currency)
        value = sum(ev.line.unit_price * ev.line.quantity_to_return for ev in active)
        if threshold is None:
            self.hit("value.no_threshold", f"no review threshold configured for {currency}: review")
            reasons.append("A member of our team will review your request.")
            return Outcome.REVIEW
        if value > threshold:
            self.hit("value.review", f"requested value {value} is above the review threshold {threshold}")
            reasons.append("Because of the value of this return, a member of our team will review it.")
            return Outcome.REVIEW
        self.hit("value.ok", f"requested value {value} is within the review threshold {threshold}")
        return outcome

    def _quote(self, evaluations: list[_LineEvaluation], returnless: bool, reasons: list[str]) -> RefundQuote:
        request, policy = self.request, self.policy
        active = [ev for ev in evaluations if ev.outcome is not Outcome.REJECT]
        shipping = shipping_shares(
            request.shipping_paid, [line.delivered_value for line in request.lines], request.order_goods_value
        )
        share = {line.order_line_id: s for line, s in zip(request.lines, shipping, strict=True)}
        label = 0
        buyer_only = bool(active) and all(ev.fault is Fault.BUYER for ev in active)
        if buyer_only and not returnless and policy.label.deduct_for_buyer_fault:
            label = policy.label.cost.get(request.currency, 0)
            if label:
                self.hit("label.deduction", f"buyer-fault return: label cost {label} deducted")
                reasons.append(
                    f"The return label cost of {format_amount(label, request.currency)} will be deducted "
                    "from your refund."
                )
        elif active:
            self.hit("label.free", "prepaid label at no cost" if not returnless else "no label needed")
        lines = [
            RefundLineInput(
                order_line_id=ev.line.order_line_id,
                unit_price=ev.line.unit_price,
                quantity=ev.line.quantity_to_return if ev.outcome is not Outcome.REJECT else 0,
                quantity_delivered=ev.line.quantity_delivered,
                units_already_claimed=self.history.claimed_quantity.get(ev.line.order_line_id, 0),
                line_tax=ev.line.tax,
                line_shipping=share[ev.line.order_line_id],
                refund_shipping=ev.fault is Fault.SELLER,
                restocking_fee_bp=0 if returnless else ev.fee_bp,
                already_refunded=self.history.refunded_by_line.get(ev.line.order_line_id, 0),
            )
            for ev in evaluations
        ]
        return calculate_refund(
            RefundInput(
                currency=request.currency,
                lines=lines,
                label_deduction=label,
                order_captured=request.amount_captured,
                order_already_refunded=self.history.refunded_total,
            )
        )


def evaluate(request: ReturnRequest, book: PolicyBook, *, today: date, history: OrderHistory | None = None) -> Decision:
    """Decide a return request under the policy version in force at its order date."""
    history = history or OrderHistory()
    policy = book.in_force(request.order_date)
    if policy is None:
        first = book.versions[0].effective_from
        return Decision(
            decision=Outcome.REVIEW,
            returnless=False,
            reasons=["A member of our team will review your request."],
            refund=calculate_refund(
                RefundInput(
                    currency=request.currency,
                    lines=[
                        RefundLineInput(
                            order_line_id=line.order_line_id,
                            unit_price=line.unit_price,
                            quantity=0,
                            quantity_delivered=line.quantity_delivered,
                            line_tax=line.tax,
                        )
                        for line in request.lines
                    ],
                    order_captured=request.amount_captured,
                )
            ),
            trace=[RuleHit(rule="policy.none", detail=f"order placed {request.order_date}, before {first}")],
            policy_version=None,
            evaluated_on=today,
            lines=[],
        )
    return _Evaluator(request, policy, today, history).run()
