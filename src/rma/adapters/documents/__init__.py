"""Printable documents: shipping labels (PDF, ZPL, PNG) and packing slips, and a file store to keep them in."""

from rma.adapters.documents.renderer import ReportlabRenderer
from rma.adapters.documents.store import FileDocumentStore

__all__ = ["FileDocumentStore", "ReportlabRenderer"]
