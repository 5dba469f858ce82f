"""A realistic, reproducible mix of return requests.

Kinds: in-policy buyer remorse, defective, damaged in transit, wrong item sent, out of window, non-returnable,
manual review (high value), returnless (cheap), multi-line partial returns, unknown reason codes.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any, Final

from rma.domain.requests import ReturnRequest

KINDS: Final = (
    ("remorse_unopened", 22),
    ("remorse_opened", 14),
    ("defective", 14),
    ("damaged_in_transit", 6),
    ("wrong_item_sent", 5),
    ("not_as_described", 5),
    ("multi_line_partial", 8),
    ("returnless_cheap", 8),
    ("high_value_review", 6),
    ("out_of_window", 6),
    ("non_returnable", 4),
    ("unknown_reason", 2),
)

_CATALOGUE: Final = (
    ("KETTLE-1L", "Electric kettle 1 l", "home", 4_999),
    ("MUG-SET-4", "Stoneware mug set", "home", 2_899),
    ("HDPH-BT-200", "Bluetooth headphones", "electronics", 12_900),
    ("USB-C-CABLE", "USB-C cable 1 m", "accessories", 799),
    ("JACKET-M", "Rain jacket, size M", "apparel", 8_950),
    ("SNEAKER-42", "Running shoes, EU 42", "apparel", 11_000),
    ("LAMP-DESK", "LED desk lamp", "home", 3_499),
    ("SOCKS-3", "Cotton socks, 3 pairs", "apparel", 899),
)
_TV: Final = ("TV-65-OLED", "65-inch OLED television", "electronics", 179_900)
_BATTERY: Final = ("LIPO-5000", "Li-ion battery pack", "hazmat", 3_999)


def _line(rng: random.Random, n: int, item: tuple[str, str, str, int], reason: str, condition: str) -> dict[str, Any]:
    sku, name, category, price = item
    delivered = rng.choice((1, 1, 1, 2))
    return {
        "order_line_id": f"ol-{n}",
        "sku": sku,
        "item_name": name,
        "category": category,
        "quantity_delivered": delivered,
        "quantity_to_return": rng.randint(1, delivered),
        "unit_price": price,
        "tax": price * delivered * 8 // 100,
        "condition": condition,
        "reason_code": reason,
    }


def _lines_for(kind: str, rng: random.Random) -> list[dict[str, Any]]:
    pick = rng.choice
    simple: dict[str, tuple[str, str]] = {
        "remorse_unopened": (pick(("CR-UNWANTED_ITEM", "CR-FOUND_BETTER_PRICE", "NO_LONGER_NEEDED")), "unopened"),
        "remorse_opened": (pick(("CR-UNWANTED_ITEM", "AMZ-PG-APP-TOO-SMALL", "ORDERED_WRONG_ITEM")), "opened"),
        "defective": (pick(("CR-DEFECTIVE", "DEFECTIVE", "AMZ-PG-DEFECTIVE")), pick(("opened", "used"))),
        "damaged_in_transit": ("CR-DAMAGED_BY_CARRIER", "damaged"),
        "wrong_item_sent": ("WRONG_ITEM", "unopened"),
        "not_as_described": ("AMZ-PG-BAD-DESC", "opened"),
        "out_of_window": ("CR-UNWANTED_ITEM", "opened"),
        "unknown_reason": ("GIFT_NOT_LIKED", "unopened"),
    }
    expensive = [item for item in _CATALOGUE if item[3] > 1_000]
    if kind in simple:
        reason, condition = simple[kind]
        return [_line(rng, 1, pick(expensive), reason, condition)]
    if kind == "returnless_cheap":
        cheap = [item for item in _CATALOGUE if item[3] <= 1_000]
        return [_line(rng, 1, pick(cheap), "CR-UNWANTED_ITEM", "opened")]
    if kind == "high_value_review":
        return [_line(rng, 1, _TV, "CR-DEFECTIVE", "opened")]
    if kind == "non_returnable":
        return [_line(rng, 1, _BATTERY, "CR-UNWANTED_ITEM", "unopened")]
    # multi_line_partial: three lines of one order, some returning part of their quantity
    return [
        _line(rng, n, item, pick(("CR-UNWANTED_ITEM", "DEFECTIVE")), "opened")
        for n, item in enumerate(rng.sample(expensive, 3), start=1)
    ]


def generate(count: int, *, today: date, seed: int = 7, channel: str = "demo") -> list[ReturnRequest]:
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not security
    kinds = [kind for kind, weight in KINDS for _ in range(weight)]
    requests = []
    for i in range(count):
        kind = rng.choice(kinds)
        lines = _lines_for(kind, rng)
        delivered = today - timedelta(days=rng.randint(45, 80) if kind == "out_of_window" else rng.randint(1, 20))
        ordered = delivered - timedelta(days=rng.randint(2, 6))
        shipping = rng.choice((0, 499, 599, 999))
        goods = sum(line["unit_price"] * line["quantity_delivered"] + line["tax"] for line in lines)
        requests.append(
            ReturnRequest.model_validate(
                {
                    "upstream_request_id": f"{seed}-{i:07d}",
                    "channel": channel,
                    "marketplace": "DEMO",
                    "order_id": f"{seed}-{i:07d}-order",
                    "order_date": ordered.isoformat(),
                    "delivery_date": delivered.isoformat(),
                    "customer_id": f"cust-{rng.randint(1, max(2, count // 3)):06d}",
                    "contact": {"name": "Demo Customer", "email": f"customer{i}@example.com"},
                    "return_from": {
                        "name": "Demo Customer",
                        "line1": f"{rng.randint(1, 999)} Example Street",
                        "city": "Springfield",
                        "postal_code": f"{rng.randint(10000, 99999)}",
                        "country": "US",
                    },
                    "lines": lines,
                    "currency": "USD",
                    "shipping_paid": shipping,
                    "amount_captured": goods + shipping + rng.choice((0, 0, 2_500)),
                }
            )
        )
    return requests
