"""`rma.client.ReturnsClient` against the real API served by uvicorn on a localhost port (and, for the exact retry
timings, against scripted answers)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import uvicorn
from tests.app.api_support import API_KEY, body, closed_port, connection_lost, count, make_runtime

from rma import client as client_module
from rma.adapters.db import SqlAlchemyUnitOfWork
from rma.adapters.db.tables import ReturnRow
from rma.api import create_api
from rma.bootstrap import Runtime
from rma.client import ReturnsApiError, ReturnsClient, Submission
from rma.domain.requests import ReturnRequest
from rma.services.flow import ReturnFlow
from rma.services.issuance import issue


@dataclasses.dataclass
class Server:
    url: str
    runtime: Runtime


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for the module; tests tell their returns apart by fresh upstream ids."""
    runtime = make_runtime(f"sqlite:///{tmp_path_factory.mktemp('client') / 'api.db'}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_api(runtime, api_keys=frozenset({API_KEY})), log_level="warning", lifespan="off", ws="none"
    )
    uv_server = uvicorn.Server(config)
    thread = threading.Thread(target=uv_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if uv_server.started:
            break
        threading.Event().wait(0.01)
    assert uv_server.started, "uvicorn did not start"
    yield Server(url=f"http://127.0.0.1:{port}", runtime=runtime)
    uv_server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    runtime.close()


@pytest.fixture
def client(server: Server) -> Iterator[ReturnsClient]:
    with ReturnsClient(server.url, API_KEY, timeout=5.0, backoff=0.01, max_backoff=0.05) as api:
        yield api


@pytest.fixture
def flaky_database(server: Server) -> Iterator[Callable[[int], list[int]]]:
    """Make the next `n` units of work lose their connection; answers the list of calls made (one int per call)."""
    healthy = server.runtime.ctx
    calls: list[int] = []

    def arm(failures: int) -> list[int]:
        def uow() -> SqlAlchemyUnitOfWork:
            calls.append(len(calls))
            if len(calls) <= failures:
                raise connection_lost()
            return SqlAlchemyUnitOfWork(server.runtime.sessions, flow=ReturnFlow())

        server.runtime.ctx = dataclasses.replace(healthy, uow=uow)
        return calls

    yield arm
    server.runtime.ctx = healthy


def test_submit_get_and_repeat(client: ReturnsClient, server: Server) -> None:
    data = body()
    first = client.submit(ReturnRequest.model_validate(data))
    assert first == Submission(first.return_id, f"/v1/returns/{first.return_id}", created=True)
    again = client.submit(data)  # the same request as a plain dict
    assert again.return_id == first.return_id
    assert again.created is False

    page = client.get(first.return_id)
    assert page["status"] == "requested"
    assert page["upstream_request_id"] == data["upstream_request_id"]

    issue(server.runtime.ctx, first.return_id)
    authorized = client.wait_for(str(first.return_id), {"authorized", "rejected"}, timeout=5, interval=0.01)
    assert authorized["status"] == "authorized"
    assert client.get(authorized["rma_number"])["return_id"] == str(first.return_id)


def test_submit_batch_answers_in_order(client: ReturnsClient) -> None:
    a, b = body(), body()
    results = client.submit_batch([a, ReturnRequest.model_validate(b), a])
    assert [r.created for r in results] == [True, True, False]
    assert results[0].return_id == results[2].return_id != results[1].return_id


def test_wait_for_gives_up_naming_the_status(client: ReturnsClient) -> None:
    submitted = client.submit(body())
    with pytest.raises(TimeoutError, match="still requested"):
        client.wait_for(submitted.return_id, {"closed"}, timeout=0.05, interval=0.01)


def test_refusals_raise_with_status_and_fields(client: ReturnsClient, server: Server) -> None:
    bad = body(amount_captured="18298", colour="red")
    with pytest.raises(ReturnsApiError) as invalid:
        client.submit(bad)
    assert invalid.value.status_code == 422
    assert invalid.value.message == "invalid request"
    assert {f.field for f in invalid.value.fields} == {"amount_captured", "colour"}
    assert "amount_captured: Input should be a valid integer" in str(invalid.value)
    assert invalid.value.retryable is False

    with pytest.raises(ReturnsApiError) as missing:
        client.get(uuid.uuid4())
    assert missing.value.status_code == 404
    with pytest.raises(ReturnsApiError, match="mistyped"):
        client.get("RMA-00000000X")

    before = count(server.runtime, ReturnRow)
    with ReturnsClient(server.url, "not-the-key") as stranger, pytest.raises(ReturnsApiError) as refused:
        stranger.submit(body())
    assert refused.value.status_code == 401
    assert count(server.runtime, ReturnRow) == before  # neither refusal stored anything


def test_a_503_is_retried_until_the_database_is_back(
    client: ReturnsClient, server: Server, flaky_database: Callable[[int], list[int]]
) -> None:
    calls = flaky_database(2)
    data = body()
    submitted = client.submit(data)
    assert len(calls) == 3  # two refused attempts, then the stored one
    assert submitted.created is True
    with server.runtime.ctx.uow() as uow:
        assert uow.returns.get_by_upstream(data["channel"], data["upstream_request_id"]) is not None


def test_retries_are_bounded(server: Server, flaky_database: Callable[[int], list[int]]) -> None:
    calls = flaky_database(100)
    api = ReturnsClient(server.url, API_KEY, retries=2, backoff=0.01, max_backoff=0.01)
    with api, pytest.raises(ReturnsApiError) as down:
        api.submit(body())
    assert down.value.status_code == 503
    assert down.value.retryable is True
    assert len(calls) == 3  # the first attempt and two retries


def test_connection_errors_are_retried_then_reported() -> None:
    api = ReturnsClient(f"http://127.0.0.1:{closed_port()}", API_KEY, retries=1, backoff=0.01)
    with api, pytest.raises(ReturnsApiError) as unreachable:
        api.get(uuid.uuid4())
    assert unreachable.value.status_code is None
    assert unreachable.value.retryable is True
    assert "ConnectError" in unreachable.value.message


def _scripted(answers: list[httpx.Response]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[len(seen) - 1]

    return httpx.MockTransport(handle), seen


def test_retry_after_is_honoured_and_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", waits.append)
    in_a_while = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    accepted = {"return_id": str(uuid.uuid4()), "status_url": "/v1/returns/x", "created": True}
    transport, seen = _scripted(
        [
            httpx.Response(503, headers={"Retry-After": "2"}, json={"error": "database unavailable"}),
            httpx.Response(503, headers={"Retry-After": in_a_while}, json={"error": "database unavailable"}),
            httpx.Response(429, headers={"Retry-After": "600"}, json={"error": "slow down"}),
            httpx.Response(202, json=accepted),
        ]
    )
    with ReturnsClient("http://rma.test", "k", transport=transport, retries=3, max_backoff=30) as api:
        result = api.submit(body())
    assert result.return_id == uuid.UUID(accepted["return_id"])
    assert len(seen) == 4
    assert all(r.headers["X-API-Key"] == "k" for r in seen)
    assert waits[0] == 2.0
    assert 15 < waits[1] <= 20  # an HTTP date, counted from now
    assert waits[2] == 30  # never longer than max_backoff, whatever the server asks


def test_backoff_grows_without_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", waits.append)
    transport, seen = _scripted([httpx.Response(502, text="bad gateway")] * 3)
    api = ReturnsClient("http://rma.test", "k", transport=transport, retries=2, backoff=1.0)
    with api, pytest.raises(ReturnsApiError) as failed:
        api.get("RMA-0000")
    assert failed.value.status_code == 502
    assert failed.value.message == "bad gateway"  # not JSON: the text is the message
    assert len(seen) == 3
    assert 0.5 <= waits[0] <= 1.0 < waits[1] <= 2.0


def test_client_closes_its_connections() -> None:
    transport, _ = _scripted([])
    with ReturnsClient("http://rma.test", "k", transport=transport) as api:
        http: Any = api._http
        assert not http.is_closed
    assert http.is_closed
