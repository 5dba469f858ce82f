"""Fuzzing the API on the real PostgreSQL with text that holds every code point PostgreSQL refuses (NUL, lone
surrogates), every C0/C1 control and the Unicode non-characters, and with dates across the whole calendar.

`test_fuzz_api.py` drives the OpenAPI schema on SQLite, which stores NUL happily; here the database is the one that
refuses. Every answer must be 2xx or a 4xx in the error shape, never a 500; whatever is accepted must be readable
back and stored as sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.app.api_support import HEADERS, TestClient, body, postgres_runtime

from rma.api import create_api
from rma.domain.requests import MAX_CLOCK_SKEW, MAX_ORDER_AGE

REFUSED_BY_POSTGRESQL = ["\x00", *(chr(c) for c in range(0xD800, 0xE000, 0x7F)), "\udfff"]
CONTROLS = [chr(c) for c in (*range(0x20), *range(0x7F, 0xA0))]
NON_CHARACTERS = [
    *(chr(c) for c in range(0xFDD0, 0xFDF0)),
    *(chr(plane * 0x10000 + low) for plane in range(17) for low in (0xFFFE, 0xFFFF)),
]
NASTY_CHARACTER = st.one_of(
    st.sampled_from(REFUSED_BY_POSTGRESQL),  # as likely as all the rest together, so most texts hold one
    st.sampled_from(CONTROLS + NON_CHARACTERS + ["\u2028", "\u2029"]),
    st.characters(exclude_categories=()),  # anything, surrogates included
    st.sampled_from("abc XYZ 019-._@é"),
)
NASTY_TEXT = st.text(alphabet=NASTY_CHARACTER, max_size=24)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with (
        postgres_runtime("rma_fuzz") as runtime,
        TestClient(create_api(runtime, api_keys=frozenset({HEADERS["X-API-Key"]}))) as test_client,
    ):
        yield test_client


def _string_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _string_paths(item, (*path, key))]
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _string_paths(item, (*path, i))]
    return [path] if isinstance(value, str) else []


STRING_PATHS = [*_string_paths(body()), ("return_from", "line2"), ("lines", 0, "comment")]
# Free-form fields (no pattern): where text reaches the database unless the door stops it.
TEXT_PATHS = [
    ("contact", "name"),
    *(("return_from", key) for key in ("name", "line1", "line2", "city", "region", "postal_code")),
    *(("lines", i, key) for i in (0, 1) for key in ("item_name", "comment")),
]


def _send(client: TestClient, method: str, url: str, data: Any = None) -> Any:
    content = None if data is None else json.dumps(data).encode()  # NUL and surrogates travel as \u escapes
    response = client.request(method, url, content=content, headers={**HEADERS, "Content-Type": "application/json"})
    assert response.status_code < 500, f"{method} {url}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        answer = response.json()
        assert isinstance(answer["error"], str)
        assert answer["error"]
        if response.status_code == 422:
            assert answer["fields"]
            assert all(f["field"] and f["reason"] for f in answer["fields"])
    return response


def _read_back(client: TestClient, return_id: str, sent: dict[str, Any]) -> None:
    detail = _send(client, "GET", f"/v1/returns/{return_id}")
    assert detail.status_code == 200
    assert detail.json()["upstream_request_id"] == sent["upstream_request_id"]


@given(
    path=st.one_of(st.sampled_from(TEXT_PATHS), st.sampled_from(STRING_PATHS)), value=NASTY_TEXT, batch=st.booleans()
)
@FUZZ
def test_any_text_in_any_field_is_stored_or_refused_never_a_500(
    client: TestClient, path: tuple[Any, ...], value: str, batch: bool
) -> None:
    data = body()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    if batch:
        response = _send(client, "POST", "/v1/returns/batch", {"returns": [body(), data]})
        if response.status_code == 202:
            _read_back(client, response.json()["returns"][1]["return_id"], data)
        return
    response = _send(client, "POST", "/v1/returns", data)
    if response.status_code == 202:
        _read_back(client, response.json()["return_id"], data)
        assert not any(char in value for char in REFUSED_BY_POSTGRESQL)


@given(key=NASTY_TEXT, value=st.one_of(NASTY_TEXT, st.integers(), st.none()))
@FUZZ
def test_unknown_keys_and_values_of_any_text_are_refused_by_field(client: TestClient, key: str, value: Any) -> None:
    data = {**body(), key: value}
    response = _send(client, "POST", "/v1/returns", data)
    if key not in body():
        assert response.status_code == 422


@given(note=NASTY_TEXT, reviewer=NASTY_TEXT, ref=NASTY_TEXT, order_id=NASTY_TEXT, channel=NASTY_TEXT)
@settings(FUZZ, max_examples=40)
def test_reviews_lookups_and_queries_with_any_text_never_a_500(
    client: TestClient, note: str, reviewer: str, ref: str, order_id: str, channel: str
) -> None:
    def raw(value: str) -> str:  # the bytes an upstream would send, lone surrogates included (invalid UTF-8)
        return quote(value.encode("utf-8", "surrogatepass"), safe="")

    _send(client, "POST", f"/v1/reviews/{raw(ref) or 'x'}", {"approve": True, "note": note, "reviewer": reviewer})
    _send(client, "POST", "/v1/reviews/RMA-00000000A", {"approve": False, "note": note, "reviewer": "ann"})
    _send(client, "GET", f"/v1/returns/{raw(ref) or 'x'}")
    _send(client, "GET", f"/v1/returns?order_id={raw(order_id)}&channel={raw(channel)}")


@given(order=st.dates(), delivery=st.one_of(st.none(), st.dates()))
@settings(FUZZ, max_examples=40)
def test_dates_across_the_calendar_are_accepted_only_when_plausible(
    client: TestClient, order: date, delivery: date | None
) -> None:
    data = body(order_date=order.isoformat(), delivery_date=delivery.isoformat() if delivery else None)
    response = _send(client, "POST", "/v1/returns", data)
    today = datetime.now(UTC).date()
    plausible = today - MAX_ORDER_AGE <= order <= today + MAX_CLOCK_SKEW and (
        delivery is None or order <= delivery <= today + MAX_CLOCK_SKEW
    )
    assert (response.status_code == 202) == plausible, response.text
    if plausible:
        _read_back(client, response.json()["return_id"], data)
    else:
        assert response.status_code == 422
        assert {f["field"] for f in response.json()["fields"]} <= {"order_date", "delivery_date"}


def test_the_strategies_cover_every_code_point_postgresql_refuses() -> None:
    assert "\x00" in REFUSED_BY_POSTGRESQL
    assert "\ud800" in REFUSED_BY_POSTGRESQL
    assert "\udfff" in REFUSED_BY_POSTGRESQL
    assert len(CONTROLS) == 32 + 33
