"""The real stack against the fake EasyPost server: worker processes buying return labels and polling trackers through
one shared rate limit, a labels worker SIGKILLed between the purchase and our commit, a refused address, signed
webhooks through the API. The fake counts what it was sent: one purchase per return, never above the account limit."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from tests.e2e.conftest import (
    API_KEY,
    CLOCK_SPEED,
    RedisServer,
    Stack,
    audit,
    dump_logs,
    start_stack,
    wait_until,
)

from rma.adapters.clock import AcceleratedClock
from rma.adapters.db.tables import LabelRow, ReturnRow, TimelineRow
from rma.adapters.easypost.fake_server import FakeEasyPost
from rma.adapters.easypost.webhook import SIGNATURE_HEADER, sign
from rma.domain.requests import ReturnRequest
from rma.supervisor import ProcessSpec, Supervisor

EXAMPLE = Path(__file__).parents[2] / "examples" / "return_request.json"
ACCOUNT_LIMIT = 12  # requests per clock second the fake takes before answering 429
# Configured a little below the account's, as an operator does (and the limiter keeps 10% below that): a request is
# granted a network hop, and on a loaded machine some hundreds of milliseconds, before the carrier counts it.
OUR_LIMIT = 10
STALL_SECONDS = 6
WEBHOOK_SECRET = "whsec-e2e"  # noqa: S105 - a test secret


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeEasyPost]:
    # In a process of its own, as a carrier is: sharing the test process's GIL would bunch its arrivals.
    with FakeEasyPost(api_key="EZTKe2e", rate_limit=ACCOUNT_LIMIT, clock_speed=CLOCK_SPEED, in_process=False) as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    e2e_database: tuple[str, Engine],
    redis_server: RedisServer,
    keep_alive: Callable[[Supervisor], Iterator[None]],
    fake: FakeEasyPost,
) -> Iterator[Stack]:
    running = start_stack(
        tmp_path_factory.mktemp("easypost"),
        e2e_database,
        redis_server,
        flower=False,
        per_process_env={"worker-labels": {"RMA_FAULTS": f"labels.after_carrier=sleep-once:{STALL_SECONDS}"}},
        RMA_CARRIER="easypost",
        RMA_EASYPOST_API_KEY="EZTKe2e",
        RMA_EASYPOST_API_BASE=fake.api_base,
        RMA_EASYPOST_TIMEOUT_SECONDS="5",
        RMA_EASYPOST_WEBHOOK_SECRET=WEBHOOK_SECRET,
        RMA_CARRIER_RATE_LIMIT=str(OUR_LIMIT),
        RMA_LABEL_CARRIERS="USPS",
    )
    # A second labels worker: three processes (two label workers and the tracking worker) share one account limit.
    labels = running.supervisor.spec("worker-labels")
    running.supervisor.add(ProcessSpec("worker-labels-2", labels.argv, {**labels.env, "RMA_FAULTS": ""}))
    restarter = keep_alive(running.supervisor)
    next(restarter)
    yield running
    next(restarter, None)
    running.supervisor.stop(timeout=60)


def _request(stack: Stack, **overrides: Any) -> ReturnRequest:
    """Dated by the stack's clock (two days per second): a request dated by the wall clock would be out of its
    return window a minute into the run."""
    data = json.loads(EXAMPLE.read_text())
    clock = AcceleratedClock(epoch=float(stack.env["RMA_CLOCK_EPOCH"]), speed=float(stack.env["RMA_CLOCK_SPEED"]))
    today = clock.now().date()
    data.update(
        upstream_request_id=f"ep-{uuid.uuid4().hex[:10]}",
        order_id=f"order-{uuid.uuid4().hex[:10]}",
        order_date=(today - timedelta(days=6)).isoformat(),
        delivery_date=(today - timedelta(days=3)).isoformat(),
        **overrides,
    )
    return ReturnRequest.model_validate(data)


def _wait(stack: Stack, predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    try:
        wait_until(predicate, timeout=timeout, what=what)
    except AssertionError:
        with stack.engine.connect() as conn:
            rows = conn.execute(select(TimelineRow.return_id, TimelineRow.to_status, TimelineRow.cause)).all()
        queues = {name.decode(): stack.redis.client().llen(name) for name in stack.redis.client().keys("rma.*")}
        print("returns:", rows, "queues:", queues)  # noqa: T201 - shown only when the test fails
        print(dump_logs(stack))  # noqa: T201
        raise


def test_a_labels_worker_killed_after_the_purchase_buys_no_second_label(stack: Stack, fake: FakeEasyPost) -> None:
    with stack.client() as client:
        return_id = client.submit(_request(stack)).return_id
    rma_number = lambda: stack.scalar(select(ReturnRow.rma_number).where(ReturnRow.id == return_id))  # noqa: E731
    # EasyPost sold the label; our commit has not happened: the labels worker is stalled in between.
    _wait(
        stack,
        lambda: (
            fake.stats()["purchases"]["per_reference"].get(rma_number() or "-", 0) == 1
            and stack.count(LabelRow, LabelRow.tracking_number.is_not(None)) == 0
        ),
        timeout=60,
        what="the label to be bought but not yet recorded",
    )
    stack.supervisor.kill("worker-labels", signal.SIGKILL)
    _wait(
        stack,
        lambda: stack.count(ReturnRow, ReturnRow.id == return_id, ReturnRow.status == "closed") == 1,
        timeout=180,
        what="the return to close",
    )
    stats = fake.stats()
    assert stats["purchases"]["per_reference"][rma_number()] == 1  # the retry found the shipment bought
    assert stats["shipments"]["per_idempotency_key"][f"lbl-{return_id.hex}"] == 1  # and opened no second one
    label = stack.scalar(select(LabelRow.tracking_number).where(LabelRow.return_id == return_id))
    assert label in {item["tracking_code"] for item in stats["labels"]}
    # EasyPost's own label (a PDF) and USPS's QR code for label-less drop-off, both served by the API.
    page = httpx.get(f"{stack.api_url}/v1/returns/{return_id}", headers={"X-API-Key": API_KEY}, timeout=10).json()
    assert (page["label"]["carrier"], page["label"]["format"]) == ("easypost", "PDF")
    assert page["label"]["service"].startswith("USPS ")
    pdf = httpx.get(f"{stack.api_url}{page['label']['url']}", headers={"X-API-Key": API_KEY}, timeout=10)
    assert pdf.content.startswith(b"%PDF")
    qr = httpx.get(f"{stack.api_url}{page['label']['qr_code_url']}", headers={"X-API-Key": API_KEY}, timeout=10)
    assert (qr.status_code, qr.headers["content-type"]) == (200, "image/png")


def test_an_address_the_carrier_refuses_parks_the_return_with_its_words(stack: Stack, fake: FakeEasyPost) -> None:
    bad = _request(stack).model_dump(mode="json")
    bad["return_from"]["postal_code"] = "00000"
    with stack.client() as client:
        return_id = client.submit(ReturnRequest.model_validate(bad)).return_id
    _wait(
        stack,
        lambda: stack.count(ReturnRow, ReturnRow.id == return_id, ReturnRow.status == "needs_attention") == 1,
        timeout=60,
        what="the return to be parked",
    )
    cause = stack.scalar(select(ReturnRow.attention_cause).where(ReturnRow.id == return_id))
    assert cause.startswith("the carrier refused the label:")
    assert "ADDRESS" in cause
    assert "00000" not in cause  # the carrier's words, not the customer's address
    rma = stack.scalar(select(ReturnRow.rma_number).where(ReturnRow.id == return_id))
    assert rma not in fake.stats()["purchases"]["per_reference"]


def test_three_processes_share_the_account_limit_and_drop_nothing(stack: Stack, fake: FakeEasyPost) -> None:
    with stack.client() as client:
        ids = [client.submit(_request(stack)).return_id for _ in range(30)]
    _wait(
        stack,
        lambda: stack.count(ReturnRow, ReturnRow.id.in_(ids), ReturnRow.status != "closed") == 0,
        timeout=300,
        what="30 returns to close through the shared limit",
    )
    requests = fake.stats()["requests"]
    print("carrier requests:", requests)  # noqa: T201 - the figures, shown with -s or on failure
    # Never above the account's limit in any second the carrier counts, so it never had to refuse a request. (A
    # sliding 1-second window over arrival times can hold a few more: a thread granted its request near the end of
    # one window may send it a few hundred milliseconds later, with the cores busy.)
    assert max(requests["per_second"].values()) <= ACCOUNT_LIMIT
    assert requests["rate_limited"] == 0
    assert requests["answered_429"] == 0
    assert requests["total"] >= 30 * 3  # every label was opened, bought and its parcel tracked: nothing dropped
    purchases = fake.stats()["purchases"]["per_reference"]
    assert {reference: count for reference, count in purchases.items() if count != 1} == {}


def test_signed_webhooks_move_parcels_and_duplicates_change_nothing(stack: Stack) -> None:
    with stack.client() as client:
        return_id = client.submit(_request(stack)).return_id
    _wait(
        stack,
        lambda: stack.count(LabelRow, LabelRow.return_id == return_id, LabelRow.tracking_number.is_not(None)) == 1,
        timeout=60,
        what="the label",
    )
    url = f"{stack.api_url}/v1/carriers/easypost/webhook"
    tracking = stack.scalar(select(LabelRow.tracking_number).where(LabelRow.return_id == return_id))
    event = {
        "object": "Event",
        "id": f"evt_{uuid.uuid4().hex[:12]}",
        "description": "tracker.updated",
        "result": _tracker(tracking),
    }
    body = json.dumps(event).encode()
    unsigned = httpx.post(url, content=body, timeout=10)
    assert unsigned.status_code == 401
    tampered = httpx.post(
        url, content=body.replace(b"in_transit", b"delivered"), headers={SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)}
    )
    assert tampered.status_code == 401
    first = httpx.post(url, content=body, headers={SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)}, timeout=10)
    again = httpx.post(url, content=body, headers={SIGNATURE_HEADER: sign(body, WEBHOOK_SECRET)}, timeout=10)
    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert again.json()["status"] == "duplicate"
    _wait(
        stack,
        lambda: any(e["message"] == "Picked up by the e2e webhook" for e in _parcel_events(stack, return_id)),
        timeout=30,
        what="the webhook's scan in the return's history",
    )
    events = _parcel_events(stack, return_id)
    assert sum(1 for e in events if e["message"] == "Picked up by the e2e webhook") == 1


def test_the_audit_finds_the_run_sound(stack: Stack) -> None:
    code, report = audit(stack)
    assert report["violations"]["voided_shipped_labels"] == 0
    assert report["violations"]["unused_labels_not_voided"] == 0
    assert "duplicate_labels" in report["unchecked"]  # a real account's records are not read by `rma audit`
    assert code == 0, report


def _tracker(tracking_code: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "object": "Tracker",
        "id": f"trk_{uuid.uuid4().hex[:12]}",
        "tracking_code": tracking_code,
        "carrier": "USPS",
        "status": "in_transit",
        "status_detail": "arrived_at_facility",
        "est_delivery_date": None,
        "updated_at": now,
        "tracking_details": [
            {
                "object": "TrackingDetail",
                "datetime": now,
                "status": "in_transit",
                "status_detail": "arrived_at_facility",
                "message": "Picked up by the e2e webhook",
                "tracking_location": {"city": "SPARKS", "state": "NV", "country": "US", "zip": None},
            }
        ],
    }


def _parcel_events(stack: Stack, return_id: uuid.UUID) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.api_url}/v1/returns/{return_id}", headers={"X-API-Key": API_KEY}, timeout=10)
    parcel = response.json()["parcel"]
    return [] if parcel is None else parcel["events"]
