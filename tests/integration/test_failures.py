"""Permanent failures park the return in needs_attention with the cause; transient ones are retried."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.conftest import ManualClock

from rma.adapters.db import migrate
from rma.adapters.db.tables import DeadLetterRow, SandboxRefundRow
from rma.config import Settings
from rma.domain.lifecycle import Actor, Status
from rma.services import refunds
from rma.services.context import StageContext
from rma.services.intake import submit_return
from rma.services.issuance import issue
from rma.services.ports import GatewayRefund, ProviderError, RefundOrder
from rma.worker.base import backoff_seconds, is_transient


class DecliningGateway:
    def refund(self, order: RefundOrder) -> GatewayRefund:
        raise ProviderError(f"card account closed for {order.idempotency_key}", transient=False)

    def find_refund(self, idempotency_key: str) -> GatewayRefund | None:  # noqa: ARG002
        return None


def _cheap_request(make_request: Any) -> Any:
    line = {**make_request().lines[1].model_dump(mode="json"), "unit_price": 900, "tax": 72}
    return make_request(lines=[line], amount_captured=18298)


def test_a_declined_refund_is_told_and_parked(
    make_ctx: Any, make_request: Any, engine: Engine, clock: ManualClock
) -> None:
    ctx: StageContext = dataclasses.replace(make_ctx(), gateway=DecliningGateway())
    return_id = submit_return(ctx.uow(), _cheap_request(make_request), now=clock.now(), due_at=clock.now()).return_id
    assert issue(ctx, return_id) is Status.REFUND_PENDING
    assert refunds.issue_refund(ctx, return_id) is Status.NEEDS_ATTENTION
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
        (refund,) = uow.stores.refunds(return_id)
        pending = [n.event for n in uow.stores.outgoing_notifications(uow.stores.pending_notifications(return_id))]
    assert ret.attention_cause is not None
    assert "card account closed" in ret.attention_cause
    assert refund.status == "failed"
    assert Status.REFUND_FAILED in pending  # the customer hears that the refund is delayed
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(SandboxRefundRow)) == 0


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (ProviderError("429", transient=True), True),
        (ProviderError("card declined", transient=False), False),
        (TimeoutError(), True),
        (ConnectionError(), True),
        (ValueError("bad"), False),
        (KeyError("x"), False),
    ],
)
def test_only_transient_errors_are_retried(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    first = [backoff_seconds(0) for _ in range(200)]
    assert min(first) >= 0.5
    assert max(first) < 1.5
    assert len({round(x, 6) for x in first}) > 100  # jittered
    assert all(30 <= backoff_seconds(10) < 90 for _ in range(50))


def test_a_task_failing_for_good_is_dead_lettered_and_its_return_parked(tmp_path: Path, make_request: Any) -> None:
    """The base task's own handling, run in the worker's code path (`apply`); delivery is covered in tests/e2e."""
    from rma.worker.app import TASK_MODULES, create_app  # noqa: PLC0415
    from rma.worker.runtime import configure, runtime_for  # noqa: PLC0415

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'fail.db'}", broker_url="memory://localhost/")
    app = create_app(settings)
    configure(app, settings)
    for module in TASK_MODULES:
        __import__(module)
    runtime = runtime_for(app)
    migrate.upgrade(runtime.engine)
    ctx = runtime.ctx
    return_id = submit_return(ctx.uow(), make_request(), now=ctx.clock.now(), due_at=ctx.clock.now()).return_id
    with ctx.uow() as uow:  # put it where an inspection is due
        ret = uow.returns.get(return_id)
        assert ret is not None
        for target in (Status.AUTHORIZED, Status.LABEL_ISSUED, Status.DELIVERED):
            ret.transition(target, at=ctx.clock.now() + timedelta(seconds=1), actor=Actor.SYSTEM, cause="test")
        uow.returns.save(ret)
        uow.commit()

    result = app.tasks["rma.inspection.inspect"].apply(kwargs={"return_id": str(return_id), "grade": "Z"})
    assert result.successful()  # acknowledged: poison does not block the queue
    with ctx.uow() as uow:
        parked = uow.returns.get(return_id)
        assert parked is not None
    assert parked.status is Status.NEEDS_ATTENTION
    assert parked.attention_cause is not None
    assert "'Z' is not a valid Grade" in parked.attention_cause
    with runtime.engine.connect() as conn:
        cause = conn.scalar(select(DeadLetterRow.cause).where(DeadLetterRow.return_id == return_id))
    assert cause is not None
    assert "ValueError" in cause

    missing = app.tasks["rma.labels.issue_label"].apply(kwargs={"return_id": str(uuid.uuid4())})
    assert missing.successful()
    with runtime.engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeadLetterRow)) == 2
    runtime.close()
