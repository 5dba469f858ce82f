"""The fake EasyPost's documents: a 4x6 label as PDF (reportlab, with a Code 128 barcode), PNG (that PDF rendered
at 203 dpi) or ZPL, and a label QR code as PNG. Test data only: what a real carrier would print, in small."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pypdfium2  # type: ignore[import-untyped]
from PIL import Image
from reportlab.graphics.barcode.code128 import Code128  # type: ignore[import-untyped]
from reportlab.graphics.barcode.qrencoder import QRCode, QRErrorCorrectLevel  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

PAGE = (288, 432)  # 4 x 6 in, in points
DPI = 203  # a thermal printer's


@dataclass(frozen=True, slots=True)
class LabelContent:
    tracking_code: str
    carrier: str
    service: str
    reference: str
    ship_to: tuple[str, ...]  # the lines of the destination (the returns centre)
    ship_from: tuple[str, ...]  # the sender's name and city


def label_pdf(content: LabelContent) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=PAGE)
    canvas.setTitle(f"{content.carrier} {content.tracking_code}")
    canvas.setFont("Helvetica-Bold", 16)
    canvas.drawString(18, 400, f"{content.carrier} {content.service}".upper())
    canvas.setFont("Helvetica", 8)
    for i, line in enumerate(content.ship_from):
        canvas.drawString(18, 380 - i * 10, line.upper())
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(18, 330, "SHIP TO:")
    for i, line in enumerate(content.ship_to):
        canvas.drawString(30, 314 - i * 13, line.upper())
    barcode = Code128(content.tracking_code, barHeight=70, barWidth=1.1, humanReadable=True)
    barcode.drawOn(canvas, 12, 120)
    canvas.setFont("Helvetica", 9)
    canvas.drawString(18, 60, f"REF {content.reference}")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def label_png(content: LabelContent) -> bytes:
    document = pypdfium2.PdfDocument(label_pdf(content))
    try:
        image: Image.Image = document[0].render(scale=DPI / 72, grayscale=True).to_pil()
        return _png(image)
    finally:
        document.close()


def _zpl_text(text: str) -> str:
    return text.replace("^", " ").replace("~", " ").upper()[:40]


def label_zpl(content: LabelContent) -> bytes:
    lines = [
        "^XA",
        "^PW812^LL1218",
        f"^FO40,40^A0N,44,44^FD{_zpl_text(content.carrier + ' ' + content.service)}^FS",
        *(f"^FO40,{100 + i * 30}^A0N,24,24^FD{_zpl_text(line)}^FS" for i, line in enumerate(content.ship_from)),
        "^FO40,260^A0N,32,32^FDSHIP TO:^FS",
        *(f"^FO70,{300 + i * 40}^A0N,34,34^FD{_zpl_text(line)}^FS" for i, line in enumerate(content.ship_to)),
        f"^FO40,700^BY3^BCN,200,Y,N,N^FD{content.tracking_code}^FS",
        f"^FO40,1100^A0N,28,28^FDREF {_zpl_text(content.reference)}^FS",
        "^XZ",
    ]
    return ("\n".join(lines) + "\n").encode()


def qr_png(payload: str, *, module_pixels: int = 8, quiet_modules: int = 4) -> bytes:
    """A QR code (error correction M) of `payload`, black on white, with the standard quiet zone."""
    code = QRCode(None, QRErrorCorrectLevel.M)
    code.addData(payload)
    code.make()
    modules: int = code.getModuleCount()
    side = (modules + 2 * quiet_modules) * module_pixels
    image = Image.new("L", (side, side), 255)
    for row in range(modules):
        for col in range(modules):
            if code.isDark(row, col):
                x, y = (col + quiet_modules) * module_pixels, (row + quiet_modules) * module_pixels
                image.paste(0, (x, y, x + module_pixels, y + module_pixels))
    return _png(image)
