"""Faults on the real stack: a worker SIGKILLed mid-task, Redis flushed mid-run, poison messages on a stage queue.

Each ends with every return closed and every effect exactly once: one label per labelled return at the carrier, one
refund per refund decision at the gateway, one customer message per (return, event)."""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import Engine
from tests.e2e.conftest import RedisServer, Stack, audit, dump_logs, start_stack, wait_until

from rma.adapters.db.tables import DeadLetterRow, InspectionRow, LabelRow, NotificationRow, RefundRow, ReturnRow
from rma.adapters.sandbox.tables import SandboxLabelRow, SandboxMessageRow, SandboxRefundRow
from rma.demo.generate import generate
from rma.domain.inspection import Grade
from rma.domain.requests import ReturnRequest
from rma.supervisor import Supervisor

EXAMPLE = Path(__file__).parents[2] / "examples" / "return_request.json"
LABEL_STALL_SECONDS = 6


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    e2e_database: tuple[str, Engine],
    redis_server: RedisServer,
    keep_alive: Callable[[Supervisor], Iterator[None]],
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("faults"),
        e2e_database,
        redis_server,
        flower=False,
        # The labels worker stalls once, after the carrier sold the label and before the commit: the window to kill it.
        per_process_env={"worker-labels": {"RMA_FAULTS": f"labels.after_carrier=sleep-once:{LABEL_STALL_SECONDS}"}},
        RMA_SANDBOX_NEVER_SHIPPED="0",
        RMA_SANDBOX_LOST="0",
        RMA_SANDBOX_RETURNED_TO_SENDER="0",
        RMA_SANDBOX_DAMAGED="0",
    )
    restarter = keep_alive(running.supervisor)
    next(restarter)
    yield running
    next(restarter, None)
    running.supervisor.stop(timeout=60)


def _request(**overrides: Any) -> ReturnRequest:
    data = json.loads(EXAMPLE.read_text())
    today = datetime.now(UTC).date()
    data.update(
        upstream_request_id=f"fault-{uuid.uuid4().hex[:10]}",
        order_id=f"order-{uuid.uuid4().hex[:10]}",
        order_date=(today - timedelta(days=6)).isoformat(),
        delivery_date=(today - timedelta(days=3)).isoformat(),
        **overrides,
    )
    return ReturnRequest.model_validate(data)


def _assert_exactly_once(stack: Stack) -> None:
    assert stack.count(SandboxLabelRow) == stack.count(LabelRow, LabelRow.tracking_number.is_not(None))
    assert stack.count(SandboxRefundRow) == stack.count(RefundRow, RefundRow.status == "succeeded")
    assert stack.count(SandboxMessageRow) == stack.count(NotificationRow, NotificationRow.sent_at.is_not(None))


def _wait_closed(stack: Stack, ids: list[uuid.UUID], timeout: float) -> None:
    try:
        wait_until(
            lambda: stack.count(ReturnRow, ReturnRow.id.in_(ids), ReturnRow.status != "closed") == 0,
            timeout=timeout,
            what=f"{len(ids)} returns to close",
        )
    except AssertionError:
        print(dump_logs(stack))  # noqa: T201 - shown only when the test fails
        raise


def test_a_worker_killed_mid_task_loses_nothing_and_does_nothing_twice(stack: Stack) -> None:
    with stack.client() as client:
        return_id = client.submit(_request()).return_id
    # The carrier has sold the label; our commit has not happened: the labels worker is stalled in between.
    wait_until(
        lambda: stack.count(SandboxLabelRow) == 1 and stack.count(LabelRow, LabelRow.tracking_number.is_not(None)) == 0,
        timeout=30,
        what="the label to be sold but not yet recorded",
    )
    stack.supervisor.kill("worker-labels", signal.SIGKILL)
    wait_until(
        lambda: bool(stack.supervisor.check()) or stack.supervisor.restarts("worker-labels") >= 1,
        timeout=20,
        what="the labels worker restart",
    )

    _wait_closed(stack, [return_id], timeout=120)
    assert stack.count(SandboxLabelRow) == 1  # the retry found the carrier's label by its idempotency key
    assert stack.count(LabelRow, LabelRow.tracking_number.is_not(None)) == 1
    # The auto-inspector grades by a draw on the (random) return id: the few graded not refundable close unpaid.
    unpaid = stack.count(
        InspectionRow, InspectionRow.return_id == return_id, InspectionRow.grade == Grade.NOT_REFUNDABLE
    )
    assert stack.count(SandboxRefundRow) == 1 - unpaid
    _assert_exactly_once(stack)


def test_flushing_redis_mid_run_loses_no_return(stack: Stack) -> None:
    requests = generate(30, today=datetime.now(UTC).date(), seed=33)
    with stack.client() as client:
        ids = [s.return_id for s in client.submit_batch(requests)]
    wait_until(
        lambda: stack.count(ReturnRow, ReturnRow.id.in_(ids), ReturnRow.status == "requested") < len(ids),
        timeout=30,
        what="the run to get going",
    )
    stack.redis.client().flushall()  # every queued message, every unacknowledged one: gone
    _wait_closed(stack, ids, timeout=180)
    _assert_exactly_once(stack)


def test_poison_messages_are_dead_lettered_and_the_queue_keeps_moving(stack: Stack) -> None:
    before = stack.count(DeadLetterRow)
    headers = {"task": "rma.notify.send", "id": str(uuid.uuid4()), "lang": "py"}
    with Connection(stack.redis.url) as conn:
        producer = conn.Producer()
        producer.publish(
            pickle.dumps(((), {"return_id": str(uuid.uuid4())}, {})),
            routing_key="rma.notify",
            exchange="",
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={**headers, "id": str(uuid.uuid4())},
        )
        producer.publish(
            b'[[], {"return_id": ',  # truncated JSON
            routing_key="rma.notify",
            exchange="",
            content_type="application/json",
            content_encoding="utf-8",
            headers={**headers, "id": str(uuid.uuid4())},
        )
        producer.publish(
            b'[[], {"return_id": "not-a-uuid"}, {}]',
            routing_key="rma.notify",
            exchange="",
            content_type="application/json",
            content_encoding="utf-8",
            headers={**headers, "id": str(uuid.uuid4())},
        )
    wait_until(lambda: stack.count(DeadLetterRow) >= before + 3, timeout=30, what="three dead letters")

    listed = subprocess.run(  # the operator's view
        [sys.executable, "-m", "rma.cli.main", "dlq", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={**stack.env, "PATH": "/usr/bin:/bin"},
    )
    causes = [row["cause"] for row in json.loads(listed.stdout)]
    assert any("pickle" in cause or "ContentDisallowed" in cause for cause in causes), causes
    assert any("undecodable" in cause for cause in causes), causes
    assert any("badly formed hexadecimal UUID" in cause for cause in causes), causes

    # Replaying a dead letter sends it again; this one is still broken, so it comes back as a new dead letter.
    bad_id = next(row["id"] for row in json.loads(listed.stdout) if "hexadecimal UUID" in row["cause"])
    replayed = subprocess.run(
        [sys.executable, "-m", "rma.cli.main", "dlq", "replay", str(bad_id)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**stack.env, "PATH": "/usr/bin:/bin"},
    )
    assert replayed.returncode == 0, replayed.stderr
    wait_until(lambda: stack.count(DeadLetterRow) >= before + 4, timeout=30, what="the replayed message to fail again")
    assert stack.count(DeadLetterRow, DeadLetterRow.replayed_at.is_not(None)) == 1

    with stack.client() as client:  # the queue kept moving
        return_id = client.submit(_request()).return_id
    _wait_closed(stack, [return_id], timeout=90)


def test_the_audit_finds_the_run_sound(stack: Stack) -> None:
    code, report = audit(stack)
    assert code == 0, report["violations"]
    assert report["sound"] is True
    assert len(report["dead_letters"]) >= 3  # the poison messages, listed


# One real task per stage queue, and arguments of the wrong shape for it.
_WRONG_SCHEMA = {
    "rma.intake": ("rma.intake.submit", {"request": {"bogus": 1}}),
    "rma.issuance": ("rma.issuance.issue", {"return_id": 42}),
    "rma.labels": ("rma.labels.issue_label", {"return_id": 42}),
    "rma.tracking": ("rma.tracking.poll", {"return_ids": "not-a-list"}),
    "rma.inspection": ("rma.inspection.inspect", {"return_id": 42}),
    "rma.refunds": ("rma.refunds.issue_refund", {"return_id": 42}),
    "rma.notify": ("rma.notify.send", {"return_id": 42}),
    "rma.maintenance": ("rma.maintenance.close", {"return_id": 42}),
}


def test_bad_messages_on_every_stage_queue_are_dead_lettered(stack: Stack) -> None:
    before = stack.count(DeadLetterRow)
    oversized = "x" * 1_000_000
    with Connection(stack.redis.url) as conn:
        producer = conn.Producer()
        for queue, (task, wrong_kwargs) in _WRONG_SCHEMA.items():

            def publish(body: bytes, content_type: str, *, task: str = task, queue: str = queue) -> None:
                producer.publish(
                    body,
                    routing_key=queue,
                    exchange="",
                    content_type=content_type,
                    content_encoding="binary" if "python" in content_type else "utf-8",
                    headers={"task": task, "id": str(uuid.uuid4()), "lang": "py"},
                )

            publish(pickle.dumps(((), {"return_id": str(uuid.uuid4())}, {})), "application/x-python-serialize")
            publish(b'[[], {"return_id": ', "application/json")
            publish(json.dumps([[], wrong_kwargs, {}]).encode(), "application/json")
            publish(json.dumps([[], {"return_id": oversized}, {}]).encode(), "application/json")
    expected = before + 4 * len(_WRONG_SCHEMA)
    wait_until(lambda: stack.count(DeadLetterRow) >= expected, timeout=60, what="a dead letter per bad message")
    assert stack.count(DeadLetterRow) == expected  # nothing else failed along the way

    with stack.client() as client:  # every queue kept moving: a fresh return goes all the way
        return_id = client.submit(_request()).return_id
    _wait_closed(stack, [return_id], timeout=90)
