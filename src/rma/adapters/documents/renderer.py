"""The document renderer: labels (PDF, ZPL, PNG) and packing slips (PDF) with reportlab."""

from __future__ import annotations

from rma.adapters.documents.label_pdf import render_label_pdf
from rma.adapters.documents.label_zpl import render_label_zpl
from rma.adapters.documents.packing_slip import Paper, paper_size, render_packing_slip
from rma.adapters.documents.raster import label_png, rasterise_png
from rma.ports.documents import LabelData, SlipData
from rma.ports.documents import label_format as canonical_format


class ReportlabRenderer:
    """Implements `rma.ports.documents.DocumentRenderer`."""

    def __init__(self, paper: Paper = "letter") -> None:
        paper_size(paper)  # an unknown paper (from configuration) is refused here, not at the first slip
        self.paper: Paper = paper

    def label(self, data: LabelData, *, label_format: str) -> bytes:
        """The label in `label_format` ("PDF", "ZPL" or "PNG", any case); ValueError naming any other."""
        match canonical_format(label_format):
            case "PDF":
                return render_label_pdf(data)
            case "ZPL":
                return render_label_zpl(data)
            case _:
                return label_png(data)

    def packing_slip(self, data: SlipData) -> bytes:
        return render_packing_slip(data, paper=self.paper)

    def pdf_to_png(self, pdf: bytes) -> bytes:
        return rasterise_png(pdf)
