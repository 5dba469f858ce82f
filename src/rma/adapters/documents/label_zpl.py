"""The 4x6 in label in ZPL II for 203 dpi thermal printers: the PDF's layout, in printer dots and fonts.

The printer draws the barcodes itself (^BC Code 128 in automatic mode, ^BQ QR), so they are as sharp as its head.
Text uses the scalable font 0; its width is estimated with Helvetica's metrics, a little wider than font 0's.
"""

from __future__ import annotations

from rma.adapters.documents.layout import DOT, Bars, Op, Qr, Rule, Text, label_layout, text_left
from rma.adapters.documents.text import LEADING
from rma.ports.documents import LabelData

WIDTH_DOTS = 812
HEIGHT_DOTS = 1218
_CONTROL = "^~"  # ZPL's command prefixes: in field data they would start a command


def _dots(points: float) -> int:
    return round(points / DOT)


def _text(value: str) -> str:
    """Human-readable field data: a command prefix in a name is printed as a space."""
    return "".join(" " if char in _CONTROL else char for char in value)


def _exact(value: str) -> str:
    """Field data a barcode must carry exactly: ^FH hex escapes (_5E) for anything ZPL would read otherwise."""
    if not any(char in _CONTROL or ord(char) < 32 for char in value):
        return f"^FD{value}"
    escaped = "".join(
        "".join(f"_{byte:02X}" for byte in char.encode()) if char in f"{_CONTROL}_" or ord(char) < 32 else char
        for char in value
    )
    return f"^FH^FD{escaped}"


def _command(op: Op) -> str:
    match op:
        case Text(line=line):
            size = _dots(line.size)
            top = _dots(op.top + line.space_before + line.size * (LEADING - 1) / 2)
            return f"^FO{_dots(text_left(op))},{top}^A0N,{size},{size}^FD{_text(line.text)}^FS"
        case Rule(x=x, top=top, width=width, height=height):
            w, h = max(1, _dots(width)), max(1, _dots(height))
            return f"^FO{_dots(x)},{_dots(top)}^GB{w},{h},{min(w, h)}^FS"
        case Bars(value=value, x=x, top=top, module=module, height=height):
            # Mode A: the printer picks the code sets, and ">" in the data is data, not a set switch.
            module_dots = max(1, _dots(module))
            return f"^FO{_dots(x)},{_dots(top)}^BY{module_dots}^BCN,{_dots(height)},N,N,N,A{_exact(value)}^FS"
        case Qr(payload=payload, x=x, top=top, module=module):
            # Model 2, error correction M, automatic input mode: "MA," starts the data.
            magnification = min(10, max(1, _dots(module)))
            return f"^FO{_dots(x)},{_dots(top)}^BQN,2,{magnification}{_exact('MA,' + payload)}^FS"


def render_label_zpl(data: LabelData) -> bytes:
    """The label as one ZPL II format (^XA..^XZ), UTF-8 (^CI28)."""
    lines = [
        "^XA",
        "^CI28",
        f"^PW{WIDTH_DOTS}",
        f"^LL{HEIGHT_DOTS}",
        "^LH0,0",
        *(_command(op) for op in label_layout(data)),
        "^XZ",
    ]
    return ("\n".join(lines) + "\n").encode()
