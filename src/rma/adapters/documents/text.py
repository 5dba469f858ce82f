"""Text as the standard fonts can print it, shrunk or wrapped to fit its box (never past it)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from reportlab.pdfbase.pdfmetrics import stringWidth  # type: ignore[import-untyped]

ELLIPSIS: Final = "..."
LEADING: Final = 1.2
"""A line's height as a multiple of its font size."""
DESCENT: Final = 0.22
"""How far above a line's bottom its baseline sits, as a multiple of the font size (Helvetica descends 0.207)."""


def _encodable(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """`text` with only characters the standard fonts can draw.

    reportlab's standard (Type 1) fonts cover WinAnsi only (Latin-1 and a few more, cp1252), and a label must not
    depend on which TrueType fonts a machine has. So a character outside it becomes its unaccented form where Unicode
    gives one (ś becomes s, ő becomes o) or else "?" (Ł, 李); the stored data keep the real name.
    Control characters become spaces, invisible formatting characters (soft hyphen, zero-width joiner) go.
    """
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category == "Cc":
            out.append(" ")
        elif category[0] == "C":
            continue
        elif _encodable(char):
            out.append(char)
        else:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            ok = base and all(_encodable(c) and unicodedata.category(c)[0] != "C" for c in base)
            out.append(base if ok else "?")
    return "".join(out)


def text_width(text: str, font: str, size: float) -> float:
    return float(stringWidth(text, font, size))


def _break_word(word: str, font: str, size: float, width: float) -> list[str]:
    """A word too long for a line, cut into pieces that fit (at least one character each)."""
    pieces = []
    while text_width(word, font, size) > width and len(word) > 1:
        cut = 1
        while cut < len(word) and text_width(word[: cut + 1], font, size) <= width:
            cut += 1
        pieces.append(word[:cut])
        word = word[cut:]
    return [*pieces, word]


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """`text` in lines no wider than `width`, broken at spaces, and inside words only where one is too long."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, font, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        *full, current = _break_word(word, font, size, width)
        lines.extend(full)
    if current:
        lines.append(current)
    return lines or [""]


def _truncate(lines: list[str], max_lines: int, font: str, size: float, width: float) -> list[str]:
    if len(lines) <= max_lines:
        return lines
    kept = lines[:max_lines]
    last = kept[-1]
    while last and text_width(last + ELLIPSIS, font, size) > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + ELLIPSIS
    return kept


def _sizes(size: float, min_size: float) -> list[float]:
    sizes = []
    current = size
    while current > min_size:
        sizes.append(current)
        current -= 0.5
    return [*sizes, min_size]


@dataclass(frozen=True, slots=True)
class Fitted:
    size: float
    lines: list[str]


def fit_text(text: str, *, font: str, size: float, min_size: float, width: float, max_lines: int = 1) -> Fitted:
    """The largest size (down to `min_size`) at which `text` fits `width` in at most `max_lines` lines.

    A little shrinking is preferred to wrapping (a line stays whole down to 85 % of `size`); what does not fit
    even at `min_size` is cut, with an ellipsis, so the text never leaves its box.
    """
    text = " ".join(text.split())
    sizes = _sizes(size, min(size, min_size))
    for current in sizes:
        if current >= 0.85 * size and text_width(text, font, current) <= width:
            return Fitted(current, [text])
    for current in sizes:
        lines = wrap(text, font, current, width)
        if len(lines) <= max_lines:
            return Fitted(current, lines)
    smallest = sizes[-1]
    return Fitted(smallest, _truncate(wrap(text, font, smallest, width), max_lines, font, smallest, width))


@dataclass(frozen=True, slots=True)
class Item:
    """One piece of text in a block: its font, preferred and smallest size, how many lines it may take."""

    text: str
    font: str
    size: float
    min_size: float
    max_lines: int = 1
    space_before: float = 0.0


@dataclass(frozen=True, slots=True)
class Line:
    text: str
    font: str
    size: float
    space_before: float = 0.0

    @property
    def height(self) -> float:
        return self.space_before + self.size * LEADING


def fit_block(items: Sequence[Item], *, width: float, height: float) -> list[Line]:
    """The items' lines, scaled down together until the whole block fits `height` (and each line `width`).

    If even the smallest sizes do not fit, the last lines are left out rather than drawn outside the block.
    """
    items = [item for item in items if item.text.strip()]
    lines: list[Line] = []
    for step in range(11):
        scale = 1.0 - 0.05 * step
        lines = []
        for item in items:
            fitted = fit_text(
                item.text,
                font=item.font,
                size=max(item.size * scale, item.min_size),
                min_size=item.min_size,
                width=width,
                max_lines=item.max_lines,
            )
            first, *rest = fitted.lines
            lines.append(Line(first, item.font, fitted.size, item.space_before * scale))
            lines.extend(Line(text, item.font, fitted.size) for text in rest)
        if sum(line.height for line in lines) <= height:
            return lines
    while lines and sum(line.height for line in lines) > height:
        lines.pop()
    return lines
