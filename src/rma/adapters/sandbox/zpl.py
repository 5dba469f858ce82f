"""A 4x6 in thermal label in ZPL II (203 dpi) with a Code 128 tracking barcode and the RMA number.

The sandbox carrier returns this; real carriers return their own. The address block prints the sender's name, city and
postal code only, as the label needs; the document is stored with the label, never logged.
"""

from __future__ import annotations

from rma.domain.requests import Address

WAREHOUSE = ("RETURNS CENTER", "100 WAREHOUSE WAY", "RENO NV 89502", "US")


def _clean(text: str) -> str:
    # ZPL field data: ^ and ~ are control prefixes.
    return text.replace("^", " ").replace("~", " ").upper()[:40]


def render_zpl(*, tracking_number: str, rma_number: str, ship_from: Address | None) -> bytes:
    sender = (
        [ship_from.name, f"{ship_from.city} {ship_from.postal_code}", ship_from.country]
        if ship_from is not None
        else ["(SENDER ON FILE)"]
    )
    lines = [
        "^XA",
        "^PW812^LL1218",  # 4 x 6 in at 203 dpi
        "^CF0,30",
        *(f"^FO40,{40 + i * 36}^FD{_clean(text)}^FS" for i, text in enumerate(sender)),
        "^FO40,200^GB732,3,3^FS",
        "^CF0,40",
        *(f"^FO40,{230 + i * 46}^FD{_clean(text)}^FS" for i, text in enumerate(WAREHOUSE)),
        "^FO40,440^GB732,3,3^FS",
        "^CF0,34",
        f"^FO40,470^FDRMA {_clean(rma_number)}^FS",
        f"^FO40,520^BY3^BCN,160,Y,N,N^FD{rma_number}^FS",
        "^FO40,760^GB732,3,3^FS",
        f"^FO40,790^FDTRACKING {tracking_number}^FS",
        f"^FO40,840^BY3^BCN,200,Y,N,N^FD{tracking_number}^FS",
        "^XZ",
    ]
    return "\n".join(lines).encode("ascii", errors="replace")
