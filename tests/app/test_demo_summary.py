"""The demo's summary says what its money figures are: the currency, and the unit of every amount."""

from __future__ import annotations

import json

from rich.console import Console

from rma.cli.demo import _table
from rma.demo.embedded import RefundFigures, Summary


def _summary(refunds: dict[str, RefundFigures]) -> Summary:
    return Summary(
        total=10,
        by_status={"closed": 10},
        non_terminal=0,
        refunds_by_currency=refunds,
        wall_seconds=1.0,
        returns_per_second=10.0,
    )


def _rendered(summary: Summary) -> str:
    console = Console(width=200, record=True)
    console.print(_table(summary.as_dict(), speed=172_800.0))
    return console.export_text()


def test_one_currency_keeps_refund_total_an_integer_and_names_its_currency() -> None:
    out = json.loads(json.dumps(_summary({"USD": RefundFigures(amount_minor=123456, refunds=7)}).as_dict()))
    assert out["refund_total"] == 123456
    assert out["refund_currency"] == "USD"
    assert out["refunds"] == 7
    assert out["refunds_by_currency"] == {"USD": {"amount_minor": 123456, "formatted": "1234.56 USD", "refunds": 7}}


def test_several_currencies_have_no_single_total() -> None:
    summary = _summary({"USD": RefundFigures(1000, 1), "JPY": RefundFigures(1500, 2)})
    out = summary.as_dict()
    assert out["refund_total"] is None
    assert out["refund_currency"] is None
    assert out["refunds"] == 3
    assert out["refunds_by_currency"] == {
        "JPY": {"amount_minor": 1500, "formatted": "1500 JPY", "refunds": 2},
        "USD": {"amount_minor": 1000, "formatted": "10.00 USD", "refunds": 1},
    }
    assert "3 (1500 JPY, 10.00 USD)" in _rendered(summary)


def test_no_refunds() -> None:
    out = _summary({}).as_dict()
    assert (out["refund_total"], out["refund_currency"], out["refunds"], out["refunds_by_currency"]) == (0, None, 0, {})
    assert "0 (none)" in _rendered(_summary({}))


def test_the_table_shows_the_currency() -> None:
    assert "7 (1234.56 USD)" in _rendered(_summary({"USD": RefundFigures(amount_minor=123456, refunds=7)}))
