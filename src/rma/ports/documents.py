"""Printable documents: labels and packing slips, rendered from data and kept in a document store (not the database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Protocol

from rma.domain.requests import Address

LABEL_FORMATS: Final = ("PDF", "ZPL", "PNG")


def label_format(name: str) -> str:
    """The canonical name ("PDF", "ZPL", "PNG") of a format named in any case; ValueError for any other."""
    canonical = name.strip().upper()
    if canonical not in LABEL_FORMATS:
        raise ValueError(f"unsupported label format {name!r}: choose one of {', '.join(LABEL_FORMATS)}")
    return canonical


@dataclass(frozen=True, slots=True)
class LabelData:
    """What a 4x6 label shows, for carriers that hand back only data (and the sandbox)."""

    rma_number: str
    tracking_number: str
    carrier: str
    service: str
    weight_oz: float
    ship_from: Address
    ship_to: Address  # the returns centre
    qr_payload: str | None = None  # label-less drop-off code, where the carrier gives one


@dataclass(frozen=True, slots=True)
class SlipLine:
    sku: str
    item_name: str
    quantity: int
    reason: str


@dataclass(frozen=True, slots=True)
class SlipData:
    """What the packing slip inside the box shows, so the warehouse can match the parcel at receipt."""

    rma_number: str
    order_id: str
    customer_name: str
    ship_to: Address
    lines: tuple[SlipLine, ...]
    tracking_number: str | None = None


class DocumentRenderer(Protocol):
    def label(self, data: LabelData, *, label_format: str) -> bytes:
        """A 4x6 label as PDF, ZPL or PNG."""

    def packing_slip(self, data: SlipData) -> bytes:
        """A packing slip (PDF, the configured paper size)."""

    def pdf_to_png(self, pdf: bytes) -> bytes:
        """The first page of a PDF label as a PNG at the label printer's 203 dpi."""


class DocumentStore(Protocol):
    """Bytes by key ("labels/<return id>.pdf"); writing a key again replaces it (the same document)."""

    def put(self, key: str, content: bytes) -> None: ...

    def get(self, key: str) -> bytes | None: ...
