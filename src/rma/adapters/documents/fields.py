"""What a label says, as text, the same whichever format prints it."""

from __future__ import annotations

from rma.domain.requests import Address


def address_lines(address: Address) -> list[str]:
    """Name, street lines, "city region postal code", country: the order a carrier's sorter reads."""
    place = " ".join(part for part in (address.city, address.region, address.postal_code) if part)
    return [address.name, address.line1, *([address.line2] if address.line2 else []), place, str(address.country)]


def _ounces(tenths: int) -> str:
    return f"{tenths // 10}" if tenths % 10 == 0 else f"{tenths / 10:.1f}"


def weight_lines(weight_oz: float) -> tuple[str, str]:
    """("2 lb 3 oz", "35 oz"): pounds and ounces as carriers print them, then ounces, to a tenth."""
    tenths = max(0, round(weight_oz * 10))  # rounded once, so 15.96 oz reads "1 lb 0 oz", never "0 lb 16 oz"
    pounds, rest = divmod(tenths, 160)
    return f"{pounds} lb {_ounces(rest)} oz", f"{_ounces(tenths)} oz"
