"""The audit is silent on a sound system and catches planted damage: a duplicate refund, an over-refund, a stuck
return, a second label, a customer message never sent, a broken timeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from tests.conftest import ManualClock
from tests.integration.test_stage_flow import _deliver_everything, run_outbox

from rma.adapters.db.audit import run_audit
from rma.adapters.db.tables import NotificationRow, RefundRow, TimelineRow
from rma.adapters.sandbox import inspector as inspection_service
from rma.adapters.sandbox.tables import SandboxLabelRow, SandboxRefundRow
from rma.services.context import StageContext
from rma.services.flow import ANNOUNCED
from rma.services.intake import new_return_id, submit_return


def _audit(ctx: StageContext, session_factory: Any) -> Any:
    with session_factory() as session:
        return run_audit(session, now=ctx.clock.now(), real_now=datetime.now(UTC), announced=ANNOUNCED)


def _finished_return(ctx: StageContext, engine: Engine, clock: ManualClock, make_request: Any) -> uuid.UUID:
    return_id = submit_return(ctx.uow(), make_request(), now=clock.now(), due_at=ctx.machine_deadline()).return_id
    run_outbox(ctx, engine)
    _deliver_everything(ctx, engine, clock)
    clock.advance(timedelta(days=4))
    from rma.services import inspection  # noqa: PLC0415

    inspection.auto_tick(ctx, limit=10)
    run_outbox(ctx, engine)
    return return_id


def test_a_sound_run_has_no_violations(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock, session_factory: Any
) -> None:
    ctx = make_ctx(auto_inspect=True)
    _finished_return(ctx, engine, clock, make_request)
    report = _audit(ctx, session_factory)
    assert report.returns == 1
    assert report.by_status == {"closed": 1}
    assert report.sound, report.violations
    assert set(report.violations) >= {"duplicate_refunds", "over_refunded_orders", "stuck_returns"}


def test_planted_damage_is_caught(
    make_ctx: Any,
    make_request: Any,
    engine: Engine,
    clock: ManualClock,
    session_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The auto-inspector grades by a draw on the return id, and 4% of ids are graded not refundable: this return must
    # be paid, so it gets an id whose draw is refundable.
    def refundable_id() -> uuid.UUID:
        while not auto_grade_refundable(candidate := new_return_id()):
            pass
        return candidate

    monkeypatch.setattr("rma.services.intake.new_return_id", refundable_id)
    ctx = make_ctx(auto_inspect=True)
    return_id = _finished_return(ctx, engine, clock, make_request)
    with engine.begin() as conn:
        refund = conn.execute(select(RefundRow.idempotency_key, RefundRow.amount)).one()
        paid = conn.execute(select(SandboxRefundRow)).mappings().one()
        # A second refund at the gateway for the same return (another key: what a missing idempotency key causes).
        conn.execute(
            insert(SandboxRefundRow).values({**paid, "idempotency_key": f"rf-{return_id.hex}-9", "refund_id": "re_dup"})
        )
        # A second label at the carrier for the same RMA.
        label = conn.execute(select(SandboxLabelRow)).mappings().one()
        conn.execute(
            insert(SandboxLabelRow).values({**label, "idempotency_key": "lbl-dup", "tracking_number": "1ZDUP"})
        )
        # A refund decision bigger than anything captured.
        conn.execute(update(RefundRow).values(amount=refund.amount + 10_000_000, lines={"ol-1": 10_000_000}))
        # A customer message that never went out (its batch lost and never handed out again).
        first = conn.scalar(select(NotificationRow.id).order_by(NotificationRow.id).limit(1))
        conn.execute(
            update(NotificationRow)
            .where(NotificationRow.id == first)
            .values(sent_at=None, created_at=datetime.now(UTC) - timedelta(minutes=5))
        )
    # A return stuck in "requested" with its deadline long gone (its issuance message lost).
    stuck_id = submit_return(
        ctx.uow(), make_request(order_id="stuck-order"), now=clock.now(), due_at=clock.now() - timedelta(hours=1)
    ).return_id
    report = _audit(ctx, session_factory)
    assert report.violations["duplicate_refunds"] == 1
    assert report.violations["duplicate_labels"] == 1
    assert report.violations["over_refunded_lines"] >= 1
    assert report.violations["over_refunded_orders"] >= 1
    assert report.violations["stuck_returns"] == 1
    assert report.violations["stale_messages"] == 1
    assert str(stuck_id) in report.examples["stuck_returns"][0]
    assert not report.sound


def test_a_timeline_that_skips_a_step_is_caught(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock, session_factory: Any
) -> None:
    ctx = make_ctx()
    return_id = submit_return(ctx.uow(), make_request(), now=clock.now(), due_at=ctx.machine_deadline()).return_id
    with engine.begin() as conn:
        conn.execute(
            insert(TimelineRow).values(
                return_id=return_id,
                seq=2,
                from_status="requested",
                to_status="refunded",
                at=clock.now(),
                actor="system",
                cause="planted",
            )
        )
    assert _audit(ctx, session_factory).violations["invalid_timelines"] == 1


def test_a_status_change_the_customer_never_heard_of_is_caught(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock, session_factory: Any
) -> None:
    ctx = make_ctx(auto_inspect=True)
    return_id = _finished_return(ctx, engine, clock, make_request)
    assert _audit(ctx, session_factory).violations["unannounced_changes"] == 0
    with engine.begin() as conn:
        # What a change committed without its follow-ups would leave: the status moved, no message row was written.
        conn.execute(
            delete(NotificationRow).where(NotificationRow.return_id == return_id, NotificationRow.event == "delivered")
        )
    report = _audit(ctx, session_factory)
    assert report.violations["unannounced_changes"] == 1
    assert report.examples["unannounced_changes"] == [f"{return_id}: became delivered and was never told"]
    assert not report.sound


def auto_grade_refundable(return_id: uuid.UUID) -> bool:
    return inspection_service._draw(return_id, "grade") >= inspection_service.NOT_REFUNDABLE_SHARE
