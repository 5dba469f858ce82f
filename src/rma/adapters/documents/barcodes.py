"""Code 128 and QR symbols as geometry (bars, modules), drawn the same way into a PDF page or a raster."""

from __future__ import annotations

from typing import Any

from reportlab.graphics.barcode.code128 import Code128  # type: ignore[import-untyped]
from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]

QUIET_MODULES = 10
"""Code 128's quiet zone on each side, in modules (ISO/IEC 15417)."""
QR_BORDER = 4
"""A QR symbol's quiet zone on each side, in modules (ISO/IEC 18004)."""


def code128_value(value: str, *, what: str) -> str:
    """`value` if Code 128 can carry it as it is (printable ASCII), else ValueError naming `what`.

    reportlab would silently drop other characters, and a barcode that scans as something else is worse than none.
    """
    if not value or any(not " " <= char <= "~" for char in value):
        raise ValueError(f"{what} {value!r} cannot be a Code 128 barcode: it must be printable ASCII")
    return value


def code128_runs(value: str) -> list[tuple[bool, int]]:
    """The symbol for `value` (start, data, check, stop) as (is a bar, width in modules) runs, left to right."""
    symbol = Code128(code128_value(value, what="value"), quiet=0)
    symbol.validate()
    symbol.encode()
    # reportlab spells the pattern as letters: upper case a bar, lower case a space, "A"/"a" one module wide.
    return [(char.isupper(), ord(char.lower()) - ord("a") + 1) for char in str(symbol.decompose())]


def code128_modules(value: str) -> int:
    return sum(width for _, width in code128_runs(value))


def qr_matrix(payload: str) -> list[list[bool]]:
    """The QR symbol (error correction M, smallest version that holds `payload`), dark modules True, no border."""
    widget = QrCodeWidget(payload, barLevel="M")
    widget.qr.make()
    return [[bool(module) for module in row] for row in widget.qr.modules]


def draw_code128(canvas: Any, value: str, *, x: float, y: float, module: float, height: float) -> None:  # noqa: ANN401 (reportlab's Canvas is untyped)
    """Bars of `value` with the left edge at `x` and the bottom at `y` (PDF coordinates), no human-readable text."""
    for is_bar, width in code128_runs(value):
        if is_bar:
            canvas.rect(x, y, width * module, height, stroke=0, fill=1)
        x += width * module


def draw_qr(canvas: Any, matrix: list[list[bool]], *, x: float, top: float, module: float) -> None:  # noqa: ANN401
    """The dark modules with the symbol's top-left corner at (`x`, `top`) (PDF coordinates), one rect per run."""
    for row_index, row in enumerate(matrix):
        y = top - (row_index + 1) * module
        column = 0
        while column < len(row):
            end = column
            while end < len(row) and row[end] == row[column]:
                end += 1
            if row[column]:
                canvas.rect(x + column * module, y, (end - column) * module, module, stroke=0, fill=1)
            column = end
