"""`POST /v1/carriers/{carrier}/webhook`: signed by the carrier account's secret, kept by event id, answered fast (the
work is queued for the tracking stage), bad bodies refused with their cause."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.app.api_support import count

from rma.adapters.db.tables import CarrierEventRow, OutboxRow
from rma.adapters.easypost.webhook import SIGNATURE_HEADER, EasyPostWebhook, sign
from rma.api import create_api
from rma.bootstrap import Runtime
from rma.services.flow import APPLY_CARRIER_EVENTS

SECRET = "whsec-test"  # noqa: S105 - a test secret
URL = "/v1/carriers/easypost/webhook"


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    runtime.webhooks = {"easypost": EasyPostWebhook(SECRET)}
    yield TestClient(create_api(runtime, api_keys=frozenset({"k"})))
    runtime.webhooks = {}


def _event(event_id: str = "evt_1", description: str = "tracker.updated", status: str = "in_transit") -> bytes:
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC).isoformat()
    tracker = {
        "object": "Tracker",
        "id": "trk_1",
        "tracking_code": "9400111000000000000001",
        "carrier": "USPS",
        "status": status,
        "status_detail": "arrived_at_facility",
        "est_delivery_date": None,
        "updated_at": at,
        "tracking_details": [
            {
                "object": "TrackingDetail",
                "datetime": at,
                "status": status,
                "status_detail": "arrived_at_facility",
                "message": "Arrived at USPS facility",
                "tracking_location": {"city": "RENO", "state": "NV", "country": "US", "zip": "89502"},
            }
        ],
    }
    return json.dumps({"object": "Event", "id": event_id, "description": description, "result": tracker}).encode()


def test_a_signed_event_is_kept_once_and_queued_for_the_tracking_stage(client: TestClient, runtime: Runtime) -> None:
    body = _event()
    first = client.post(URL, content=body, headers={SIGNATURE_HEADER: sign(body, SECRET)})
    again = client.post(URL, content=body, headers={SIGNATURE_HEADER: sign(body, SECRET)})
    assert (first.status_code, first.json()) == (200, {"status": "accepted", "event_id": "evt_1"})
    assert again.json() == {"status": "duplicate", "event_id": "evt_1"}
    assert count(runtime, CarrierEventRow) == 1
    with runtime.engine.connect() as conn:
        messages = conn.scalars(select(OutboxRow.message)).all()
    steps = [step for message in messages for step in message["chain"] if step["task"] == APPLY_CARRIER_EVENTS]
    assert [step["kwargs"] for step in steps] == [{"events": [["easypost", "evt_1"]]}]  # ids only, no content


def test_an_unsigned_or_tampered_event_is_refused(client: TestClient, runtime: Runtime) -> None:
    body = _event()
    assert client.post(URL, content=body).status_code == 401
    tampered = body.replace(b"in_transit", b"delivered")
    refused = client.post(URL, content=tampered, headers={SIGNATURE_HEADER: sign(body, SECRET)})
    assert refused.status_code == 401
    assert "signature" in refused.json()["error"]
    assert client.post(URL, content=body, headers={SIGNATURE_HEADER: sign(body, "other")}).status_code == 401
    assert count(runtime, CarrierEventRow) == 0


def test_a_malformed_event_is_422_with_its_cause_and_other_kinds_are_ignored(client: TestClient) -> None:
    broken = b'{"object": "Event", "id": "evt_2"'
    answer = client.post(URL, content=broken, headers={SIGNATURE_HEADER: sign(broken, SECRET)})
    assert answer.status_code == 422
    assert "not JSON" in answer.json()["error"]
    other = _event("evt_3", description="batch.updated")
    ignored = client.post(URL, content=other, headers={SIGNATURE_HEADER: sign(other, SECRET)})
    assert (ignored.status_code, ignored.json()["status"]) == (200, "ignored")


def test_a_carrier_without_webhooks_is_404(client: TestClient) -> None:
    body = _event()
    answer = client.post("/v1/carriers/ups/webhook", content=body, headers={SIGNATURE_HEADER: sign(body, SECRET)})
    assert answer.status_code == 404
