"""PDF pages as images: the label as a PNG for printers and previews that take pictures, not PDF."""

from __future__ import annotations

import threading
from io import BytesIO

import pypdfium2  # type: ignore[import-untyped]
from PIL import Image

from rma.adapters.documents.label_pdf import render_label_pdf
from rma.adapters.documents.layout import DPI
from rma.ports.documents import LabelData

THRESHOLD = 128
_PDFIUM = threading.Lock()  # pdfium is not thread-safe: one call into it at a time per process


def rasterise(pdf: bytes, *, dpi: int = DPI, page: int = 0) -> Image.Image:
    """One page of `pdf` as a grayscale image at `dpi` (4x6 in at 203 dpi: 812 x 1218 px)."""
    with _PDFIUM:
        document = pypdfium2.PdfDocument(pdf)
        try:
            bitmap = document[page].render(scale=dpi / 72, grayscale=True)
            image: Image.Image = bitmap.to_pil().convert("L")
        finally:
            document.close()
    return image


def label_png(data: LabelData) -> bytes:
    """The label as a 1-bit PNG at 203 dpi, as a thermal printer prints it: black or white, no grey."""
    return rasterise_png(render_label_pdf(data))


def rasterise_png(pdf: bytes) -> bytes:
    """The first page of a PDF label as a 1-bit PNG at 203 dpi."""
    image = rasterise(pdf).point(lambda value: 255 if value >= THRESHOLD else 0, mode="1")
    out = BytesIO()
    image.save(out, format="PNG", optimize=True, dpi=(DPI, DPI))
    return out.getvalue()
