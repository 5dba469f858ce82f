"""The 4x6 in label laid out once, in points from the top-left corner, for the PDF and the ZPL renderers alike.

Barcode modules are whole printer dots at 203 dpi (the common thermal printer), and bars start on a dot, so a label
printed or rasterised at that resolution has crisp, even bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from rma.adapters.documents.barcodes import QR_BORDER, QUIET_MODULES, code128_modules, code128_value, qr_matrix
from rma.adapters.documents.fields import address_lines, weight_lines
from rma.adapters.documents.text import DESCENT, LEADING, Item, Line, fit_block, fit_text, printable, text_width
from rma.ports.documents import LabelData

WIDTH: Final = 288.0  # 4 in
HEIGHT: Final = 432.0  # 6 in
DPI: Final = 203
DOT: Final = 72 / DPI
MARGIN: Final = 12.0
CONTENT: Final = WIDTH - 2 * MARGIN
EDGE: Final = 4.0
"""Nothing is printed nearer the edge than this, quiet zones included (a label's position on the roll varies)."""
REGULAR: Final = "Helvetica"
BOLD: Final = "Helvetica-Bold"


@dataclass(frozen=True, slots=True)
class Text:
    x: float
    top: float
    line: Line
    centred_in: float | None = None  # centred in this width from x, else left-aligned at x


@dataclass(frozen=True, slots=True)
class Rule:
    x: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Bars:
    """A Code 128 symbol: `x` is its first bar (the quiet zones lie outside it)."""

    value: str
    x: float
    top: float
    module: float
    height: float


@dataclass(frozen=True, slots=True)
class Qr:
    """A QR symbol: (`x`, `top`) is its first module (the quiet zone lies outside it)."""

    payload: str
    matrix: list[list[bool]]
    x: float
    top: float
    module: float


Op = Text | Rule | Bars | Qr


def snap(value: float) -> float:
    """`value` moved to the nearest printer dot."""
    return round(value / DOT) * DOT


def _texts(items: list[Item], *, x: float, top: float, width: float, height: float, centred: bool = False) -> list[Op]:
    ops: list[Op] = []
    for line in fit_block(items, width=width, height=height):
        ops.append(Text(x, top, line, width if centred else None))
        top += line.height
    return ops


def _bars(value: str, *, top: float, height: float, dots: tuple[int, ...]) -> Bars:
    """`value` centred across the label, its modules the widest of `dots` that fit; narrower than a dot if none."""
    modules = code128_modules(value)
    span = modules + 2 * QUIET_MODULES
    room = WIDTH - 2 * EDGE
    fitting = [dot * DOT for dot in dots if span * dot * DOT <= room]
    module = fitting[0] if fitting else room / span
    return Bars(value, snap((WIDTH - modules * module) / 2), top, module, height)


def _qr(payload: str, *, x: float, top: float, size: float) -> Qr:
    """The QR symbol in a `size` square (quiet zone included), modules in whole dots where two or more fit."""
    matrix = qr_matrix(payload)
    span = len(matrix) + 2 * QR_BORDER
    dots = math.floor(size / (span * DOT))
    module = dots * DOT if dots >= 2 else size / span
    offset = (size - span * module) / 2 + QR_BORDER * module
    return Qr(payload, matrix, snap(x + offset), snap(top + offset), module)


def _centred(text: str, *, font: str, size: float, min_size: float, top: float) -> Text:
    fitted = fit_text(text, font=font, size=size, min_size=min_size, width=CONTENT)
    return Text(MARGIN, top, Line(fitted.lines[0], font, fitted.size), CONTENT)


def label_layout(data: LabelData) -> list[Op]:
    """Carrier and weight; from; ship to; the tracking barcode; the RMA number and its barcode."""
    tracking = code128_value(data.tracking_number, what="tracking number")
    rma = code128_value(data.rma_number, what="RMA number")
    pounds, ounces = weight_lines(data.weight_oz)
    ops: list[Op] = []

    # Carrier and service, and the weight in a box on the right.
    box = 78.0
    ops += _texts(
        [Item(printable(data.carrier), BOLD, 20, 10), Item(printable(data.service), REGULAR, 10, 7, max_lines=2)],
        x=MARGIN,
        top=MARGIN,
        width=CONTENT - box - 6,
        height=44,
    )
    box_x = WIDTH - MARGIN - box
    ops += [Rule(box_x, MARGIN, box, 1), Rule(box_x, MARGIN + 41, box, 1)]
    ops += [Rule(box_x, MARGIN, 1, 42), Rule(box_x + box - 1, MARGIN, 1, 42)]
    ops += _texts(
        [Item(pounds, BOLD, 13, 7, space_before=6), Item(ounces, REGULAR, 9, 6)],
        x=box_x + 3,
        top=MARGIN,
        width=box - 6,
        height=42,
        centred=True,
    )
    ops.append(Rule(MARGIN, 57, CONTENT, 1.5))

    # From: the customer, with the drop-off QR code on the right when the carrier gives one.
    qr_size = 80.0
    from_width = CONTENT - (qr_size + 4 if data.qr_payload else 0)
    sender = [printable(line) for line in address_lines(data.ship_from)]
    ops += _texts(
        [
            Item("FROM", BOLD, 7, 6),
            Item(sender[0], BOLD, 10, 6, max_lines=2),
            Item(sender[1], REGULAR, 9, 6, max_lines=2),
            *(Item(line, REGULAR, 9, 6) for line in sender[2:]),
        ],
        x=MARGIN,
        top=61,
        width=from_width,
        height=78,
    )
    if data.qr_payload:
        ops.append(_qr(data.qr_payload, x=WIDTH - MARGIN - qr_size + 4, top=59, size=qr_size))
    ops.append(Rule(MARGIN, 141, CONTENT, 1.5))

    # Ship to: the returns centre, larger.
    centre = [printable(line) for line in address_lines(data.ship_to)]
    ops += _texts(
        [
            Item("SHIP TO", BOLD, 8, 6),
            Item(centre[0], BOLD, 16, 9, max_lines=2, space_before=1),
            Item(centre[1], BOLD, 14, 8, max_lines=2),
            *(Item(line, BOLD, 14, 8) for line in centre[2:]),
        ],
        x=MARGIN + 14,
        top=145,
        width=CONTENT - 14,
        height=100,
    )
    ops.append(Rule(MARGIN, 247, CONTENT, 3))

    # Tracking: the carrier's barcode, as wide as it scans best, and its digits.
    ops += _texts([Item("TRACKING #", BOLD, 8, 6)], x=MARGIN, top=253, width=CONTENT, height=10)
    ops.append(_bars(tracking, top=264, height=66, dots=(4, 3, 2)))
    ops.append(_centred(tracking, font=BOLD, size=12, min_size=6, top=333))
    ops.append(Rule(MARGIN, 354, CONTENT, 1.5))

    # The RMA number, for the returns centre to match the parcel at receipt.
    ops.append(_centred(f"RMA {rma}", font=BOLD, size=12, min_size=6, top=358))
    ops.append(_bars(rma, top=376, height=42, dots=(3, 2)))
    return ops


def text_left(op: Text) -> float:
    """Where a line of text starts, centred lines included."""
    if op.centred_in is None:
        return op.x
    return op.x + (op.centred_in - text_width(op.line.text, op.line.font, op.line.size)) / 2


def baseline(op: Text) -> float:
    """How far below the top of the label a line's baseline lies."""
    return op.top + op.line.space_before + op.line.size * (LEADING - DESCENT)
