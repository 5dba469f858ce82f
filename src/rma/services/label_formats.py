"""Label formats by name and by media type, and which one an HTTP request asks for."""

from __future__ import annotations

from typing import Final

from rma.ports.documents import LABEL_FORMATS, label_format

_MEDIA_TYPES: Final = {"PDF": "application/pdf", "ZPL": "application/zpl", "PNG": "image/png"}
# Accept ranges naming a format: ZPL is plain text, so a client asking for text gets it.
_BY_MEDIA_TYPE: Final = {
    "application/pdf": "PDF",
    "application/zpl": "ZPL",
    "application/x-zpl": "ZPL",
    "text/plain": "ZPL",
    "image/png": "PNG",
}


def media_type(name: str) -> str:
    """The Content-Type of a label in format `name` (any case)."""
    return _MEDIA_TYPES[label_format(name)]


def _ranges(accept: str) -> list[tuple[str, float]]:
    """(media range, q) per entry of an Accept header; entries with an unreadable q are skipped."""
    ranges = []
    for entry in accept.split(","):
        media_range, *params = (part.strip() for part in entry.split(";"))
        if "/" not in media_range:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append((media_range.lower(), q))
    return ranges


def _quality(ranges: list[tuple[str, float]], media: str) -> tuple[int, float]:
    """How specifically (2 exact, 1 type/*, 0 */*, -1 not at all) and with which q the header accepts `media`;
    the most specific range decides (RFC 9110, 12.5.1)."""
    best = (-1, 0.0)
    kind = media.split("/", maxsplit=1)[0]
    for media_range, q in ranges:
        specificity = (
            2 if media_range == media else 1 if media_range == f"{kind}/*" else 0 if media_range == "*/*" else -1
        )
        if specificity > best[0]:
            best = (specificity, q)
    return best


def format_for(accept_header: str | None, query: str | None) -> str | None:
    """The label format a request asks for: `?format=` (any case) wins over the Accept header.

    None means the request leaves it open (no header, `*/*`, or only wildcards preferred): answer with the label's
    stored format. A format asked for explicitly that we cannot render raises ValueError naming what is possible.
    """
    if query is not None and query.strip():
        return label_format(query)
    if accept_header is None or not accept_header.strip():
        return None
    ranges = _ranges(accept_header)
    if not ranges:  # unreadable: ignored, as RFC 9110 allows
        return None
    any_q = max((q for media_range, q in ranges if media_range == "*/*"), default=0.0)
    named: list[tuple[float, int, str]] = []
    for media, name in _BY_MEDIA_TYPE.items():
        specificity, q = _quality(ranges, media)
        if specificity > 0 and q > 0:
            named.append((q, -LABEL_FORMATS.index(name), name))
    if named:
        q, _, name = max(named)
        if q >= any_q:
            return name
    if any_q > 0:
        return None
    accepted = _MEDIA_TYPES.values()
    raise ValueError(
        f"cannot answer with any type in Accept {accept_header!r}: a label is one of {', '.join(accepted)}"
    )
