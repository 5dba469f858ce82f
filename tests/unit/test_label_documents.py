"""Labels and packing slips: every barcode scans as exactly its value, every field is printed, nothing overflows.

PDFs are rasterised with pdfium at the thermal printers' 203 dpi and read back with zxing-cpp, as a scanner would.
"""

from __future__ import annotations

import io
import re

import pypdfium2
import pytest
import zxingcpp
from PIL import Image

from rma.adapters.documents import ReportlabRenderer
from rma.adapters.documents.fields import weight_lines
from rma.adapters.documents.label_zpl import render_label_zpl
from rma.adapters.documents.layout import DOT, Bars, label_layout
from rma.adapters.documents.raster import rasterise
from rma.adapters.documents.text import fit_text, printable
from rma.domain.requests import Address
from rma.ports.documents import LABEL_FORMATS, LabelData, SlipData, SlipLine
from rma.services.label_formats import format_for, media_type

CUSTOMER = Address(
    name="Alex Doe",
    line1="12 Elm Street",
    line2="Apt 4B",
    city="Springfield",
    region="IL",
    postal_code="62704",
    country="US",
)
CENTRE = Address(
    name="Returns Centre", line1="100 Warehouse Way", city="Reno", region="NV", postal_code="89502", country="US"
)
RENDERER = ReportlabRenderer()


def label(**overrides: object) -> LabelData:
    fields: dict[str, object] = {
        "rma_number": "ACME-7KQ2M9XRT",
        "tracking_number": "9405511899223197428490",
        "carrier": "Sandbox Post",
        "service": "Ground Returns",
        "weight_oz": 35.2,
        "ship_from": CUSTOMER,
        "ship_to": CENTRE,
        "qr_payload": None,
    } | overrides
    return LabelData(**fields)  # type: ignore[arg-type]


def scanned(image: Image.Image) -> set[tuple[str, str]]:
    return {(str(code.format), code.text) for code in zxingcpp.read_barcodes(image)}


def code128(value: str) -> tuple[str, str]:
    return (str(zxingcpp.BarcodeFormat.Code128), value)


def qr(value: str) -> tuple[str, str]:
    return (str(zxingcpp.BarcodeFormat.QRCode), value)


def page_text(pdf: bytes, page: int = 0) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return str(document[page].get_textpage().get_text_bounded())
    finally:
        document.close()


def page_count(pdf: bytes) -> int:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()


AWKWARD = [
    ("9405511899223197428490", "ACME-7KQ2M9XRT"),  # USPS: 22 digits
    ("1Z999AA10123456784", "RMA-00000001"),  # UPS: letters then digits
    ("track-me-lower-42", "acme-7kq2m9xrt-b"),  # lower case and hyphens
    ("420895029405511899223197428490", "R-1"),  # USPS with the ZIP routing prefix: 30 digits
    ("AB>C;D_E%F ~G", "X^Y"),  # characters ZPL and Code 128 set switches treat specially
]


@pytest.mark.parametrize(("tracking", "rma"), AWKWARD)
@pytest.mark.parametrize("payload", [None, "https://carrier.example/dropoff/7KQ2M9XRT?c=41d8"])
def test_every_barcode_on_the_pdf_label_scans_as_its_value(tracking: str, rma: str, payload: str | None) -> None:
    pdf = RENDERER.label(label(tracking_number=tracking, rma_number=rma, qr_payload=payload), label_format="PDF")
    expected = {code128(tracking), code128(rma), *([qr(payload)] if payload else [])}
    assert scanned(rasterise(pdf)) == expected


def test_the_png_label_is_4x6_at_203_dpi_black_and_white_and_scans() -> None:
    data = label(qr_payload="DROPOFF-123456")
    png = RENDERER.label(data, label_format="png")
    image = Image.open(io.BytesIO(png))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.size == (812, 1218)
    assert image.mode == "1"
    assert scanned(image.convert("L")) == {
        code128(data.tracking_number),
        code128(data.rma_number),
        qr("DROPOFF-123456"),
    }


def test_barcodes_are_wide_enough_to_scan_from_a_4_in_label() -> None:
    for tracking, rma in AWKWARD:
        bars = [op for op in label_layout(label(tracking_number=tracking, rma_number=rma)) if isinstance(op, Bars)]
        assert [bar.value for bar in bars] == [tracking, rma]
        assert all(bar.module >= 3 * DOT for bar in bars), "3 dots at 203 dpi: 0.0148 in"


def test_a_value_too_long_for_wide_bars_gets_narrower_ones_and_still_scans() -> None:
    tracking = "TBA" + "X7Q9K" * 6  # 33 letters in set B: 3-dot bars would not fit across 4 in
    pdf = RENDERER.label(label(tracking_number=tracking), label_format="PDF")
    bars = next(op for op in label_layout(label(tracking_number=tracking)) if isinstance(op, Bars))
    assert bars.module < 3 * DOT
    assert code128(tracking) in scanned(rasterise(pdf, dpi=300))


def test_the_pdf_label_prints_every_field() -> None:
    text = page_text(RENDERER.label(label(), label_format="PDF"))
    for expected in [
        "Sandbox Post",
        "Ground Returns",
        "2 lb 3.2 oz",
        "35.2 oz",
        "FROM",
        "Alex Doe",
        "12 Elm Street",
        "Apt 4B",
        "Springfield IL 62704",
        "SHIP TO",
        "Returns Centre",
        "100 Warehouse Way",
        "Reno NV 89502",
        "TRACKING #",
        "9405511899223197428490",
        "RMA ACME-7KQ2M9XRT",
    ]:
        assert expected in text


def test_the_same_data_give_the_same_bytes() -> None:
    data = label(qr_payload="DROPOFF-1")
    for label_format in LABEL_FORMATS:
        assert RENDERER.label(data, label_format=label_format) == RENDERER.label(data, label_format=label_format)


def test_names_beyond_latin_1_render_with_what_the_fonts_have() -> None:
    customer = CUSTOMER.model_copy(update={"name": "Zoë Ünal 李雷", "city": "Łódź", "line2": "Straße 5 ﬁ"})
    data = label(ship_from=customer)
    text = page_text(RENDERER.label(data, label_format="PDF"))
    assert "Zoë Ünal ??" in text
    assert "?ódz IL 62704" in text  # Ł has no unaccented form; ó is in the font; ź becomes z
    assert "Straße 5 fi" in text
    assert RENDERER.label(data, label_format="PNG").startswith(b"\x89PNG")
    assert "Zoë Ünal ??".encode() in RENDERER.label(data, label_format="ZPL")


def test_printable_keeps_what_the_fonts_have_and_replaces_the_rest() -> None:
    assert printable("Zoë € Œuvre") == "Zoë € Œuvre"
    assert printable("Łódź 李") == "?ódz ?"
    assert printable("a\tb\u00adc\u200dd") == "a bcd"


LONG = "Maximilian Alexander Featherstonehaugh-Cholmondeley of the Very Long Street Name Company Limited"


def test_text_that_does_not_fit_is_shrunk_or_wrapped_inside_the_page() -> None:
    customer = CUSTOMER.model_copy(update={"name": LONG, "line1": LONG, "line2": "X" * 120, "city": LONG})
    centre = CENTRE.model_copy(update={"name": LONG, "line1": LONG})
    data = label(
        ship_from=customer, ship_to=centre, carrier=LONG, service=LONG, weight_oz=99999.9, qr_payload="Q" * 300
    )
    pdf = RENDERER.label(data, label_format="PDF")
    document = pypdfium2.PdfDocument(pdf)
    textpage = document[0].get_textpage()
    boxes = [textpage.get_charbox(i) for i in range(textpage.count_chars())]
    assert boxes
    for left, bottom, right, top in boxes:
        assert 4 <= left <= right <= 284
        assert 4 <= bottom <= top <= 428
    document.close()
    assert scanned(rasterise(pdf)) == {code128(data.tracking_number), code128(data.rma_number), qr("Q" * 300)}


def test_fit_text_shrinks_a_little_then_wraps_then_cuts() -> None:
    assert fit_text("short", font="Helvetica", size=10, min_size=6, width=100).size == 10
    assert fit_text("a" * 24, font="Helvetica", size=10, min_size=6, width=120).lines == ["a" * 24]
    wrapped = fit_text("word " * 12, font="Helvetica", size=10, min_size=6, width=100, max_lines=3)
    assert len(wrapped.lines) > 1
    cut = fit_text("word " * 200, font="Helvetica", size=10, min_size=6, width=100, max_lines=2)
    assert len(cut.lines) == 2
    assert cut.lines[-1].endswith("...")


@pytest.mark.parametrize(
    ("ounces", "expected"),
    [
        (35.2, ("2 lb 3.2 oz", "35.2 oz")),
        (16, ("1 lb 0 oz", "16 oz")),
        (15.96, ("1 lb 0 oz", "16 oz")),
        (3, ("0 lb 3 oz", "3 oz")),
    ],
)
def test_weight_in_pounds_and_ounces(ounces: float, expected: tuple[str, str]) -> None:
    assert weight_lines(ounces) == expected


def test_a_barcode_value_code_128_cannot_carry_is_refused() -> None:
    with pytest.raises(ValueError, match="tracking number"):
        RENDERER.label(label(tracking_number="TRÄCK1"), label_format="PDF")
    with pytest.raises(ValueError, match="RMA number"):
        RENDERER.label(label(rma_number=""), label_format="ZPL")


# ZPL: checked structurally (no printer here): one format, known commands only, the barcodes' data exact.

ZPL_COMMANDS = {"XA", "XZ", "CI", "PW", "LL", "LH", "FO", "A0", "FD", "FS", "FH", "GB", "BY", "BC", "BQ"}


def zpl_commands(zpl: str) -> list[str]:
    return [chunk[:2] for chunk in zpl.split("^")[1:]]


def unescape(field: str) -> str:
    return re.sub(r"_([0-9A-F]{2})", lambda match: chr(int(match.group(1), 16)), field)


def barcode_data(zpl: str, command: str) -> list[str]:
    found = re.findall(rf"\^{command}[^\^]*(\^FH)?\^FD([^\^]*)\^FS", zpl)
    return [unescape(data) if escaped else data for escaped, data in found]


def test_the_zpl_label_is_one_4x6_format_with_every_field() -> None:
    zpl = render_label_zpl(label(qr_payload="https://carrier.example/d/1")).decode()
    assert zpl.startswith("^XA\n")
    assert zpl.rstrip().endswith("^XZ")
    assert zpl.count("^XA") == zpl.count("^XZ") == 1
    assert "^PW812" in zpl
    assert "^LL1218" in zpl
    assert "^CI28" in zpl  # UTF-8 field data
    assert set(zpl_commands(zpl)) <= ZPL_COMMANDS
    for expected in [
        "^FDSandbox Post^FS",
        "^FDGround Returns^FS",
        "^FD2 lb 3.2 oz^FS",
        "^FD35.2 oz^FS",
        "^FDAlex Doe^FS",
    ]:
        assert expected in zpl
    for expected in ["^FD12 Elm Street^FS", "^FDApt 4B^FS", "^FDSpringfield IL 62704^FS", "^FDReturns Centre^FS"]:
        assert expected in zpl
    assert "^FD100 Warehouse Way^FS" in zpl
    assert "^FDReno NV 89502^FS" in zpl
    assert "^FD9405511899223197428490^FS" in zpl  # the human-readable tracking number
    assert "^FDRMA ACME-7KQ2M9XRT^FS" in zpl
    assert barcode_data(zpl, "BC") == ["9405511899223197428490", "ACME-7KQ2M9XRT"]
    assert barcode_data(zpl, "BQ") == ["MA,https://carrier.example/d/1"]
    assert re.search(r"\^BY\d\^BCN,\d+,N,N,N,A\^FD", zpl), "automatic mode: the printer picks the code sets"


def test_the_zpl_label_without_a_qr_payload_has_no_qr() -> None:
    assert "^BQ" not in render_label_zpl(label()).decode()


@pytest.mark.parametrize(("tracking", "rma"), AWKWARD)
def test_zpl_barcodes_carry_exactly_their_values(tracking: str, rma: str) -> None:
    zpl = render_label_zpl(label(tracking_number=tracking, rma_number=rma, qr_payload="a^b~c_d")).decode()
    assert set(zpl_commands(zpl)) <= ZPL_COMMANDS
    assert barcode_data(zpl, "BC") == [tracking, rma]
    assert barcode_data(zpl, "BQ") == ["MA,a^b~c_d"]


def test_zpl_command_prefixes_in_names_are_printed_as_spaces() -> None:
    customer = CUSTOMER.model_copy(update={"name": "Evil^XZ^XA~JA Name", "line1": "1 ~Tilde^FS Road"})
    zpl = render_label_zpl(label(ship_from=customer)).decode()
    assert zpl.count("^XA") == zpl.count("^XZ") == 1
    assert "~" not in zpl
    assert set(zpl_commands(zpl)) <= ZPL_COMMANDS
    assert "^FDEvil XZ XA JA Name^FS" in zpl
    assert "^FD1  Tilde FS Road^FS" in zpl


# Packing slips.


def slip(count: int, **overrides: object) -> SlipData:
    fields: dict[str, object] = {
        "rma_number": "ACME-7KQ2M9XRT",
        "order_id": "ORD-2026-004217",
        "customer_name": "Alex Doe",
        "ship_to": CENTRE,
        "lines": tuple(
            SlipLine(
                sku=f"SKU-{i:04d}-BLK",
                item_name="Electric kettle with a long name that wraps onto a second line" if i % 7 == 0 else "Kettle",
                quantity=1 + i % 3,
                reason="Arrived damaged" if i % 2 else "Changed my mind",
            )
            for i in range(count)
        ),
        "tracking_number": "9405511899223197428490",
    } | overrides
    return SlipData(**fields)  # type: ignore[arg-type]


def test_a_packing_slip_shows_the_rma_the_order_the_centre_and_the_lines() -> None:
    pdf = RENDERER.packing_slip(slip(3))
    assert page_count(pdf) == 1
    text = page_text(pdf)
    for expected in [
        "Return packing slip",
        "RMA ACME-7KQ2M9XRT",
        "ORD-2026-004217",
        "Alex Doe",
        "9405511899223197428490",
        "Returns Centre",
        "100 Warehouse Way",
        "Reno NV 89502",
        "SKU-0000-BLK",
        "Changed my mind",
        "Put this slip inside the box",
        "page 1 of 1",
    ]:
        assert expected in text
    assert code128("ACME-7KQ2M9XRT") in scanned(rasterise(pdf))


def test_a_long_slip_continues_on_further_pages_with_every_line() -> None:
    pdf = RENDERER.packing_slip(slip(100))
    pages = page_count(pdf)
    assert pages >= 3
    texts = [page_text(pdf, page) for page in range(pages)]
    for number, text in enumerate(texts, start=1):
        assert f"page {number} of {pages}" in text
        assert "Put this slip inside the box" in text
        assert "RMA ACME-7KQ2M9XRT" in text
    everything = "\n".join(texts)
    for i in range(100):
        assert everything.count(f"SKU-{i:04d}-BLK") == 1
    assert code128("ACME-7KQ2M9XRT") in scanned(rasterise(pdf, page=pages - 1))


def test_slip_paper_is_letter_by_default_or_a4() -> None:
    def size(pdf: bytes) -> tuple[int, int]:
        document = pypdfium2.PdfDocument(pdf)
        try:
            width, height = document[0].get_size()
        finally:
            document.close()
        return round(width), round(height)

    assert size(RENDERER.packing_slip(slip(2))) == (612, 792)
    assert size(ReportlabRenderer(paper="a4").packing_slip(slip(2))) == (595, 842)
    with pytest.raises(ValueError, match="paper"):
        ReportlabRenderer(paper="legal")  # type: ignore[arg-type]


def test_a_slip_with_odd_names_renders() -> None:
    pdf = RENDERER.packing_slip(
        slip(1, customer_name="Zoë Ünal 李雷 & <Co>", lines=(SlipLine("SKU-&<1>", "Théière 茶壶", 2, "Too big"),))
    )
    text = page_text(pdf)
    assert "Zoë Ünal ?? & <Co>" in text
    assert "SKU-&<1>" in text
    assert "Théière ??" in text
    assert RENDERER.packing_slip(slip(1)) == RENDERER.packing_slip(slip(1))


# The renderer and the formats.


def test_the_renderer_dispatches_on_the_format_in_any_case() -> None:
    data = label()
    assert RENDERER.label(data, label_format="pdf").startswith(b"%PDF-")
    assert RENDERER.label(data, label_format="Zpl").startswith(b"^XA")
    assert RENDERER.label(data, label_format="PNG").startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="'EPL'"):
        RENDERER.label(data, label_format="EPL")


def test_media_types() -> None:
    assert media_type("PDF") == "application/pdf"
    assert media_type("zpl") == "application/zpl"
    assert media_type("png") == "image/png"
    with pytest.raises(ValueError, match="'GIF'"):
        media_type("GIF")


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        (None, None, None),
        ("*/*", None, None),
        ("", "", None),
        ("application/pdf", None, "PDF"),
        ("image/png", None, "PNG"),
        ("application/zpl", None, "ZPL"),
        ("text/plain", None, "ZPL"),
        ("image/png;q=0.5, application/pdf;q=0.9", None, "PDF"),
        ("application/pdf;q=0.2, image/*", None, "PNG"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", None, None),
        ("application/pdf;q=0.5, */*", None, None),
        ("application/pdf;q=0, */*;q=0.1", None, None),
        ("IMAGE/PNG", None, "PNG"),
        ("application/pdf", "zpl", "ZPL"),  # the query wins
        ("application/json", "png", "PNG"),
        (None, " Pdf ", "PDF"),
        ("not a media type", None, None),  # unreadable: ignored
    ],
)
def test_format_for_a_request(accept: str | None, query: str | None, expected: str | None) -> None:
    assert format_for(accept, query) == expected


@pytest.mark.parametrize(
    ("accept", "query", "message"),
    [
        (None, "gif", "'gif'"),
        ("application/json", None, "application/json"),
        ("application/pdf;q=0, image/png;q=0", None, "application/pdf"),
    ],
)
def test_format_for_an_unsupported_request_says_what_is_possible(
    accept: str | None, query: str | None, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        format_for(accept, query)
    assert "PDF" in str(raised.value) or "application/pdf" in str(raised.value)
