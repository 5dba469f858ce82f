"""The HTTP API against a real runtime: a migrated SQLite file (and, for the core path, the real PostgreSQL)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from tests.app.api_support import (
    HEADERS,
    CommitFails,
    TestClient,
    body,
    closed_port,
    count,
    expensive_body,
)

from rma.adapters.db.tables import OutboxRow, ReturnRow, TimelineRow
from rma.api import create_api
from rma.bootstrap import Runtime, build_runtime
from rma.config import Settings
from rma.domain.lifecycle import Actor, Status
from rma.domain.requests import ReturnRequest
from rma.domain.rma_numbers import ALPHABET, format_rma_number
from rma.domain.validation import field_errors
from rma.services.issuance import issue
from rma.services.labels import issue_label, label_key
from rma.worker.app import create_app

NOW = datetime.now(UTC)
SCHEMA_FILE = Path(__file__).parents[2] / "docs" / "return-request.schema.json"


@pytest.fixture
def client(runtime: Runtime) -> TestClient:
    return TestClient(create_api(runtime, api_keys=frozenset({HEADERS["X-API-Key"], "second-key"})))


def submit(client: TestClient, data: dict[str, Any]) -> uuid.UUID:
    response = client.post("/v1/returns", json=data, headers=HEADERS)
    assert response.status_code == 202, response.text
    return uuid.UUID(response.json()["return_id"])


# --- intake -----------------------------------------------------------------------------------------------------


def test_submit_is_idempotent_and_readable(any_runtime: Runtime) -> None:
    client = TestClient(create_api(any_runtime, api_keys=frozenset({HEADERS["X-API-Key"]})))
    data = body()

    first = client.post("/v1/returns", json=data, headers=HEADERS)
    assert first.status_code == 202
    answer = first.json()
    assert answer["created"] is True
    assert first.headers["Location"] == answer["status_url"] == f"/v1/returns/{answer['return_id']}"

    repeat = client.post("/v1/returns", json=data, headers=HEADERS)
    assert repeat.status_code == 202
    assert repeat.json() == {**answer, "created": False}
    assert count(any_runtime, ReturnRow) == 1
    assert count(any_runtime, OutboxRow) == 1  # the issuance was queued once

    status = client.get(answer["status_url"], headers=HEADERS)
    assert status.status_code == 200
    page = status.json()
    assert page["return_id"] == answer["return_id"]
    assert page["status"] == "requested"
    assert page["rma_number"] is None
    assert [line["order_line_id"] for line in page["lines"]] == ["ol-1", "ol-2"]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in page["timeline"]] == [
        (None, "requested", "upstream")
    ]
    # No contact or address data, anywhere in the answer.
    for personal in ("contact", "return_from", "jordan@example.com", "Market Street", "Jordan Example"):
        assert personal not in status.text


def test_concurrent_single_submissions_are_stored_together_and_once_each(pg_runtime: Runtime) -> None:
    """Callers arriving together share a transaction (group commit): every one answered with its own return, a
    request sent twice at once stored once, and each return's issuance queued exactly once."""
    requests = [body() for _ in range(24)]
    with (
        TestClient(create_api(pg_runtime, api_keys=frozenset({HEADERS["X-API-Key"]}))) as client,
        ThreadPoolExecutor(max_workers=16) as pool,
    ):
        answers = list(pool.map(lambda data: client.post("/v1/returns", json=data, headers=HEADERS), requests * 2))
    assert {answer.status_code for answer in answers} == {202}
    by_key: dict[str, set[str]] = {}
    created: dict[str, int] = {}
    for data, answer in zip(requests * 2, answers, strict=True):
        key = data["upstream_request_id"]
        by_key.setdefault(key, set()).add(answer.json()["return_id"])
        created[key] = created.get(key, 0) + answer.json()["created"]
    assert all(len(ids) == 1 for ids in by_key.values())  # both sends of a request answered with one return
    assert set(created.values()) == {1}  # and exactly one of them made it
    assert count(pg_runtime, ReturnRow) == 24
    with pg_runtime.sessions() as session:
        messages = session.scalars(select(OutboxRow.message)).all()
    queued = [return_id for message in messages for return_id in _issuance_ids(message)]
    assert sorted(queued) == sorted(next(iter(ids)) for ids in by_key.values())
    assert len(messages) < 24  # concurrent callers' issuance went out in shared messages


def test_a_process_shutting_down_refuses_new_submissions_with_503(runtime: Runtime) -> None:
    app = create_api(runtime, api_keys=frozenset({HEADERS["X-API-Key"]}))
    app.state.intake.stop()  # what the lifespan does once the server stops taking connections
    refused = TestClient(app).post("/v1/returns", json=body(), headers=HEADERS)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["error"] == "intake is shutting down"
    assert count(runtime, ReturnRow) == 0


def _issuance_ids(message: dict[str, Any]) -> list[str]:
    (step,) = message["chain"]
    kwargs = step["kwargs"]
    return list(kwargs["return_ids"]) if "return_ids" in kwargs else [kwargs["return_id"]]


def test_batch_keeps_order_and_answers_repeats_with_the_same_ids(client: TestClient, runtime: Runtime) -> None:
    a, b, c = body(), body(), body()
    first = client.post("/v1/returns/batch", json={"returns": [a, b, a]}, headers=HEADERS)
    assert first.status_code == 202
    results = first.json()["returns"]
    assert [r["created"] for r in results] == [True, True, False]
    assert results[0]["return_id"] == results[2]["return_id"] != results[1]["return_id"]

    second = client.post("/v1/returns/batch", json={"returns": [b, c]}, headers=HEADERS)
    assert second.status_code == 202
    again = second.json()["returns"]
    assert again[0] == {**results[1], "created": False}
    assert again[1]["created"] is True
    assert again[1]["return_id"] not in {r["return_id"] for r in results}

    assert count(runtime, ReturnRow) == 3
    assert count(runtime, OutboxRow) == 2  # one batched issuance message per batch that created returns
    single = client.post("/v1/returns", json=c, headers=HEADERS).json()
    assert single["return_id"] == again[1]["return_id"]
    assert single["created"] is False


@pytest.mark.parametrize(
    ("returns", "field", "reason"),
    [
        ([], "returns", "at least 1 item"),
        ([body()] * 1001, "returns", "at most 1000 items"),
        ([body(), body(amount_captured="18298")], "returns[1].amount_captured", "valid integer"),
    ],
    ids=["empty", "too-many", "bad-item"],
)
def test_batch_is_validated_whole(
    client: TestClient, runtime: Runtime, returns: list[Any], field: str, reason: str
) -> None:
    response = client.post("/v1/returns/batch", json={"returns": returns}, headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid request"
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert reason in response.json()["fields"][0]["reason"]
    assert count(runtime, ReturnRow) == 0  # a batch with one bad request stores none of them


def _with_line(**changes: Any) -> dict[str, Any]:
    data = body()
    data["lines"] = [{**data["lines"][0], **changes}, data["lines"][1]]
    return data


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        (_with_line(unit_price="4999"), "lines[0].unit_price", "Input should be a valid integer"),
        (_with_line(quantity_to_return=2.0), "lines[0].quantity_to_return", "Input should be a valid integer"),
        (body(colour="red"), "colour", "Extra inputs are not permitted"),
        (body(currency="XQZ"), "currency", "Invalid ISO 4217 currency code"),
        (_with_line(quantity_to_return=3), "lines[0]", "quantity_to_return (3) is more than quantity_delivered (2)"),
        (_with_line(quantity_to_return=0), "lines[0].quantity_to_return", "greater than or equal to 1"),
        (body(amount_captured=100), "amount_captured", "100 is less than the delivered value"),
    ],
    ids=["strict-int", "float-count", "unknown-field", "currency", "quantity", "zero-quantity", "amount-captured"],
)
def test_invalid_request_names_the_field(
    client: TestClient, runtime: Runtime, data: dict[str, Any], field: str, reason: str
) -> None:
    response = client.post("/v1/returns", json=data, headers=HEADERS)
    assert response.status_code == 422
    answer = response.json()
    assert answer["error"] == "invalid request"
    assert [f["field"] for f in answer["fields"]] == [field]
    assert reason in answer["fields"][0]["reason"]
    # The same words the CLI and the message path use for the same mistake.
    with pytest.raises(ValidationError) as caught:
        ReturnRequest.model_validate(data)
    assert answer["fields"] == [e.model_dump() for e in field_errors(caught.value)]
    assert count(runtime, ReturnRow) == 0


@pytest.mark.parametrize(
    ("content", "content_type", "message", "reason"),
    [
        (b'{"channel": "amazon",', "application/json", "malformed JSON", "malformed JSON: Expecting property name"),
        (b"", "application/json", "invalid request", "a JSON request body is required"),
        (b'{"channel": "amazon"}', "text/plain", "invalid request", "Content-Type: application/json"),
    ],
    ids=["truncated", "empty", "not-json-content-type"],
)
def test_unparseable_body_is_422(
    client: TestClient, content: bytes, content_type: str, message: str, reason: str
) -> None:
    response = client.post("/v1/returns", content=content, headers={**HEADERS, "Content-Type": content_type})
    assert response.status_code == 422
    assert response.json()["error"] == message
    assert response.json()["fields"][0]["field"] == "(request)"
    assert reason in response.json()["fields"][0]["reason"]


# --- authentication -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}], ids=["none", "wrong", "blank"])
def test_calls_without_a_valid_key_are_refused(client: TestClient, runtime: Runtime, headers: dict[str, str]) -> None:
    for method, path, kwargs in [
        ("POST", "/v1/returns", {"json": body()}),
        ("POST", "/v1/returns", {"content": b"{not json", "headers": {**headers, "Content-Type": "application/json"}}),
        ("GET", f"/v1/returns/{uuid.uuid4()}", {}),
        ("GET", "/v1/reviews", {}),
    ]:
        response = client.request(method, path, **{"headers": headers, **kwargs})
        assert response.status_code == 401, (method, path)
        assert "X-API-Key" in response.json()["error"]
    assert count(runtime, ReturnRow) == 0


def test_any_configured_key_is_accepted(client: TestClient) -> None:
    response = client.post("/v1/returns", json=body(), headers={"X-API-Key": "second-key"})
    assert response.status_code == 202


def test_an_api_without_keys_is_refused(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="API key"):
        create_api(runtime, api_keys=frozenset())


# --- status -------------------------------------------------------------------------------------------------------


def test_unknown_and_malformed_references(client: TestClient) -> None:
    unknown_id = client.get(f"/v1/returns/{uuid.uuid4()}", headers=HEADERS)
    assert unknown_id.status_code == 404
    assert "no return" in unknown_id.json()["error"]

    valid_but_unused = format_rma_number("RMA", 424242)
    assert client.get(f"/v1/returns/{valid_but_unused}", headers=HEADERS).status_code == 404

    check = valid_but_unused[-1]
    mistyped = valid_but_unused[:-1] + ALPHABET[(ALPHABET.index(check) + 1) % len(ALPHABET)]
    response = client.get(f"/v1/returns/{mistyped}", headers=HEADERS)
    assert response.status_code == 422
    assert "mistyped" in response.json()["error"]

    garbage = client.get("/v1/returns/not-a-reference", headers=HEADERS)
    assert garbage.status_code == 422
    assert "neither a return id nor a valid RMA number" in garbage.json()["error"]


def test_status_by_rma_number_after_issuance(client: TestClient, runtime: Runtime) -> None:
    return_id = submit(client, body())
    assert issue(runtime.ctx, return_id) is Status.AUTHORIZED

    by_id = client.get(f"/v1/returns/{return_id}", headers=HEADERS).json()
    rma_number = by_id["rma_number"]
    assert rma_number.startswith("RMA-")
    # People type RMA numbers: lower case and stray spaces are read as the same number.
    for ref in (rma_number, rma_number.lower(), f" {rma_number} "):
        page = client.get(f"/v1/returns/{ref}", headers=HEADERS)
        assert page.status_code == 200, ref
        assert page.json() == by_id

    assert by_id["status"] == "authorized"
    decision = by_id["decision"]
    assert decision["outcome"] == "authorize"
    assert decision["reasons"]
    assert decision["refund_quote"]["currency"] == "USD"
    assert decision["refund_quote"]["amount"] > 0
    assert {line["status"] for line in by_id["lines"]} == {"authorized"}
    last = by_id["timeline"][-1]
    assert (last["from_status"], last["to_status"], last["actor"]) == ("requested", "authorized", "policy")
    assert by_id["label"] is None
    assert by_id["refunds"] == []
    assert by_id["attention_cause"] is None


def test_label_link_and_document(client: TestClient, runtime: Runtime) -> None:
    return_id = submit(client, body())
    issue(runtime.ctx, return_id)
    before = client.get(f"/v1/returns/{return_id}/label", headers=HEADERS)
    assert before.status_code == 404
    assert "no label" in before.json()["error"]

    # A label reserved with the carrier but not yet bought (a worker died in between) has no document to link.
    with runtime.ctx.uow() as uow:
        uow.labels.reserve(return_id, idempotency_key=label_key(return_id), carrier="sandbox", at=NOW)
        uow.commit()
    assert client.get(f"/v1/returns/{return_id}", headers=HEADERS).json()["label"] is None
    assert client.get(f"/v1/returns/{return_id}/label", headers=HEADERS).status_code == 404

    assert issue_label(runtime.ctx, return_id) is Status.LABEL_ISSUED
    page = client.get(f"/v1/returns/{return_id}", headers=HEADERS).json()
    assert page["status"] == "label_issued"
    assert page["label"]["url"] == f"/v1/returns/{return_id}/label"
    assert page["label"]["packing_slip_url"] == f"/v1/returns/{return_id}/packing-slip"
    assert page["label"]["format"] == "PDF"
    assert page["label"]["tracking_number"]
    assert (page["label"]["cost"], page["label"]["currency"]) == (795, "USD")
    assert page["parcel"] == {
        "tracking_number": page["label"]["tracking_number"],
        "carrier_status": "label_created",
        "events": [],
    }

    label = client.get(page["label"]["url"], headers=HEADERS)
    assert label.status_code == 200
    assert label.headers["content-type"] == "application/pdf"
    assert label.content.startswith(b"%PDF")
    assert f'filename="{page["rma_number"]}.pdf"' in label.headers["content-disposition"]
    by_number = client.get(f"/v1/returns/{page['rma_number']}/label", headers=HEADERS)
    assert by_number.content == label.content

    png = client.get(page["label"]["url"], params={"format": "png"}, headers=HEADERS)
    assert png.headers["content-type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    by_accept = client.get(page["label"]["url"], headers={**HEADERS, "Accept": "image/png;q=0.9, text/html;q=1"})
    assert by_accept.headers["content-type"] == "image/png"
    # A carrier's PDF cannot become ZPL faithfully: 406 says what exists; a format we never make names the field.
    zpl = client.get(page["label"]["url"], params={"format": "ZPL"}, headers=HEADERS)
    assert zpl.status_code == 406
    assert "exists as PDF; ask for PDF or PNG" in zpl.json()["error"]
    bad = client.get(page["label"]["url"], params={"format": "gif"}, headers=HEADERS)
    assert bad.status_code == 406
    assert bad.json()["fields"][0]["field"] == "format"
    assert client.get(page["label"]["url"]).status_code == 401  # authorised like every return endpoint

    assert page["label"]["qr_code_url"] is None  # the sandbox gives no drop-off QR code
    assert client.get(f"/v1/returns/{return_id}/qr-code", headers=HEADERS).status_code == 404

    slip = client.get(page["label"]["packing_slip_url"], headers=HEADERS)
    assert slip.status_code == 200
    assert slip.headers["content-type"] == "application/pdf"
    assert slip.content.startswith(b"%PDF")


def test_packing_slip_before_the_label_is_404(client: TestClient) -> None:
    return_id = submit(client, body())
    slip = client.get(f"/v1/returns/{return_id}/packing-slip", headers=HEADERS)
    assert slip.status_code == 404
    assert "no label yet" in slip.json()["error"]


def test_cancel_before_shipping_and_refused_after(client: TestClient, runtime: Runtime) -> None:
    return_id = submit(client, body())
    issue(runtime.ctx, return_id)
    issue_label(runtime.ctx, return_id)
    url = f"/v1/returns/{return_id}/cancel"
    assert client.post(url, json={"reason": "", "by": "customer"}, headers=HEADERS).status_code == 422
    done = client.post(url, json={"reason": "ordered the wrong size", "by": "customer"}, headers=HEADERS)
    assert done.status_code == 200
    assert done.json()["status"] == "cancelled"
    page = client.get(f"/v1/returns/{return_id}", headers=HEADERS).json()
    assert page["timeline"][-1]["cause"] == "cancelled: ordered the wrong size"
    assert page["timeline"][-1]["actor"] == "customer"
    with runtime.ctx.uow() as uow:
        ret = uow.returns.get(return_id)
        assert ret is not None
        ret.transition(Status.CLOSED, at=datetime.now(UTC), actor=Actor.SYSTEM, cause="test")
        uow.returns.save(ret)
        uow.commit()
    late = client.post(url, json={"reason": "again", "by": "upstream"}, headers=HEADERS)
    assert late.status_code == 409
    assert "is closed" in late.json()["error"]


def test_returns_of_an_order(client: TestClient) -> None:
    first = submit(client, body(order_id="order-1", channel="amazon"))
    second = submit(client, body(order_id="order-1", channel="shopify"))
    submit(client, body(order_id="order-2"))

    every = client.get("/v1/returns", params={"order_id": "order-1"}, headers=HEADERS)
    assert every.status_code == 200
    assert [r["return_id"] for r in every.json()] == [str(first), str(second)]
    assert {r["channel"] for r in every.json()} == {"amazon", "shopify"}

    one = client.get("/v1/returns", params={"order_id": "order-1", "channel": "shopify"}, headers=HEADERS).json()
    assert [r["return_id"] for r in one] == [str(second)]
    assert one[0]["status_url"] == f"/v1/returns/{second}"
    assert client.get("/v1/returns", params={"order_id": "nope"}, headers=HEADERS).json() == []

    missing = client.get("/v1/returns", headers=HEADERS)
    assert missing.status_code == 422
    assert [f["field"] for f in missing.json()["fields"]] == ["query.order_id"]


# --- manual review ------------------------------------------------------------------------------------------------


def test_review_queue_and_decision(client: TestClient, runtime: Runtime) -> None:
    waiting = submit(client, expensive_body())
    assert issue(runtime.ctx, waiting) is Status.PENDING_REVIEW
    not_waiting = submit(client, body())
    issue(runtime.ctx, not_waiting)

    queue = client.get("/v1/reviews", headers=HEADERS)
    assert queue.status_code == 200
    (item,) = queue.json()
    assert item["return_id"] == str(waiting)
    assert item["status"] == "pending_review"
    assert item["reasons"]
    assert "value.review" in item["rule_ids"]
    assert len(item["rule_ids"]) == len(set(item["rule_ids"]))
    assert item["review_due_at"] is not None
    assert "contact" not in queue.text

    invalid = client.post(f"/v1/reviews/{waiting}", json={"approve": "yes", "reviewer": "alice"}, headers=HEADERS)
    assert invalid.status_code == 422
    assert [f["field"] for f in invalid.json()["fields"]] == ["approve"]
    system = {"approve": True, "reviewer": "auto-reviewer"}
    assert client.post(f"/v1/reviews/{waiting}", json=system, headers=HEADERS).status_code == 422

    decision = {"approve": True, "note": "receipt checked", "reviewer": "alice"}
    decided = client.post(f"/v1/reviews/{item['rma_number']}", json=decision, headers=HEADERS)
    assert decided.status_code == 200
    assert decided.json() == {"return_id": str(waiting), "rma_number": item["rma_number"], "status": "authorized"}
    page = client.get(f"/v1/returns/{waiting}", headers=HEADERS).json()
    assert page["timeline"][-1]["cause"] == "approved by alice: receipt checked"
    assert page["timeline"][-1]["actor"] == "operator"

    again = client.post(f"/v1/reviews/{waiting}", json=decision, headers=HEADERS)
    assert again.status_code == 409
    assert "not pending_review" in again.json()["error"]
    assert client.get("/v1/reviews", headers=HEADERS).json() == []
    unknown = client.post(f"/v1/reviews/{uuid.uuid4()}", json=decision, headers=HEADERS)
    assert unknown.status_code == 404


# --- health and availability --------------------------------------------------------------------------------------


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


def test_unreachable_database_is_503_with_retry_after() -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/none"
    down_settings = Settings(database_url=url, broker_url="memory://")
    down = build_runtime(down_settings, celery_app=create_app(down_settings))
    client = TestClient(create_api(down, api_keys=frozenset({HEADERS["X-API-Key"]})))
    try:
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        for response in (
            client.get("/readyz"),
            client.post("/v1/returns", json=body(), headers=HEADERS),
            client.post("/v1/returns/batch", json={"returns": [body()]}, headers=HEADERS),
            client.get(f"/v1/returns/{uuid.uuid4()}", headers=HEADERS),
            client.get("/v1/returns", params={"order_id": "o-1"}, headers=HEADERS),
        ):
            assert response.status_code == 503, response.request.url
            assert int(response.headers["Retry-After"]) > 0
            assert "database unavailable" in response.json()["error"]
    finally:
        down.close()


def test_a_commit_that_fails_stores_nothing(client: TestClient, runtime: Runtime) -> None:
    healthy = runtime.ctx
    runtime.ctx = dataclasses.replace(healthy, uow=lambda: CommitFails(runtime.sessions))
    data = body()
    refused = client.post("/v1/returns", json=data, headers=HEADERS)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"]
    batch = client.post("/v1/returns/batch", json={"returns": [body(), body()]}, headers=HEADERS)
    assert batch.status_code == 503
    for table in (ReturnRow, OutboxRow, TimelineRow):
        assert count(runtime, table) == 0, table

    runtime.ctx = healthy  # the database is back: the same request, sent again, is stored once
    retried = client.post("/v1/returns", json=data, headers=HEADERS)
    assert retried.status_code == 202
    assert retried.json()["created"] is True
    assert count(runtime, ReturnRow) == 1


# --- published schemas --------------------------------------------------------------------------------------------


def test_openapi_describes_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "RMA returns API"
    assert spec["info"]["version"]
    assert {"/v1/returns", "/v1/returns/batch", "/v1/returns/{ref}", "/v1/reviews", "/healthz"} <= set(spec["paths"])
    schemes = spec["components"]["securitySchemes"]
    assert any(s.get("name") == "X-API-Key" and s.get("in") == "header" for s in schemes.values())


def test_committed_schema_matches_the_model() -> None:
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed.pop("$schema") == "https://json-schema.org/draft/2020-12/schema"
    assert committed == ReturnRequest.model_json_schema(), "run: uv run python scripts/export_schemas.py"
