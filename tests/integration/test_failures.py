"""Permanent failures park the return in needs_attention with the cause; transient ones are retried."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from tests.conftest import ManualClock

from rma.adapters.db.tables import DeadLetterRow
from rma.adapters.sandbox.tables import SandboxRefundRow
from rma.bootstrap import prepare_database
from rma.config import Settings
from rma.domain.lifecycle import Actor, Status
from rma.ports.providers import GatewayRefund, ProviderError, RefundDeclined, RefundOrder
from rma.services import refunds
from rma.services.context import StageContext
from rma.services.flow import INSPECT_MANY
from rma.services.intake import submit_return
from rma.services.issuance import issue
from rma.worker.base import backoff_seconds, is_transient


class DecliningGateway:
    def refund_many(self, orders: Sequence[RefundOrder]) -> dict[str, GatewayRefund | RefundDeclined]:
        return {
            order.idempotency_key: RefundDeclined(f"card account closed for {order.idempotency_key}")
            for order in orders
        }

    def find_refunds(self, idempotency_keys: Sequence[str]) -> dict[str, GatewayRefund]:  # noqa: ARG002
        return {}


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
        (refund,) = uow.refunds.of_return(return_id)
        pending = [n.event for n in uow.notifications.outgoing(uow.notifications.pending(return_id))]
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


def _worker_app(tmp_path: Path, *, auto_inspect: bool) -> Iterator[Any]:
    from rma.worker.app import TASK_MODULES, create_app  # noqa: PLC0415
    from rma.worker.runtime import configure, runtime_for  # noqa: PLC0415

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'fail.db'}", broker_url="memory://localhost/", auto_inspect=auto_inspect
    )
    app = create_app(settings)
    configure(app, settings)
    for module in TASK_MODULES:
        __import__(module)
    runtime = runtime_for(app)
    prepare_database(settings, runtime.engine)
    yield app
    runtime.close()


@pytest.fixture
def worker_app(tmp_path: Path) -> Iterator[Any]:
    """The worker's Celery app on a SQLite file, tasks run in the worker's code path with `apply`; the sandbox
    auto-inspector runs (the batch inspection task is its)."""
    yield from _worker_app(tmp_path, auto_inspect=True)


@pytest.fixture
def production_worker_app(tmp_path: Path) -> Iterator[Any]:
    """The same without any sandbox stand-in for people: grades come from people only."""
    yield from _worker_app(tmp_path, auto_inspect=False)


def _delivered(ctx: StageContext, make_request: Any, *, inspection_record: bool) -> uuid.UUID:
    """An authorized return put where an inspection is due (with or without the warehouse's inspection record)."""
    today = ctx.clock.now().date()
    request = make_request(
        order_id=f"o-{uuid.uuid4().hex[:8]}",
        order_date=(today - timedelta(days=6)).isoformat(),
        delivery_date=(today - timedelta(days=3)).isoformat(),
    )
    return_id = submit_return(ctx.uow(), request, now=ctx.clock.now(), due_at=ctx.clock.now()).return_id
    assert issue(ctx, return_id) is Status.AUTHORIZED
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
        for target in (Status.LABEL_ISSUED, Status.DELIVERED):
            ret.transition(target, at=ctx.clock.now() + timedelta(seconds=1), actor=Actor.SYSTEM, cause="test")
        uow.returns.save(ret)
        if inspection_record:
            uow.inspections.open(return_id, due_at=ctx.clock.now() + timedelta(days=2), auto_inspect_at=None)
        uow.commit()
    return return_id


def _dead_letters(app: Any) -> list[tuple[uuid.UUID | None, str]]:
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    with runtime_for(app).engine.connect() as conn:
        return [(rid, cause) for rid, cause in conn.execute(select(DeadLetterRow.return_id, DeadLetterRow.cause))]


def test_a_task_failing_for_good_is_dead_lettered_and_its_return_parked(worker_app: Any, make_request: Any) -> None:
    """The base task's own handling, run in the worker's code path (`apply`); delivery is covered in tests/e2e."""
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    ctx = runtime_for(worker_app).ctx
    return_id = _delivered(ctx, make_request, inspection_record=False)

    result = worker_app.tasks["rma.inspection.inspect"].apply(kwargs={"return_id": str(return_id), "grade": "Z"})
    assert result.successful()  # acknowledged: poison does not block the queue
    with ctx.uow() as uow:
        parked = uow.returns.get(return_id)
        assert parked is not None
    assert parked.status is Status.NEEDS_ATTENTION
    assert parked.attention_cause is not None
    assert "'Z' is not a valid Grade" in parked.attention_cause
    (letter,) = _dead_letters(worker_app)
    assert letter[0] == return_id
    assert "ValueError" in letter[1]

    missing = worker_app.tasks["rma.labels.issue_label"].apply(kwargs={"return_id": str(uuid.uuid4())})
    assert missing.successful()
    assert len(_dead_letters(worker_app)) == 2


def test_a_batch_spoiled_by_one_return_moves_the_others_and_dead_letters_only_that_one(
    worker_app: Any, make_request: Any
) -> None:
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    ctx = runtime_for(worker_app).ctx
    good = [_delivered(ctx, make_request, inspection_record=True) for _ in range(3)]
    spoiler = _delivered(ctx, make_request, inspection_record=False)  # the warehouse never opened its record
    unknown = uuid.uuid4()
    ids = [str(good[0]), str(spoiler), "not-a-uuid", str(good[1]), str(unknown), str(good[2])]

    result = worker_app.tasks[INSPECT_MANY].apply(kwargs={"return_ids": ids})

    assert result.successful()
    assert result.result == 5  # the five well-formed ids were taken
    with ctx.uow() as uow:
        statuses = {rid: ret.status for rid, ret in uow.returns.get_many([*good, spoiler]).items()}
    # graded by the auto-inspector: a refund is owed (refund_pending), or, for the few it grades not refundable, closed
    assert all(statuses[rid] in {Status.REFUND_PENDING, Status.CLOSED} for rid in good)
    assert statuses[spoiler] is Status.NEEDS_ATTENTION
    letters = _dead_letters(worker_app)
    assert sorted(str(rid) for rid, _ in letters) == sorted([str(spoiler), str(unknown), "None"])
    causes = " | ".join(cause for _, cause in letters)
    assert "has no inspection record" in causes
    assert "badly formed hexadecimal UUID string" in causes
    assert f"no return {unknown}" in causes


@pytest.mark.parametrize("kwargs", [{}, {"grade": None}], ids=["no grade", "grade null"])
def test_an_inspection_message_without_a_grade_is_dead_lettered_not_graded(
    production_worker_app: Any, make_request: Any, kwargs: dict[str, Any]
) -> None:
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    ctx = runtime_for(production_worker_app).ctx
    return_id = _delivered(ctx, make_request, inspection_record=True)

    result = production_worker_app.tasks["rma.inspection.inspect"].apply(kwargs={"return_id": str(return_id), **kwargs})

    assert result.successful()  # acknowledged: the queue moves on
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
        assert uow.refunds.of_return(return_id) == []  # nothing refunded for an item nobody graded
    assert ret.status is Status.NEEDS_ATTENTION
    ((letter_return, cause),) = _dead_letters(production_worker_app)
    assert letter_return == return_id
    assert "a grade is required" in cause


def test_the_auto_inspectors_batch_task_is_refused_where_no_auto_inspector_runs(
    production_worker_app: Any, make_request: Any
) -> None:
    from rma.worker.runtime import runtime_for  # noqa: PLC0415

    ctx = runtime_for(production_worker_app).ctx
    return_id = _delivered(ctx, make_request, inspection_record=True)

    result = production_worker_app.tasks[INSPECT_MANY].apply(kwargs={"return_ids": [str(return_id)]})

    assert result.successful()
    assert _status_of(ctx, return_id) is Status.NEEDS_ATTENTION
    ((_, cause),) = _dead_letters(production_worker_app)
    assert "no auto-inspector runs here" in cause


def _status_of(ctx: StageContext, return_id: uuid.UUID) -> Status:
    with ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
        return ret.status


class RecordingPublisher:
    """The publisher port, recording what it was asked to send."""

    def __init__(self) -> None:
        self.tasks: list[tuple[str, dict[str, Any]]] = []
        self.raw: list[tuple[bytes, str, str]] = []

    def publish(self, messages: Sequence[dict[str, Any]]) -> None:  # noqa: ARG002
        raise AssertionError("a replay sends one message by name or as it was")

    def send_task(self, task: str, kwargs: dict[str, Any]) -> None:
        self.tasks.append((task, kwargs))

    def send_raw(self, body: bytes, *, queue: str, content_type: str) -> None:
        self.raw.append((body, queue, content_type))


def test_a_dead_letter_is_replayed_once_by_name_or_as_it_was(ctx: StageContext) -> None:
    from rma.ports.stores import DeadLetter  # noqa: PLC0415
    from rma.services import dead_letters  # noqa: PLC0415

    by_name = dead_letters.record(
        ctx, DeadLetter(cause="boom", task_name="rma.labels.issue_label", kwargs={"return_id": "r-1"})
    )
    undecodable = dead_letters.record(
        ctx, DeadLetter(cause="not JSON", queue="rma.intake", content_type="text/plain", raw_body=b"\xff{")
    )
    empty = dead_letters.record(ctx, DeadLetter(cause="nothing to send"))
    publisher = RecordingPublisher()

    dead_letters.replay(ctx, publisher, by_name)
    dead_letters.replay(ctx, publisher, undecodable)

    assert publisher.tasks == [("rma.labels.issue_label", {"return_id": "r-1"})]
    assert publisher.raw == [(b"\xff{", "rma.intake", "text/plain")]
    assert [r.id for r in dead_letters.recent(ctx, limit=10, include_replayed=False)] == [empty]
    assert len(dead_letters.recent(ctx, limit=10, include_replayed=True)) == 3
    for letter_id, refused in ((by_name, "already replayed"), (empty, "neither a task"), (999_999, "no dead letter")):
        with pytest.raises(dead_letters.ReplayError, match=refused):
            dead_letters.replay(ctx, publisher, letter_id)
    assert len(publisher.tasks) + len(publisher.raw) == 2  # nothing sent twice, nothing sent for the refusals
