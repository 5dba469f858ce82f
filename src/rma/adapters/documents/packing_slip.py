"""The packing slip that travels inside the box: what was sent back and under which RMA, on Letter or A4.

Every page carries the RMA number and its barcode, so a page that comes loose still matches its parcel at receipt.
"""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any, Final, Literal
from xml.sax.saxutils import escape

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4, LETTER  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from rma.adapters.documents.barcodes import code128_modules, code128_value, draw_code128
from rma.adapters.documents.fields import address_lines
from rma.adapters.documents.text import fit_text, printable, wrap
from rma.ports.documents import SlipData

Paper = Literal["letter", "a4"]
PAPER_SIZES: Final[dict[str, tuple[float, float]]] = {"letter": LETTER, "a4": A4}
INSTRUCTION: Final = "Put this slip inside the box, on top of the items, before you seal it."
MARGIN: Final = 48.0
HEADER: Final = 78.0  # the title and the RMA barcode, above the flowing content
FOOTER: Final = 30.0
MODULE: Final = 1.1  # 0.015 in bars: laser and inkjet printers render them well
REGULAR: Final = "Helvetica"
BOLD: Final = "Helvetica-Bold"
CELL_SIZE: Final = 9.5
CELL_PADDING: Final = 6.0

_BODY = ParagraphStyle("body", fontName=REGULAR, fontSize=9.5, leading=12)
_BOLD = ParagraphStyle("bold", parent=_BODY, fontName=BOLD)
_NOTICE = ParagraphStyle(
    "notice", fontName=BOLD, fontSize=12, leading=15, borderColor=colors.black, borderWidth=1.5, borderPadding=8
)
_HEADING = ParagraphStyle("heading", fontName=BOLD, fontSize=12, leading=15, spaceBefore=6, spaceAfter=6)


def paper_size(paper: str) -> tuple[float, float]:
    try:
        return PAPER_SIZES[paper.lower()]
    except KeyError:
        raise ValueError(f"unsupported paper {paper!r}: choose one of {', '.join(PAPER_SIZES)}") from None


def _p(text: str, style: ParagraphStyle = _BODY) -> Paragraph:
    # Paragraphs read a little XML: names with & or < are escaped, then reduced to what the fonts can print.
    return Paragraph(escape(printable(text)), style)


def _details(data: SlipData, width: float) -> Table:
    rows = [
        ("RMA number", data.rma_number),
        ("Order", data.order_id),
        ("Customer", data.customer_name),
        *([("Tracking", data.tracking_number)] if data.tracking_number else []),
    ]
    address = "<br/>".join(escape(printable(line)) for line in address_lines(data.ship_to))
    cells = [[_p(label, _BOLD), _p(value)] for label, value in rows]
    cells.append([_p("Return to", _BOLD), Paragraph(address, _BODY)])
    table = Table(cells, colWidths=[90, width - 90], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))
    return table


def _cell(text: str, width: float) -> str:
    # Wrapped here rather than as Paragraphs: a plain-string table lays out ten times faster, and a long slip is
    # built twice.
    return "\n".join(wrap(printable(text), REGULAR, CELL_SIZE, width - 2 * CELL_PADDING))


def _lines(data: SlipData, width: float) -> Table:
    widths = [0.22 * width, 0.44 * width, 0.08 * width, 0.26 * width]
    header = ["SKU", "Item", "Qty", "Reason"]
    rows = [
        [_cell(text, column) for text, column in zip(fields, widths, strict=True)]
        for fields in ((line.sku, line.item_name, str(line.quantity), line.reason) for line in data.lines)
    ]
    table = Table([header, *rows], colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), REGULAR, CELL_SIZE, CELL_SIZE * 1.25),
                ("FONT", (0, 0), (-1, 0), BOLD, CELL_SIZE, CELL_SIZE * 1.25),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("LINEBELOW", (0, 0), (-1, 0), 1.2, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.Color(0.94, 0.94, 0.94)]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _story(data: SlipData, width: float) -> list[Any]:
    units = sum(line.quantity for line in data.lines)
    count = f"{len(data.lines)} line{'s' * (len(data.lines) != 1)}, {units} unit{'s' * (units != 1)}"
    return [
        _p(INSTRUCTION, _NOTICE),
        Spacer(1, 16),
        _details(data, width),
        Spacer(1, 10),
        _p(f"Items ({count})", _HEADING),
        _lines(data, width),
    ]


def _page_decoration(data: SlipData, size: tuple[float, float], total: int | None) -> Callable[[Any, Any], None]:
    """Title, RMA barcode and number at the top of every page; the instruction and "page i of n" at the foot."""
    width, height = size
    rma = code128_value(data.rma_number, what="RMA number")
    bars = code128_modules(rma) * MODULE

    def decorate(canvas: Any, _doc: Any) -> None:  # noqa: ANN401 (reportlab's canvas and document are untyped)
        canvas.saveState()
        top = height - MARGIN
        canvas.setFont(BOLD, 20)
        canvas.drawString(MARGIN, top - 20, "Return packing slip")
        bar_x = width - MARGIN - bars
        order = fit_text(
            f"Order {printable(data.order_id)}", font=REGULAR, size=11, min_size=6, width=bar_x - MARGIN - 12
        )
        canvas.setFont(REGULAR, order.size)
        canvas.drawString(MARGIN, top - 38, order.lines[0])
        draw_code128(canvas, rma, x=bar_x, y=top - 44, module=MODULE, height=44)
        fitted = fit_text(f"RMA {rma}", font=BOLD, size=11, min_size=6, width=max(bars, 120))
        canvas.setFont(BOLD, fitted.size)
        canvas.drawCentredString(bar_x + bars / 2, top - 58, fitted.lines[0])
        canvas.setLineWidth(0.75)
        canvas.line(MARGIN, MARGIN + 16, width - MARGIN, MARGIN + 16)
        canvas.setFont(BOLD, 9)
        canvas.drawString(MARGIN, MARGIN + 4, INSTRUCTION)
        canvas.setFont(REGULAR, 9)
        page = canvas.getPageNumber()
        canvas.drawRightString(width - MARGIN, MARGIN + 4, f"page {page} of {total or page}")
        canvas.restoreState()

    return decorate


def _build(data: SlipData, size: tuple[float, float], total: int | None) -> tuple[bytes, int]:
    out = BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=size,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER,
        bottomMargin=MARGIN + FOOTER,
        title=f"Packing slip {data.rma_number}",
        invariant=1,
    )
    decorate = _page_decoration(data, size, total)
    document.build(_story(data, document.width), onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue(), int(document.page)


def render_packing_slip(data: SlipData, *, paper: Paper = "letter") -> bytes:
    """The slip as PDF bytes; the same data give the same bytes.

    Built twice: the first pass counts the pages, so that each page can say "page i of n".
    """
    size = paper_size(paper)
    _, pages = _build(data, size, None)
    pdf, _ = _build(data, size, pages)
    return pdf
