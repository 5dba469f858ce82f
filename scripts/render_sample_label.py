"""Render a sample return label (sandbox-like data, made-up people) as a PNG, to see what customers print.

uv run python scripts/render_sample_label.py docs/images/sample-label.png
"""

from __future__ import annotations

import sys
from pathlib import Path

from rma.adapters.documents import ReportlabRenderer
from rma.domain.requests import Address
from rma.ports.documents import LabelData

SAMPLE = LabelData(
    rma_number="ACME-7KQ2M9XRT",
    tracking_number="1ZSBX004815162342",
    carrier="Sandbox Parcel",
    service="Ground Returns",
    weight_oz=35.2,
    ship_from=Address(
        name="Zoë Ünal",
        line1="42 Example Lane",
        line2="Apt 4B",
        city="Springfield",
        region="IL",
        postal_code="62704",
        country="US",
    ),
    ship_to=Address(
        name="Acme Returns Centre",
        line1="100 Warehouse Way",
        line2="Dock 7",
        city="Reno",
        region="NV",
        postal_code="89502",
        country="US",
    ),
    qr_payload="https://sandbox.example/drop-off/ACME-7KQ2M9XRT",
)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write(f"usage: {argv[0]} OUTPUT.png\n")
        return 2
    target = Path(argv[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(ReportlabRenderer().label(SAMPLE, label_format="PNG"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
