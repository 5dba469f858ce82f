"""Bad input that used to get through the door (issue 11, item 9), against the API on SQLite and the real PostgreSQL.

Text PostgreSQL cannot store, dates no real order has, an idempotency key reused with a different request, bodies
that do not parse: each is refused at the door with the field and the reason. And no log line carries request
content, not even the traceback of a database error whose message quotes the row."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest
import structlog
import uvicorn
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from tests.app.api_support import HEADERS, TestClient, body, count

from rma.adapters.db.tables import ReturnRow
from rma.api import create_api
from rma.api.routes_returns import KEY_REUSED
from rma.bootstrap import Runtime
from rma.domain.errors import IdempotencyKeyReusedError
from rma.domain.requests import ReturnRequest
from rma.logging import configure_logging
from rma.services.group_intake import GroupedIntake
from rma.services.intake import Submitted, submit_batch

MARKER = "ZZMARKERZZ"
BODY_ROUTES = ["/v1/returns", "/v1/returns/batch", "/v1/reviews/RMA-00000000A"]


@pytest.fixture
def client(any_runtime: Runtime) -> TestClient:
    return TestClient(create_api(any_runtime, api_keys=frozenset({HEADERS["X-API-Key"]})))


@pytest.fixture
def json_logs(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    configure_logging("DEBUG", "json", force=True)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # as `rma api` leaves them (log_config=None)
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    yield capsys
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def post_json(client: TestClient, path: str, data: object) -> httpx.Response:
    """Sent as serialised here: `json.dumps` keeps NUL and lone surrogates as `\\u` escapes, as an upstream would."""
    response: httpx.Response = client.post(
        path, content=json.dumps(data).encode(), headers={**HEADERS, "Content-Type": "application/json"}
    )
    return response


def fields(response: httpx.Response) -> list[str]:
    return [f["field"] for f in response.json()["fields"]]


# --- text the database cannot store --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("contact", "name"), f"{MARKER}\x00"),
        (("return_from", "line1"), f"{MARKER}\x00"),
        (("return_from", "line2"), f"{MARKER}\ud800"),
        (("return_from", "city"), f"{MARKER}\x1b"),
        (("lines", 0, "item_name"), f"{MARKER}\x85"),
        (("lines", 0, "comment"), f"{MARKER}\x00"),
        (("contact", "email"), f"zz\x00{MARKER}@example.com"),
    ],
    ids=["name-nul", "line1-nul", "line2-surrogate", "city-escape", "item-c1", "comment-nul", "email-nul"],
)
def test_text_postgresql_cannot_store_is_422_naming_the_field_not_the_value(
    client: TestClient, any_runtime: Runtime, path: tuple[str | int, ...], value: str
) -> None:
    data = body()
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value

    response = post_json(client, "/v1/returns", data)

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid request"
    assert len(fields(response)) == 1
    assert fields(response)[0].endswith(str(path[-1]))
    assert MARKER not in response.text
    assert count(any_runtime, ReturnRow) == 0


def test_a_nul_in_an_unknown_key_is_named_escaped(client: TestClient) -> None:
    response = post_json(client, "/v1/returns", {**body(), "x\x00y": 1})
    assert response.status_code == 422
    assert fields(response) == ["x\\u0000y"]


def test_a_reviewer_note_with_a_nul_is_422(client: TestClient) -> None:
    response = post_json(client, "/v1/reviews/RMA-00000000A", {"approve": True, "note": "ok\x00", "reviewer": "ann"})
    assert response.status_code == 422
    assert fields(response) == ["note"]


@pytest.mark.parametrize("url", ["/v1/returns?order_id=a%00b", "/v1/returns?order_id=o-1&channel=a%00"])
def test_a_nul_in_a_query_is_422(client: TestClient, url: str) -> None:
    response = client.get(url, headers=HEADERS)
    assert response.status_code == 422
    assert fields(response)[0].startswith("query.")


# --- dates no real order has -----------------------------------------------------------------------------------------


def _days(n: int) -> str:
    return (datetime.now(UTC).date() + timedelta(days=n)).isoformat()


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        ({"order_date": "0201-10-02", "delivery_date": None}, ["order_date"]),
        ({"order_date": "9999-12-31", "delivery_date": None}, ["order_date"]),
        ({"order_date": "2926-10-02", "delivery_date": "2926-10-06"}, ["order_date", "delivery_date"]),
        ({"order_date": _days(21), "delivery_date": _days(28)}, ["order_date", "delivery_date"]),
        ({"order_date": _days(-5), "delivery_date": _days(14)}, ["delivery_date"]),
        ({"order_date": _days(-4 * 365), "delivery_date": None}, ["order_date"]),
    ],
    ids=["year-201", "year-9999", "centuries-ahead", "weeks-ahead", "delivered-in-future", "four-years-ago"],
)
def test_implausible_dates_are_422_at_the_door(
    client: TestClient, any_runtime: Runtime, dates: dict[str, Any], expected: list[str]
) -> None:
    response = post_json(client, "/v1/returns", body(**dates))
    assert response.status_code == 422, response.text
    assert fields(response) == expected
    batch = post_json(client, "/v1/returns/batch", {"returns": [body(), body(**dates)]})
    assert batch.status_code == 422, batch.text
    assert fields(batch) == [f"returns[1].{field}" for field in expected]
    assert count(any_runtime, ReturnRow) == 0  # nothing stored, not even the good request of the batch


def test_dates_within_a_day_of_clock_skew_are_accepted(client: TestClient) -> None:
    response = post_json(client, "/v1/returns", body(order_date=_days(1), delivery_date=_days(1)))
    assert response.status_code == 202, response.text


# --- an idempotency key reused with a different request ------------------------------------------------------------


def test_a_repeat_is_answered_a_different_request_under_the_same_key_is_409(
    client: TestClient, any_runtime: Runtime
) -> None:
    first = body()
    created = post_json(client, "/v1/returns", first)
    assert created.status_code == 202
    # The same request spelt differently (key order, case the schema normalises) is a repeat.
    respelt = dict(reversed(list(first.items())))
    respelt["currency"] = first["currency"].lower()
    repeat = post_json(client, "/v1/returns", respelt)
    assert repeat.status_code == 202
    assert repeat.json() == {**created.json(), "created": False}

    changed = {
        **first,
        "contact": {**first["contact"], "name": MARKER},
        "amount_captured": first["amount_captured"] + 1,
    }
    refused = post_json(client, "/v1/returns", changed)

    assert refused.status_code == 409, refused.text
    answer = refused.json()
    assert answer["error"] == KEY_REUSED
    assert fields(refused) == ["upstream_request_id"]
    reason = answer["fields"][0]["reason"]
    assert first["upstream_request_id"] in reason
    assert "differing in: contact, amount_captured" in reason
    assert MARKER not in refused.text
    assert count(any_runtime, ReturnRow) == 1


def test_a_batch_with_a_reused_key_is_refused_whole_naming_each_item(client: TestClient, any_runtime: Runtime) -> None:
    stored = body()
    assert post_json(client, "/v1/returns", stored).status_code == 202
    fresh, twin = body(), body()
    changed_twin = {**twin, "customer_id": "cust-other"}
    changed_stored = {**stored, "order_id": "113-0000000-0000000"}

    refused = post_json(client, "/v1/returns/batch", {"returns": [fresh, changed_stored, twin, stored, changed_twin]})

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == KEY_REUSED
    assert fields(refused) == ["returns[1].upstream_request_id", "returns[4].upstream_request_id"]
    assert "differing in: order_id" in refused.json()["fields"][0]["reason"]
    assert "differing in: customer_id" in refused.json()["fields"][1]["reason"]
    assert count(any_runtime, ReturnRow) == 1  # none of the batch was stored

    accepted = post_json(client, "/v1/returns/batch", {"returns": [fresh, stored, twin, twin]})
    assert accepted.status_code == 202, accepted.text
    answers = accepted.json()["returns"]
    assert [a["created"] for a in answers] == [True, False, True, False]
    assert answers[2]["return_id"] == answers[3]["return_id"]


def test_grouped_single_intake_answers_each_caller_its_own_outcome(pg_runtime: Runtime) -> None:
    """The conflicting request shares a group commit with others: it gets its 409 cause, they get their returns."""
    ctx = pg_runtime.ctx
    groups: list[int] = []
    entered, hold = threading.Event(), threading.Event()

    def store(requests: Any) -> list[Submitted]:
        groups.append(len(requests))
        entered.set()
        hold.wait(10)
        return submit_batch(ctx.uow, requests, now=ctx.clock.now(), due_at=ctx.machine_deadline())

    intake = GroupedIntake(store)
    first = ReturnRequest.model_validate(body())
    opener = intake.submit(first)  # the writer holds this group until released
    assert entered.wait(10)
    changed = first.model_copy(update={"customer_id": "cust-other"})
    others = [ReturnRequest.model_validate(body()) for _ in range(3)]
    futures: list[Future[Submitted]] = [intake.submit(request) for request in [others[0], changed, *others[1:]]]
    hold.set()
    try:
        assert opener.result(10).created
        with pytest.raises(IdempotencyKeyReusedError) as refused:
            futures[1].result(10)
        stored = [futures[i].result(10) for i in (0, 2, 3)]
    finally:
        intake.stop()
    assert refused.value.reuses[0].upstream_request_id == first.upstream_request_id
    assert refused.value.reuses[0].differing == ("customer_id",)
    assert all(result.created for result in stored)
    assert groups == [1, 4, 1, 1, 1, 1]  # the four were tried as one group, then each alone
    assert count(pg_runtime, ReturnRow) == 4


def test_concurrent_http_submissions_with_one_reused_key(pg_runtime: Runtime) -> None:
    client = TestClient(create_api(pg_runtime, api_keys=frozenset({HEADERS["X-API-Key"]})))
    first = body()
    with client:
        assert post_json(client, "/v1/returns", first).status_code == 202
        requests = [body() for _ in range(7)]
        requests.insert(3, {**first, "shipping_paid": 0})
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda data: post_json(client, "/v1/returns", data).status_code, requests))
    assert codes == [202, 202, 202, 409, 202, 202, 202, 202]
    assert count(pg_runtime, ReturnRow) == 8


# --- bodies that do not parse -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", BODY_ROUTES)
@pytest.mark.parametrize(
    ("content", "content_type", "reason"),
    [
        (b'{"channel": "\xff\xfe"}', "application/json", "malformed JSON: the body is not UTF-8 text"),
        ('{"channel": "é"}'.encode("latin-1"), "application/json", "malformed JSON: the body is not UTF-8 text"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "malformed JSON: nested too deeply"),
        (b'{"returns": [', "application/json", "malformed JSON: Expecting value"),
        (b"", "application/json", "a JSON request body is required"),
        (b"approve=true", "application/x-www-form-urlencoded", "Content-Type: application/json"),
    ],
    ids=["not-utf8", "latin-1", "too-deep", "truncated", "empty", "form"],
)
def test_a_body_that_does_not_parse_is_answered_in_the_error_shape(
    client: TestClient, path: str, content: bytes, content_type: str, reason: str
) -> None:
    response = client.post(path, content=content, headers={**HEADERS, "Content-Type": content_type})
    assert response.status_code == 422, response.text
    answer = response.json()
    assert answer["error"] in {"malformed JSON", "invalid request"}
    assert [f["field"] for f in answer["fields"]] == ["(request)"]
    assert reason in answer["fields"][0]["reason"]


# --- nothing of the request in the logs ---------------------------------------------------------------------------


def _refuse_marker_rows(runtime: Runtime) -> None:
    """Make PostgreSQL refuse a row whose request holds the marker: its error then quotes the whole failing row."""
    with runtime.engine.begin() as conn:
        check = f"position('{MARKER}' in customer_id || request::text) = 0"
        conn.execute(text(f"ALTER TABLE returns ADD CONSTRAINT no_marker CHECK ({check})"))


def _marked() -> dict[str, Any]:
    data = body(customer_id=f"cust-{MARKER}")
    data["contact"]["name"] = f"{MARKER} Example"
    data["return_from"]["line1"] = f"1 {MARKER} Street"
    return data


def test_the_database_error_really_quotes_the_request(pg_runtime: Runtime) -> None:
    """What the log tests below guard against: the driver's message carries the customer's name."""
    _refuse_marker_rows(pg_runtime)
    ctx = pg_runtime.ctx
    with pytest.raises((IntegrityError, psycopg.IntegrityError)) as caught:
        submit_batch(ctx.uow, [ReturnRequest.model_validate(_marked())], now=ctx.clock.now(), due_at=ctx.clock.now())
    assert MARKER in str(caught.value)


def test_a_database_error_is_a_500_in_the_error_shape_and_logged_without_the_request(
    pg_runtime: Runtime, json_logs: pytest.CaptureFixture[str]
) -> None:
    _refuse_marker_rows(pg_runtime)
    client = TestClient(create_api(pg_runtime, api_keys=frozenset({HEADERS["X-API-Key"]})))
    with client:
        single = post_json(client, "/v1/returns", _marked())
        batch = post_json(client, "/v1/returns/batch", {"returns": [_marked()]})
        refused = post_json(client, "/v1/returns", {**_marked(), "order_id": f"\x00{MARKER}"})

    for response in (single, batch):
        assert response.status_code == 500
        assert response.json() == {"error": "internal error"}
    assert refused.status_code == 422
    logged = json_logs.readouterr().err
    assert MARKER not in logged
    events = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    errors = [e for e in events if e.get("event") == "unhandled_error"]
    assert [e["path"] for e in errors] == ["/v1/returns", "/v1/returns/batch"]
    assert all("CheckViolation" in e["error"] and "SQLSTATE 23514" in e["error"] for e in errors)
    assert all("Traceback (most recent call last)" in e["exception"] for e in errors)  # still locates the bug


def test_a_real_server_logs_no_request_content(pg_runtime: Runtime, json_logs: pytest.CaptureFixture[str]) -> None:
    """uvicorn in this process, configured as `rma api` runs it (its loggers go through our pipeline)."""
    _refuse_marker_rows(pg_runtime)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_api(pg_runtime, api_keys=frozenset({HEADERS["X-API-Key"]}))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", ws="none"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, headers=HEADERS, timeout=10) as http:
            answers = [
                http.post("/v1/returns", json=_marked()),
                http.post("/v1/returns/batch", json={"returns": [_marked()]}),
                http.post(
                    "/v1/returns",
                    content=json.dumps({**_marked(), "order_id": f"\x00{MARKER}"}),
                    headers={"Content-Type": "application/json"},
                ),
            ]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert [a.status_code for a in answers] == [500, 500, 422]
    logged = json_logs.readouterr().err
    assert "unhandled_error" in logged
    assert "Exception in ASGI application" not in logged  # the exception stopped at our middleware
    assert MARKER not in logged
