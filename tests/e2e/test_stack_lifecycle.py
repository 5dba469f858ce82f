"""Returns entered through the HTTP API travel through every real stage worker to their final status."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from tests.e2e.conftest import RedisServer, Stack, audit, dump_logs, start_stack, wait_until

from rma.adapters.db.audit import finished_returns
from rma.adapters.db.tables import DeadLetterRow, LabelRow, NotificationRow, OutboxRow, RefundRow, ReturnRow
from rma.adapters.sandbox.tables import SandboxLabelRow, SandboxMessageRow, SandboxRefundRow
from rma.demo.generate import generate
from rma.services import flow
from rma.worker.launch import STAGES

RETURNS = 40


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, e2e_database: tuple[str, Engine], redis_server: RedisServer
) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("stack")
    running = start_stack(tmp, e2e_database, redis_server, flower=True)
    yield running
    codes = running.supervisor.stop(timeout=60)
    assert all(code in (0, -15) for code in codes.values()), codes  # warm shutdown, no crash


def _all_final(stack: Stack) -> bool:
    """Every return closed and its customer told everything (messages go out in batches, a moment later)."""
    with stack.engine.connect() as conn:
        return finished_returns(conn) == stack.count(ReturnRow)


@pytest.fixture(scope="module")
def finished(stack: Stack) -> list[uuid.UUID]:
    requests = generate(RETURNS, today=datetime.now(UTC).date(), seed=21)
    with stack.client() as client:
        submissions = client.submit_batch(requests[: RETURNS // 2])
        submissions += [client.submit(request) for request in requests[RETURNS // 2 :]]
    assert all(s.created for s in submissions)
    try:
        wait_until(lambda: _all_final(stack), timeout=180, what="every return to close")
    except AssertionError:
        print(dump_logs(stack))  # noqa: T201 - shown only when the test fails
        raise
    return [s.return_id for s in submissions]


def test_every_return_reaches_closed(stack: Stack, finished: list[uuid.UUID]) -> None:
    assert stack.count(ReturnRow) == RETURNS
    assert stack.count(ReturnRow, ReturnRow.status == "closed") == RETURNS
    with stack.client() as client:
        detail = client.get(str(finished[0]))
    assert detail["status"] == "closed"
    assert detail["timeline"][0]["to_status"] == "requested"


@pytest.mark.usefixtures("finished")
def test_effects_happened_exactly_once(stack: Stack) -> None:
    labelled = stack.count(LabelRow, LabelRow.tracking_number.is_not(None))
    assert labelled > 0
    assert stack.count(SandboxLabelRow) == labelled  # the carrier sold one label per labelled return
    paid = stack.count(RefundRow, RefundRow.status == "succeeded")
    assert paid > 0
    assert stack.count(SandboxRefundRow) == paid  # the gateway paid each refund decision once
    assert stack.count(NotificationRow, NotificationRow.sent_at.is_(None)) == 0
    assert stack.count(SandboxMessageRow) == stack.count(NotificationRow)  # one message per (return, event)
    assert stack.count(DeadLetterRow) == 0
    # A published message's outbox row is deleted a moment later, in a batch (or by the relay's sweep): the last
    # dispatch tick's may still be there when its messages are already sent.
    wait_until(lambda: stack.count(OutboxRow) == 0, timeout=10, what="the outbox to empty")


def test_every_task_run_again_changes_nothing(stack: Stack, finished: list[uuid.UUID]) -> None:
    from rma.config import Settings  # noqa: PLC0415
    from rma.worker.app import create_app  # noqa: PLC0415

    before = _fingerprint(stack)
    app = create_app(Settings(broker_url=stack.env["RMA_BROKER_URL"]))
    for return_id in finished[:10]:
        kwargs = {"return_id": str(return_id)}
        for task in (flow.ISSUE, flow.ISSUE_LABEL, flow.REFUND, flow.NOTIFY, flow.CLOSE):
            app.send_task(task, kwargs=kwargs)
        # An inspection message always names its grade (one without is a bad message, dead-lettered).
        app.send_task(flow.INSPECT, kwargs={**kwargs, "grade": "A", "inspector": "e2e"})
        app.send_task(flow.POLL, kwargs={"return_ids": [str(return_id)]})
    app.send_task("rma.tracking.tick")
    app.send_task("rma.maintenance.reconcile")
    time.sleep(6)
    wait_until(lambda: stack.redis.client().llen("rma.notify") == 0, timeout=30, what="the notify queue to drain")
    assert _fingerprint(stack) == before


def _fingerprint(stack: Stack) -> dict[str, Any]:
    return {
        "labels": stack.count(SandboxLabelRow),
        "refunds": stack.count(SandboxRefundRow),
        "messages": stack.count(SandboxMessageRow),
        "closed": stack.count(ReturnRow, ReturnRow.status == "closed"),
        "versions": stack.scalar(select(ReturnRow.version).order_by(ReturnRow.version.desc()).limit(1)),
        "dead_letters": stack.count(DeadLetterRow),
    }


@pytest.mark.usefixtures("finished")
def test_flower_shows_every_stage_worker_behind_basic_auth(stack: Stack) -> None:
    assert httpx.get(f"{stack.flower_url}/api/workers", timeout=10).status_code == 401
    workers: dict[str, Any] = {}

    def all_listed() -> bool:
        nonlocal workers
        response = httpx.get(
            f"{stack.flower_url}/api/workers", params={"refresh": "1"}, auth=("ops", "e2e-flower"), timeout=10
        )
        workers = response.json() if response.status_code == 200 else {}
        return {name.split("@")[0] for name in workers} >= set(STAGES)

    wait_until(all_listed, timeout=30, what="Flower to list every stage worker")
    queues = {q["name"] for info in workers.values() for q in info.get("active_queues", [])}
    assert queues >= {f"rma.{stage}" for stage in STAGES}


def test_an_upstream_can_submit_by_celery_message(stack: Stack) -> None:
    """The documented message contract, published by a plain Celery client that imports nothing of ours."""
    from celery import Celery  # noqa: PLC0415

    upstream = Celery("upstream", broker=stack.env["RMA_BROKER_URL"])
    upstream.conf.update(task_serializer="json")
    good = generate(1, today=datetime.now(UTC).date(), seed=77)[0].model_dump(mode="json")
    bad = {**good, "upstream_request_id": "bad-by-message", "currency": "DOLLARS"}
    for request in (good, bad):
        upstream.send_task(
            "rma.intake.submit", kwargs={"request": request}, queue="rma.intake", kwargsrepr="{'request': '...'}"
        )
    wait_until(
        lambda: stack.count(ReturnRow, ReturnRow.upstream_request_id == good["upstream_request_id"]) == 1,
        timeout=30,
        what="the message to be stored",
    )
    wait_until(
        lambda: stack.count(ReturnRow, ReturnRow.status != "closed") == 0, timeout=120, what="the return to close"
    )
    wait_until(lambda: stack.count(DeadLetterRow) == 1, timeout=30, what="the invalid message to be dead-lettered")
    cause = stack.scalar(select(DeadLetterRow.cause))
    assert "currency" in cause
    assert "@" not in cause  # no personal data echoed into the cause
    assert stack.count(ReturnRow, ReturnRow.upstream_request_id == "bad-by-message") == 0


def test_the_audit_finds_the_run_sound(stack: Stack) -> None:
    code, report = audit(stack)
    assert code == 0, report["violations"]
    assert report["sound"] is True
    assert all(count == 0 for count in report["violations"].values())
