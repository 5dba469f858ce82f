"""The 4x6 in label as a one-page PDF (reportlab's standard fonts, vector barcodes)."""

from __future__ import annotations

from io import BytesIO

from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from rma.adapters.documents.barcodes import draw_code128, draw_qr
from rma.adapters.documents.layout import HEIGHT, WIDTH, Bars, Op, Qr, Rule, Text, baseline, label_layout, text_left
from rma.ports.documents import LabelData


def _draw(canvas: Canvas, op: Op) -> None:
    # The layout measures down from the top; PDF measures up from the bottom.
    match op:
        case Text(line=line):
            canvas.setFont(line.font, line.size)
            canvas.drawString(text_left(op), HEIGHT - baseline(op), line.text)
        case Rule(x=x, top=top, width=width, height=height):
            canvas.rect(x, HEIGHT - top - height, width, height, stroke=0, fill=1)
        case Bars(value=value, x=x, top=top, module=module, height=height):
            draw_code128(canvas, value, x=x, y=HEIGHT - top - height, module=module, height=height)
        case Qr(matrix=matrix, x=x, top=top, module=module):
            draw_qr(canvas, matrix, x=x, top=HEIGHT - top, module=module)


def render_label_pdf(data: LabelData) -> bytes:
    """The label as PDF bytes; the same data give the same bytes (no timestamps or random ids in the file)."""
    ops = label_layout(data)
    out = BytesIO()
    canvas = Canvas(out, pagesize=(WIDTH, HEIGHT), invariant=1, pageCompression=1)
    canvas.setTitle(f"Return label {data.rma_number}")
    for op in ops:
        _draw(canvas, op)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
