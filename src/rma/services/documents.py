"""A return's printable documents as people ask for them: the label in the format their printer takes, the packing
slip. Both were kept in the document store when the label was bought; what a carrier handed over only as a PDF is
also offered as a PNG (rasterised at the printer's 203 dpi)."""

from __future__ import annotations

from dataclasses import dataclass

from rma.domain.returns import ReturnAuthorization
from rma.ports.stores import LabelRecord
from rma.services.context import StageContext
from rma.services.labels import slip_data, slip_key


class DocumentUnavailableError(Exception):
    """The return has no such document (yet), or not in that format."""


@dataclass(frozen=True, slots=True)
class Document:
    content: bytes
    label_format: str


def label_document(ctx: StageContext, label: LabelRecord | None, wanted: str | None) -> Document:
    """The label as stored, or converted to `wanted` where that can be done faithfully (PDF to PNG)."""
    if label is None or label.label_format is None:
        raise DocumentUnavailableError("no label yet")
    stored = label.label_format.upper()
    content = ctx.documents.get(label.document_key) if label.document_key else label.legacy_document
    if content is None:
        raise DocumentUnavailableError("the label's document is missing from the document store")
    target = (wanted or stored).upper()
    if target == stored:
        return Document(content, stored)
    if stored == "PDF" and target == "PNG":
        return Document(ctx.renderer.pdf_to_png(content), "PNG")
    offered = "PDF or PNG" if stored == "PDF" else stored
    raise DocumentUnavailableError(f"this label exists as {stored}; ask for {offered}")


def packing_slip(ctx: StageContext, ret: ReturnAuthorization, label: LabelRecord | None) -> bytes:
    """The slip kept with the label; for a label bought before slips were kept, drawn now and kept."""
    if label is None or label.tracking_number is None:
        raise DocumentUnavailableError("no label yet: the packing slip comes with it")
    key = slip_key(ret.id)
    content = ctx.documents.get(key)
    if content is None:
        content = ctx.renderer.packing_slip(slip_data(ctx, ret, label.tracking_number))
        ctx.documents.put(key, content)
    return content


def qr_code(ctx: StageContext, label: LabelRecord | None) -> bytes:
    """The carrier's QR code for label-less drop-off (a PNG), where it gave one."""
    content = ctx.documents.get(label.qr_key) if label is not None and label.qr_key else None
    if content is None:
        raise DocumentUnavailableError("the carrier gave no QR code for this label")
    return content
