"""Shared builders for the domain unit tests.

The builders are exposed as session-scoped fixtures (plain functions), so hypothesis tests may use them too:

- `make_line(**overrides)` -> a valid `ReturnLineRequest`
- `line_data(**overrides)` -> the same as a JSON-like dict
- `make_request(lines=[...], **overrides)` -> a valid `ReturnRequest`; `lines` may hold dicts of line overrides or
  built lines, and `amount_captured` defaults to exactly the lines' delivered value plus `shipping_paid`
- `request_data(...)` -> the same as a JSON-like dict (to break on purpose)
- `make_book(**updates)` -> the default policy book with `updates` deep-merged into its single version
- `version_data(**updates)` -> that version as a dict (to build books of several versions)
- `policy_book` -> the shipped default policy book
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from rma.domain.policy.model import PolicyBook
from rma.domain.requests import ReturnLineRequest, ReturnRequest
from rma.policies.loader import load_policy_book

# Ordered and delivered well outside the default holiday season (Nov 1 - Dec 31).
ORDER_DATE = date(2026, 9, 1)
DELIVERY_DATE = date(2026, 9, 8)  # a Tuesday: the default 30-day window closes Thursday 2026-10-08
TODAY = date(2026, 9, 10)  # well inside that window

_LINE: dict[str, Any] = {
    "order_line_id": "ol-1",
    "sku": "KETTLE-1L-BLK",
    "item_name": "Electric kettle",
    "category": "home",
    "quantity_delivered": 1,
    "quantity_to_return": 1,
    "unit_price": 4_999,
    "tax": 400,
    "condition": "unopened",
    "reason_code": "CR-UNWANTED_ITEM",
}

_REQUEST: dict[str, Any] = {
    "upstream_request_id": "req-1",
    "channel": "amazon",
    "order_id": "113-4567890-1234567",
    "order_date": ORDER_DATE.isoformat(),
    "delivery_date": DELIVERY_DATE.isoformat(),
    "customer_id": "cust-1",
    "contact": {"name": "Jordan Example", "email": "jordan@example.com"},
    "return_from": {
        "name": "Jordan Example",
        "line1": "500 Market Street",
        "city": "Springfield",
        "postal_code": "62701",
        "country": "US",
    },
    "currency": "USD",
    "shipping_paid": 0,
}


def _line_data(**overrides: Any) -> dict[str, Any]:
    return {**copy.deepcopy(_LINE), **overrides}


def _make_line(**overrides: Any) -> ReturnLineRequest:
    return ReturnLineRequest.model_validate(_line_data(**overrides))


def _as_line_dict(line: dict[str, Any] | ReturnLineRequest, index: int) -> dict[str, Any]:
    if isinstance(line, ReturnLineRequest):
        return line.model_dump(mode="json", exclude_none=True)
    return _line_data(**{"order_line_id": f"ol-{index + 1}", **line})


def _request_data(*, lines: list[dict[str, Any] | ReturnLineRequest] | None = None, **overrides: Any) -> dict[str, Any]:
    data = copy.deepcopy(_REQUEST)
    data["lines"] = [_as_line_dict(line, i) for i, line in enumerate(lines if lines is not None else [{}])]
    for key, value in overrides.items():
        data[key] = value.isoformat() if isinstance(value, date) else value
    if "amount_captured" not in overrides:
        goods = sum(line["unit_price"] * line["quantity_delivered"] + line["tax"] for line in data["lines"])
        data["amount_captured"] = goods + data["shipping_paid"]
    return data


def _make_request(*, lines: list[dict[str, Any] | ReturnLineRequest] | None = None, **overrides: Any) -> ReturnRequest:
    return ReturnRequest.model_validate(_request_data(lines=lines, **overrides))


_DEFAULT_BOOK = load_policy_book()


def _deep_merge(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and value:
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _version_data(**updates: Any) -> dict[str, Any]:
    return _deep_merge(_DEFAULT_BOOK.versions[0].model_dump(), updates)


def _make_book(**updates: Any) -> PolicyBook:
    return PolicyBook.model_validate({"versions": [_version_data(**updates)]})


@pytest.fixture(scope="session")
def policy_book() -> PolicyBook:
    return _DEFAULT_BOOK


@pytest.fixture(scope="session")
def make_line():
    return _make_line


@pytest.fixture(scope="session")
def line_data():
    return _line_data


@pytest.fixture(scope="session")
def make_request():
    return _make_request


@pytest.fixture(scope="session")
def request_data():
    return _request_data


@pytest.fixture(scope="session")
def make_book():
    return _make_book


@pytest.fixture(scope="session")
def version_data():
    return _version_data
