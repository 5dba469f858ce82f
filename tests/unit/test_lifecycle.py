"""The lifecycle transition table, timeline entries, and the return aggregate that obeys them."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from rma.domain.errors import DomainError, InvalidTransitionError
from rma.domain.lifecycle import (
    FINAL_STATUSES,
    SETTLED_STATUSES,
    TRANSITIONS,
    Actor,
    Status,
    TimelineEntry,
    allowed_targets,
    ensure_allowed,
    is_allowed,
    make_entry,
)
from rma.domain.policy import OrderHistory, Outcome, evaluate
from rma.domain.returns import ReturnAuthorization

AT = datetime(2026, 9, 10, 9, 0, tzinfo=UTC)
RMA = "RMA-K5183BB0A"

ALLOWED = sorted((src, dst) for src, targets in TRANSITIONS.items() for dst in targets)
FORBIDDEN = sorted((src, dst) for src, dst in itertools.product(Status, Status) if dst not in TRANSITIONS[src])
NON_SETTLED = sorted(s for s in Status if s not in SETTLED_STATUSES and s is not Status.NEEDS_ATTENTION)


def _id(pair: tuple[Status, Status]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


# --- the table -------------------------------------------------------------------------------------------------------


def test_table_covers_every_status():
    assert set(TRANSITIONS) == set(Status)
    assert len(ALLOWED) + len(FORBIDDEN) == len(Status) ** 2


@pytest.mark.parametrize("pair", ALLOWED, ids=_id)
def test_every_allowed_transition_is_allowed(pair):
    src, dst = pair
    assert is_allowed(src, dst)
    assert dst in allowed_targets(src)
    ensure_allowed(src, dst)  # does not raise


@pytest.mark.parametrize("pair", FORBIDDEN, ids=_id)
def test_every_other_transition_raises(pair):
    src, dst = pair
    assert not is_allowed(src, dst)
    with pytest.raises(InvalidTransitionError) as info:
        ensure_allowed(src, dst)
    assert info.value.current == src.value
    assert info.value.target == dst.value
    assert repr(src.value) in str(info.value)
    assert isinstance(info.value, DomainError)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (Status.REQUESTED, Status.AUTHORIZED),
        (Status.AUTHORIZED, Status.LABEL_ISSUED),
        (Status.AUTHORIZED, Status.REFUND_PENDING),  # returnless
        (Status.LABEL_ISSUED, Status.IN_TRANSIT),
        (Status.IN_TRANSIT, Status.DELIVERED),
        (Status.DELIVERED, Status.INSPECTED),
        (Status.INSPECTED, Status.REFUND_PENDING),
        (Status.REFUND_PENDING, Status.REFUNDED),
        (Status.REFUND_FAILED, Status.REFUND_PENDING),
        (Status.REFUNDED, Status.CLOSED),
        (Status.EXCEPTION, Status.REFUND_PENDING),
    ],
)
def test_the_happy_paths_are_in_the_table(src, dst):
    assert is_allowed(src, dst)


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        (Status.REQUESTED, Status.LABEL_ISSUED),
        (Status.REQUESTED, Status.REQUESTED),
        (Status.DELIVERED, Status.REFUNDED),
        (Status.REFUNDED, Status.REFUND_PENDING),
        (Status.REJECTED, Status.AUTHORIZED),
        (Status.NEEDS_ATTENTION, Status.NEEDS_ATTENTION),
        (Status.NEEDS_ATTENTION, Status.CLOSED),
    ],
)
def test_some_shortcuts_are_not_in_the_table(src, dst):
    assert not is_allowed(src, dst)


def test_closed_is_terminal():
    assert set(FINAL_STATUSES) == {Status.CLOSED}
    assert allowed_targets(Status.CLOSED) == frozenset()
    for dst in Status:
        with pytest.raises(InvalidTransitionError):
            ensure_allowed(Status.CLOSED, dst)


def test_every_settled_status_can_only_close():
    for src in SETTLED_STATUSES - FINAL_STATUSES:
        assert TRANSITIONS[src] == {Status.CLOSED}, src


@pytest.mark.parametrize("status", NON_SETTLED)
def test_needs_attention_is_reachable_from_every_non_settled_status(status):
    assert is_allowed(status, Status.NEEDS_ATTENTION)


@pytest.mark.parametrize("status", sorted(SETTLED_STATUSES))
def test_needs_attention_is_not_reachable_from_settled_statuses(status):
    assert not is_allowed(status, Status.NEEDS_ATTENTION)


def test_every_status_can_be_reached_and_closed():
    # Every status is reachable from `requested`, and `closed` is reachable from every status.
    reachable = {Status.REQUESTED}
    frontier = [Status.REQUESTED]
    while frontier:
        for dst in TRANSITIONS[frontier.pop()]:
            if dst not in reachable:
                reachable.add(dst)
                frontier.append(dst)
    assert reachable == set(Status)

    for src in Status:
        seen, frontier = {src}, [src]
        while frontier:
            for dst in TRANSITIONS[frontier.pop()]:
                if dst not in seen:
                    seen.add(dst)
                    frontier.append(dst)
        assert Status.CLOSED in seen, src


# --- timeline entries ------------------------------------------------------------------------------------------------


def test_timeline_entry_is_immutable():
    entry = make_entry(
        seq=1, from_status=None, to_status=Status.REQUESTED, at=AT, actor=Actor.UPSTREAM, cause="request received"
    )
    with pytest.raises(ValidationError, match="frozen"):
        entry.to_status = Status.CLOSED  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        entry.cause = "rewritten"  # type: ignore[misc]
    assert entry.to_status is Status.REQUESTED


def test_make_entry_checks_the_table():
    with pytest.raises(InvalidTransitionError):
        make_entry(seq=2, from_status=Status.REQUESTED, to_status=Status.REFUNDED, at=AT, actor=Actor.SYSTEM, cause="x")
    entry = make_entry(
        seq=2, from_status=Status.REQUESTED, to_status=Status.AUTHORIZED, at=AT, actor=Actor.POLICY, cause="ok"
    )
    assert (entry.from_status, entry.to_status, entry.line_id) == (Status.REQUESTED, Status.AUTHORIZED, None)


@pytest.mark.parametrize(
    "overrides",
    [
        {"seq": 0},
        {"cause": ""},
        {"cause": "x" * 501},
        {"at": datetime(2026, 9, 10, 9, 0)},  # noqa: DTZ001 - naive on purpose
        {"surprise": 1},
    ],
)
def test_timeline_entry_validates_its_fields(overrides):
    fields = {"seq": 1, "from_status": None, "to_status": Status.REQUESTED, "at": AT, "actor": Actor.SYSTEM}
    with pytest.raises(ValidationError):
        TimelineEntry(**{**fields, "cause": "c", **overrides})


# --- the aggregate ---------------------------------------------------------------------------------------------------


@pytest.fixture
def two_line_request(make_request):
    return make_request(
        lines=[
            {"order_line_id": "ol-1", "category": "home"},
            {"order_line_id": "ol-2", "sku": "BATTERY-X", "item_name": "Battery", "category": "hazmat"},
        ]
    )


def receive(request, at=AT) -> ReturnAuthorization:
    return ReturnAuthorization.receive(request, return_id=UUID(int=1), at=at)


def assert_timeline_consistent(ra: ReturnAuthorization) -> None:
    assert [e.seq for e in ra.timeline] == list(range(1, len(ra.timeline) + 1))
    assert ra.timeline[0].from_status is None
    for entry in ra.timeline[1:]:
        assert entry.from_status is not None
        assert is_allowed(entry.from_status, entry.to_status)
    # Return-level entries chain: each starts where the previous one ended.
    whole = [e for e in ra.timeline if e.line_id is None]
    for before, after in itertools.pairwise(whole):
        assert after.from_status is before.to_status
    assert whole[-1].to_status is ra.status


def test_receive_starts_a_timeline(make_request):
    request = make_request(lines=[{"quantity_delivered": 3, "quantity_to_return": 2}])
    return_id = uuid4()

    ra = ReturnAuthorization.receive(request, return_id=return_id, at=AT)

    assert ra.id == return_id
    assert ra.status is Status.REQUESTED
    assert ra.rma_number is None
    assert ra.decision is None
    assert ra.version == 0
    assert ra.created_at == ra.updated_at == AT
    assert [(e.seq, e.from_status, e.to_status, e.actor) for e in ra.timeline] == [
        (1, None, Status.REQUESTED, Actor.UPSTREAM)
    ]
    assert [(line.order_line_id, line.quantity, line.status) for line in ra.lines] == [("ol-1", 2, Status.REQUESTED)]
    assert ra.channel == "amazon"
    assert ra.upstream_request_id == "req-1"


def test_apply_authorize_decision(make_request, policy_book):
    request = make_request()
    decision = evaluate(request, policy_book, today=date(2026, 9, 10))
    assert decision.decision is Outcome.AUTHORIZE
    ra = receive(request)
    later = AT + timedelta(minutes=1)

    ra.apply_decision(decision, rma_number=RMA, at=later)

    assert ra.status is Status.AUTHORIZED
    assert ra.rma_number == RMA
    assert ra.decision == decision
    assert ra.updated_at == later
    assert [line.status for line in ra.lines] == [Status.AUTHORIZED]
    last = ra.timeline[-1]
    assert (last.seq, last.from_status, last.to_status, last.actor) == (
        2,
        Status.REQUESTED,
        Status.AUTHORIZED,
        Actor.POLICY,
    )
    assert "authorized" in last.cause
    assert_timeline_consistent(ra)


def test_apply_review_decision(make_request, policy_book):
    request = make_request(lines=[{"unit_price": 60_000}])
    decision = evaluate(request, policy_book, today=date(2026, 9, 10))
    assert decision.decision is Outcome.REVIEW
    ra = receive(request)

    ra.apply_decision(decision, rma_number=RMA, at=AT)

    assert ra.status is Status.PENDING_REVIEW
    assert [line.status for line in ra.lines] == [Status.PENDING_REVIEW]
    assert ra.timeline[-1].to_status is Status.PENDING_REVIEW
    assert_timeline_consistent(ra)


def test_apply_reject_decision_needs_no_rma_number(make_request, policy_book):
    request = make_request(lines=[{"category": "hazmat"}])
    decision = evaluate(request, policy_book, today=date(2026, 9, 10))
    assert decision.decision is Outcome.REJECT
    ra = receive(request)

    ra.apply_decision(decision, rma_number=None, at=AT)

    assert ra.status is Status.REJECTED
    assert ra.rma_number is None
    assert [line.status for line in ra.lines] == [Status.REJECTED]
    # The whole return was rejected: one return-level entry, no per-line entries.
    assert [(e.to_status, e.line_id) for e in ra.timeline[1:]] == [(Status.REJECTED, None)]
    assert "hazmat" in ra.timeline[-1].cause


@pytest.mark.parametrize("outcome_request", ["authorize", "review"])
def test_missing_rma_number_raises_for_authorize_and_review(make_request, policy_book, outcome_request):
    price = 4_999 if outcome_request == "authorize" else 60_000
    request = make_request(lines=[{"unit_price": price}])
    decision = evaluate(request, policy_book, today=date(2026, 9, 10))
    assert decision.decision.value == outcome_request
    ra = receive(request)
    before = ra.model_copy(deep=True)

    with pytest.raises(DomainError, match="needs an RMA number"):
        ra.apply_decision(decision, rma_number=None, at=AT)

    assert ra == before


def test_partly_authorized_return_keeps_rejected_line_until_close(two_line_request, policy_book):
    decision = evaluate(two_line_request, policy_book, today=date(2026, 9, 10))
    assert decision.decision is Outcome.AUTHORIZE
    assert {ld.order_line_id: ld.outcome for ld in decision.lines} == {
        "ol-1": Outcome.AUTHORIZE,
        "ol-2": Outcome.REJECT,
    }
    ra = receive(two_line_request)

    ra.apply_decision(decision, rma_number=RMA, at=AT)

    assert ra.status is Status.AUTHORIZED
    assert ra.line("ol-1").status is Status.AUTHORIZED
    assert ra.line("ol-2").status is Status.REJECTED
    line_entry = ra.timeline[1]
    assert (line_entry.line_id, line_entry.from_status, line_entry.to_status) == (
        "ol-2",
        Status.REQUESTED,
        Status.REJECTED,
    )
    assert "hazmat" in line_entry.cause
    assert ra.timeline[2].line_id is None

    t = AT
    for target in (
        Status.LABEL_ISSUED,
        Status.IN_TRANSIT,
        Status.NEEDS_ATTENTION,
        Status.IN_TRANSIT,
        Status.DELIVERED,
        Status.INSPECTED,
        Status.REFUND_PENDING,
        Status.REFUNDED,
    ):
        t += timedelta(hours=1)
        ra.transition(target, at=t, actor=Actor.SYSTEM, cause=f"to {target}")
        assert ra.line("ol-1").status is target
        assert ra.line("ol-2").status is Status.REJECTED

    ra.transition(Status.CLOSED, at=t, actor=Actor.SYSTEM, cause="done")

    assert ra.status is Status.CLOSED
    assert [line.status for line in ra.lines] == [Status.CLOSED, Status.CLOSED]
    assert_timeline_consistent(ra)


def test_rejected_line_of_a_reviewed_return_stays_rejected(policy_book, make_request):
    request = make_request(
        lines=[
            {"order_line_id": "ol-1", "unit_price": 60_000},
            {"order_line_id": "ol-2", "category": "hazmat"},
        ]
    )
    decision = evaluate(request, policy_book, today=date(2026, 9, 10))
    assert decision.decision is Outcome.REVIEW
    ra = receive(request)

    ra.apply_decision(decision, rma_number=RMA, at=AT)
    ra.transition(Status.AUTHORIZED, at=AT, actor=Actor.OPERATOR, cause="reviewed")

    assert ra.line("ol-1").status is Status.AUTHORIZED
    assert ra.line("ol-2").status is Status.REJECTED


def test_transitions_append_entries_with_increasing_seq(make_request):
    ra = receive(make_request())
    path = [Status.AUTHORIZED, Status.LABEL_ISSUED, Status.EXPIRED, Status.CLOSED]
    for i, target in enumerate(path, start=1):
        ra.transition(target, at=AT + timedelta(days=i), actor=Actor.SYSTEM, cause=f"step {i}")

    assert [e.seq for e in ra.timeline] == [1, 2, 3, 4, 5]
    assert [(e.from_status, e.to_status) for e in ra.timeline] == [
        (None, Status.REQUESTED),
        (Status.REQUESTED, Status.AUTHORIZED),
        (Status.AUTHORIZED, Status.LABEL_ISSUED),
        (Status.LABEL_ISSUED, Status.EXPIRED),
        (Status.EXPIRED, Status.CLOSED),
    ]
    assert ra.timeline[-1].cause == "step 4"
    assert ra.updated_at == AT + timedelta(days=4)
    assert ra.created_at == AT
    assert_timeline_consistent(ra)


def test_each_transition_replaces_the_status_deadline(make_request, policy_book):
    request = make_request()
    ra = receive(request)
    assert ra.due_at is None
    label_by = AT + timedelta(days=1)

    ra.apply_decision(evaluate(request, policy_book, today=date(2026, 9, 10)), rma_number=RMA, at=AT, due_at=label_by)
    assert ra.due_at == label_by

    parcel_by = AT + timedelta(days=14)
    ra.transition(Status.LABEL_ISSUED, at=AT, actor=Actor.SYSTEM, cause="label bought", due_at=parcel_by)
    assert ra.due_at == parcel_by

    ra.transition(Status.NEEDS_ATTENTION, at=AT, actor=Actor.SYSTEM, cause="carrier silent")
    assert ra.due_at is None


def test_invalid_transition_leaves_the_aggregate_unchanged(make_request):
    ra = receive(make_request())
    ra.transition(Status.AUTHORIZED, at=AT, actor=Actor.POLICY, cause="ok", due_at=AT + timedelta(days=1))
    before = ra.model_copy(deep=True)

    with pytest.raises(InvalidTransitionError):
        ra.transition(Status.REFUNDED, at=AT + timedelta(days=1), actor=Actor.GATEWAY, cause="too early")

    assert ra == before
    assert len(ra.timeline) == 2


def test_invalid_decision_leaves_the_aggregate_unchanged(two_line_request, policy_book):
    decision = evaluate(two_line_request, policy_book, today=date(2026, 9, 10))
    ra = receive(two_line_request)
    ra.apply_decision(decision, rma_number=RMA, at=AT)
    ra.transition(Status.LABEL_ISSUED, at=AT, actor=Actor.SYSTEM, cause="label")
    before = ra.model_copy(deep=True)

    with pytest.raises(InvalidTransitionError):
        ra.apply_decision(decision, rma_number="RMA-OTHER", at=AT + timedelta(days=1))

    assert ra == before


def test_flag_sets_attention_cause_and_leaving_clears_it(make_request):
    ra = receive(make_request())
    ra.transition(Status.AUTHORIZED, at=AT, actor=Actor.POLICY, cause="ok")

    ra.flag("label service down", at=AT + timedelta(minutes=5))

    assert ra.status is Status.NEEDS_ATTENTION
    assert ra.attention_cause == "label service down"
    assert ra.lines[0].status is Status.NEEDS_ATTENTION
    entry = ra.timeline[-1]
    assert (entry.from_status, entry.to_status, entry.actor) == (
        Status.AUTHORIZED,
        Status.NEEDS_ATTENTION,
        Actor.SYSTEM,
    )

    ra.transition(Status.LABEL_ISSUED, at=AT + timedelta(hours=1), actor=Actor.OPERATOR, cause="retried")

    assert ra.attention_cause is None
    assert ra.lines[0].status is Status.LABEL_ISSUED
    assert_timeline_consistent(ra)


def test_flag_truncates_a_long_cause_and_names_the_actor(make_request):
    ra = receive(make_request())
    ra.flag("x" * 900, at=AT, actor=Actor.OPERATOR)
    assert ra.attention_cause == "x" * 500
    assert ra.timeline[-1].actor is Actor.OPERATOR


def test_flag_from_a_settled_status_raises(make_request):
    ra = receive(make_request())
    ra.transition(Status.REJECTED, at=AT, actor=Actor.POLICY, cause="no")
    with pytest.raises(InvalidTransitionError):
        ra.flag("why", at=AT)
    assert ra.attention_cause is None
    assert ra.status is Status.REJECTED


def test_transition_line_checks_the_line_status(two_line_request):
    ra = receive(two_line_request)

    ra.transition_line("ol-2", Status.REJECTED, at=AT, actor=Actor.INSPECTOR, cause="not ours")

    assert ra.line("ol-2").status is Status.REJECTED
    assert ra.status is Status.REQUESTED
    assert ra.timeline[-1].line_id == "ol-2"
    with pytest.raises(InvalidTransitionError):
        ra.transition_line("ol-2", Status.AUTHORIZED, at=AT, actor=Actor.OPERATOR, cause="undo")
    assert len(ra.timeline) == 2


def test_unknown_line_raises_domain_error(make_request):
    ra = receive(make_request())
    with pytest.raises(DomainError, match="no line 'nope'"):
        ra.line("nope")
    with pytest.raises(DomainError):
        ra.transition_line("nope", Status.REJECTED, at=AT, actor=Actor.SYSTEM, cause="x")
    assert len(ra.timeline) == 1


def test_decision_with_very_long_line_reasons_still_applies(make_request, make_book):
    # A line rejected for three reasons, each quoting a 200-character item name: its timeline cause is bounded.
    book = make_book(non_returnable_skus={"JAM-1"})
    request = make_request(
        delivery_date=date(2026, 9, 4),
        lines=[
            {"order_line_id": "ol-1"},
            {"order_line_id": "ol-2", "sku": "JAM-1", "item_name": "N" * 200, "category": "grocery"},
        ],
    )
    history = OrderHistory(claimed_quantity={"ol-2": 1})
    decision = evaluate(request, book, today=date(2026, 9, 25), history=history)
    assert decision.decision is Outcome.AUTHORIZE
    assert len("; ".join(decision.lines[1].reasons)) > 500
    ra = receive(request)

    ra.apply_decision(decision, rma_number=RMA, at=AT)

    assert ra.line("ol-1").status is Status.AUTHORIZED
    assert ra.line("ol-2").status is Status.REJECTED
    assert all(len(e.cause) <= 500 for e in ra.timeline)


def test_aggregate_rejects_unknown_fields_and_bad_assignments(make_request):
    ra = receive(make_request())
    with pytest.raises(ValidationError):
        ra.lines[0].quantity = 0
    with pytest.raises(ValidationError):
        ra.status = "nonsense"  # type: ignore[assignment]
    assert ra.status is Status.REQUESTED
