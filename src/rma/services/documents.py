"""A return's printable documents as people ask for them: the label in the format their printer takes, the packing
slip. Both were kept in the document store when the label was bought; what a carrier handed over only as a PDF is
also offered as a PNG (rasterised at the printer's 203 dpi)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from rma.domain.returns import ReturnAuthorization
from rma.ports.stores import LabelRecord
from rma.services.context import StageContext
from rma.services.labels import slip_data, slip_key

LABEL_FORMATS: Final = {"PDF": "application/pdf", "ZPL": "application/zpl", "PNG": "image/png"}
_BY_MEDIA_TYPE: Final = {media: fmt for fmt, media in LABEL_FORMATS.items()} | {"application/x-zpl": "ZPL"}


def media_type(label_format: str) -> str:
    return LABEL_FORMATS.get(label_format.upper(), "application/octet-stream")


def format_for(accept: str | None, query: str | None) -> str | None:
    """The label format asked for: `?format=` wins, else the Accept header's most preferred label type (q-values
    honoured); None when neither asks for one (any type, or none given): the label's own format. Raises ValueError
    for an explicit request of a format we do not make."""
    if query is not None:
        wanted = query.strip().upper()
        if wanted not in LABEL_FORMATS:
            raise ValueError(f"format {query!r} is not one of {', '.join(LABEL_FORMATS)}")
        return wanted
    if not accept:
        return None
    ranges = [(_media_range(item), position) for position, item in enumerate(accept.split(","))]
    for _, _, media in sorted((-quality, position, media) for (media, quality), position in ranges if quality > 0):
        if media in _BY_MEDIA_TYPE:
            return _BY_MEDIA_TYPE[media]
        if media in {"*/*", "application/*", "image/*"}:
            return None
    raise ValueError(f"Accept {accept!r} names no label format we make ({', '.join(LABEL_FORMATS.values())})")


def _media_range(item: str) -> tuple[str, float]:
    """One element of an Accept header: its media type and q-value (a malformed q counts as 0)."""
    media, *params = (part.strip() for part in item.split(";"))
    quality = 1.0
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
    return media.lower(), quality


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
