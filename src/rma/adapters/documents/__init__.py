"""Printable documents: shipping labels (PDF, ZPL, PNG) and packing slips, and a file store to keep them in."""

from rma.adapters.documents.formats import LABEL_FORMATS, format_for, label_format, media_type
from rma.adapters.documents.renderer import ReportlabRenderer
from rma.adapters.documents.store import FileDocumentStore

__all__ = ["LABEL_FORMATS", "FileDocumentStore", "ReportlabRenderer", "format_for", "label_format", "media_type"]
