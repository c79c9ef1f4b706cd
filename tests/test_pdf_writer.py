"""Searchable PDF writer: text layer extraction (pdfium, pdftotext), invisibility, image embedding, page copying."""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import Counter

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from dask_ocr.geometry import box_iou
from dask_ocr.sinks.pdf_writer import PdfPage, PdfWord, write_searchable_pdf

DPI = 150
LINES = [["Invoice", "Zürich", "naïve", "€100", "東京"],
         ["Total:", "42.50", "CHF", "(incl.", "VAT)", "café"],
         ["Straße", "12,", "8001", "Zürich", "—", "Ελλάδα", "Москва"]]


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _write(pages, **options) -> bytes:
    buffer = io.BytesIO()
    write_searchable_pdf(pages, buffer, **options)
    return buffer.getvalue()


def _sample_page() -> tuple[Image.Image, tuple[tuple[PdfWord, ...], ...]]:
    """A 1000x600 white page with the words of LINES drawn (default font) at their boxes, line by line."""
    image = Image.new("RGB", (1000, 600), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(28)
    lines = []
    for row, line in enumerate(LINES):
        x, top = 40.0, 60.0 + 120 * row
        words = []
        for text in line:
            width = max(font.getlength(text), 30.0)
            draw.text((x, top), text, fill="black", font=font)
            words.append(PdfWord(text, (x, top, x + width, top + 34.0)))
            x += width + 18
        lines.append(tuple(words))
    return image, tuple(lines)


def _flat(lines) -> tuple[PdfWord, ...]:
    return tuple(word for line in lines for word in line)


def _each(words) -> tuple[tuple[PdfWord, ...], ...]:
    """Every word a line of its own."""
    return tuple((word,) for word in words)


@pytest.fixture(scope="module")
def sample():
    image, lines = _sample_page()
    return image, _flat(lines), _write([PdfPage(_png(image), image.width, image.height, DPI, lines)])


def _pdfium_words(data: bytes, index: int = 0) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Whitespace-separated words of page ``index`` and their boxes, from pdfium's char boxes, in pixels."""
    document = pdfium.PdfDocument(data)
    page = document[index]
    textpage = page.get_textpage()
    scale, height = DPI / 72, page.get_height()
    words, text, boxes = [], "", []
    for i in range(textpage.count_chars() + 1):
        char = textpage.get_text_range(i, 1) if i < textpage.count_chars() else " "
        if char.isspace() and text:
            x0, x1 = min(b[0] for b in boxes), max(b[2] for b in boxes)
            y0, y1 = min(b[1] for b in boxes), max(b[3] for b in boxes)
            words.append((text, (x0 * scale, (height - y1) * scale, x1 * scale, (height - y0) * scale)))
            text, boxes = "", []
        elif not char.isspace():
            text += char
            boxes.append(textpage.get_charbox(i))
    document.close()
    return words


def _pdftotext_words(path) -> list[list[tuple[str, tuple[float, float, float, float]]]]:
    """Per page, the words and boxes (pixels) of ``pdftotext -bbox``."""
    xhtml = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    namespace = {"x": "http://www.w3.org/1999/xhtml"}
    scale = DPI / 72
    return [[(word.text or "", tuple(float(word.get(key)) * scale for key in ("xMin", "yMin", "xMax", "yMax")))
             for word in page.iterfind(".//x:word", namespace)]
            for page in ET.fromstring(xhtml).iterfind(".//x:page", namespace)]


def _check_words(written: tuple[PdfWord, ...], extracted) -> None:
    """Bag-of-words F1 >= 0.99 and IoU >= 0.5 with the written box for >= 95 % of the words."""
    truth, found = Counter(word.text for word in written), Counter(text for text, _ in extracted)
    hits = sum((truth & found).values())
    f1 = 2 * hits / (sum(truth.values()) + sum(found.values()))
    assert f1 >= 0.99, (truth - found, found - truth)
    unused = list(extracted)
    good = 0
    for word in written:
        match = next((item for item in unused if item[0] == word.text), None)
        if match is not None:
            unused.remove(match)
            good += box_iou(word.box, match[1]) >= 0.5
    assert good >= 0.95 * len(written), f"{good}/{len(written)} boxes overlap"


def _image_info(data: bytes, page: int = 0) -> tuple[dict, bytes]:
    """The keys (names and numbers as str, arrays as lists) and raw (still encoded) bytes of a page's one image."""
    with pikepdf.open(io.BytesIO(data)) as pdf:
        images = list(pdf.pages[page].get_images().values())
        assert len(images) == 1
        keys = {str(key): [_plain(item) for item in value] if isinstance(value, pikepdf.Array) else str(value)
                for key, value in images[0].items()}
        return keys, images[0].read_raw_bytes()


def _plain(item):
    """A number as float, anything else as str."""
    try:
        return float(item)
    except TypeError:
        return str(item)


def _render(data: bytes, page: int = 0) -> np.ndarray:
    """Page ``page`` rendered by pdfium at DPI, as RGB (pdfium may round the size up by a pixel: cropped)."""
    document = pdfium.PdfDocument(data)
    pdf_page = document[page]
    width, height = (round(side * DPI / 72) for side in pdf_page.get_size())
    array = np.asarray(pdf_page.render(scale=DPI / 72).to_pil().convert("RGB"), dtype=np.int16)[:height, :width]
    document.close()
    return array


def test_text_layer_pdfium(sample):
    image, words, data = sample
    _check_words(words, _pdfium_words(data))
    document = pdfium.PdfDocument(data)
    page = document[0]
    assert (page.get_width(), page.get_height()) == pytest.approx((1000 * 72 / DPI, 600 * 72 / DPI))
    lines = [line.split() for line in page.get_textpage().get_text_range().splitlines() if line.strip()]
    assert lines == LINES  # spaces between words, newlines between lines, in reading order
    document.close()


def test_text_layer_selection_rects(sample):
    """pdfium's selection/search rectangles (what viewers highlight) cover the word box, not just its baseline."""
    _, words, data = sample
    document = pdfium.PdfDocument(data)
    page = document[0]
    textpage = page.get_textpage()
    scale, height = DPI / 72, page.get_height()
    word = next(w for w in words if w.text == "naïve")
    searcher = textpage.search("naïve")
    start, count = searcher.get_next()
    assert textpage.count_rects(start, count) == 1
    left, bottom, right, top = textpage.get_rect(0)
    assert box_iou(word.box, (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)) > 0.9
    document.close()


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_text_layer_pdftotext(sample, tmp_path):
    _, words, data = sample
    path = tmp_path / "page.pdf"
    path.write_bytes(data)
    (extracted,) = _pdftotext_words(path)
    _check_words(words, extracted)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert [line.split() for line in text.splitlines() if line.strip()] == LINES


@pytest.mark.skipif(shutil.which("qpdf") is None, reason="qpdf is not installed")
def test_qpdf_check(sample, tmp_path):
    image, words, data = sample
    source = _born_digital_pdf(["born digital"])
    mixed = _write([PdfPage(_jpeg(image), 1000, 600, DPI, _each(words)), PdfPage(None, 0, 0, DPI, source_pdf=source),
                    PdfPage(_png(image.convert("1")), 1000, 600, DPI, _each(words[:3]))])
    for name, pdf in (("sample", data), ("mixed", mixed)):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(pdf)
        result = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "No syntax or stream encoding errors" in result.stdout


def test_text_layer_is_invisible_and_png_lossless(sample, tmp_path):
    image, _, data = sample
    source = np.asarray(image, dtype=np.int16)
    assert np.abs(_render(data) - source).mean() < 2
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    path = tmp_path / "page.pdf"
    path.write_bytes(data)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-png", str(path), str(tmp_path / "render")], check=True)
    (rendered,) = tmp_path.glob("render*.png")
    pixels = np.asarray(Image.open(rendered).convert("RGB"), dtype=np.int16)
    assert pixels.shape == source.shape
    assert np.abs(pixels - source).mean() < 2
    keys, _ = _image_info(data)
    assert keys["/Filter"] == "/FlateDecode" and keys["/ColorSpace"] == "/DeviceRGB"


def test_jpeg_embedded_without_recompression(sample):
    image, words, _ = sample
    jpeg = _jpeg(image, quality=80)
    data = _write([PdfPage(jpeg, 1000, 600, DPI, _each(words))], jpeg_quality=30)  # jpeg_quality leaves JPEGs alone
    keys, raw = _image_info(data)
    assert raw == jpeg
    assert keys["/Filter"] == "/DCTDecode" and keys["/ColorSpace"] == "/DeviceRGB"
    assert (keys["/Width"], keys["/Height"], keys["/BitsPerComponent"]) == ("1000", "600", "8")
    assert np.abs(_render(data) - np.asarray(Image.open(io.BytesIO(jpeg)), dtype=np.int16)).mean() < 2
    _check_words(words, _pdfium_words(data))


def test_jpeg_quality_encodes_other_formats(sample):
    image, words, _ = sample
    data = _write([PdfPage(_png(image), 1000, 600, DPI, _each(words))], jpeg_quality=50)
    keys, raw = _image_info(data)
    assert keys["/Filter"] == "/DCTDecode"
    assert raw[:2] == b"\xff\xd8"
    assert np.abs(_render(data) - np.asarray(image, dtype=np.int16)).mean() < 6


def test_grey_and_cmyk_jpeg():
    base = Image.new("RGB", (300, 200), "white")
    draw = ImageDraw.Draw(base)
    draw.rectangle((20, 20, 140, 180), fill=(200, 30, 30))
    draw.rectangle((160, 20, 280, 180), fill=(30, 60, 200))
    grey = _jpeg(base.convert("L"), quality=90)
    cmyk = _jpeg(base.convert("CMYK"), quality=95)  # Pillow writes an Adobe (inverted) CMYK JPEG
    data = _write([PdfPage(grey, 300, 200, DPI), PdfPage(cmyk, 300, 200, DPI)])
    keys, raw = _image_info(data, 0)
    assert raw == grey and keys["/ColorSpace"] == "/DeviceGray"
    keys, raw = _image_info(data, 1)
    assert raw == cmyk and keys["/ColorSpace"] == "/DeviceCMYK"
    assert keys["/Decode"] == [1, 0] * 4
    rendered = _render(data, 1)
    red, blue, white = rendered[100, 80], rendered[100, 220], rendered[5, 5]  # not their negatives
    assert red[0] > 150 and red[0] - max(red[1], red[2]) > 80
    assert blue[2] > 120 and blue[2] - max(blue[0], blue[1]) > 50
    assert white.min() > 245


def test_grey_and_bilevel_images():
    image, lines = _sample_page()
    words = _flat(lines)
    grey, bilevel = image.convert("L"), image.convert("L").point(lambda v: 255 if v > 128 else 0).convert("1")
    tiff = io.BytesIO()
    bilevel.save(tiff, format="TIFF", compression="group4")
    pages = [PdfPage(_png(grey), 1000, 600, DPI, lines), PdfPage(_png(bilevel), 1000, 600, DPI, lines),
             PdfPage(tiff.getvalue(), 1000, 600, DPI, lines)]
    data = _write(pages)
    expected = [(grey, "8", "/FlateDecode"), (bilevel, "1", "/FlateDecode"), (bilevel, "1", ["/CCITTFaxDecode"])]
    for index, (source, bits, compression) in enumerate(expected):
        keys, _ = _image_info(data, index)
        assert (keys["/ColorSpace"], keys["/BitsPerComponent"], keys["/Filter"]) == ("/DeviceGray", bits, compression)
        pixels = np.asarray(source.convert("L"), dtype=np.int16)
        assert np.abs(_render(data, index)[..., 0] - pixels).mean() < 2
        _check_words(words, _pdfium_words(data, index))


def test_alpha_flattened_to_rgb_and_palette_kept():
    rgba = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).rectangle((50, 20, 150, 80), fill=(0, 128, 0, 255))
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    palette = flat.convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    data = _write([PdfPage(_png(rgba), 200, 100, DPI), PdfPage(_png(palette), 200, 100, DPI)])
    assert _image_info(data, 0)[0]["/ColorSpace"] == "/DeviceRGB"  # flattened onto white
    assert _image_info(data, 1)[0]["/ColorSpace"][0] == "/Indexed"  # a palette is kept as one
    for index in range(2):
        assert np.abs(_render(data, index) - np.asarray(flat, dtype=np.int16)).mean() < 2


def _born_digital_pdf(texts: list[str]) -> bytes:
    """A PDF with one Helvetica text line per page."""
    pdf = pikepdf.Pdf.new()
    helvetica = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                     BaseFont=pikepdf.Name.Helvetica))
    for text in texts:
        page = pdf.add_blank_page(page_size=(300, 200))
        page.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica))
        page.Contents = pdf.make_stream(f"BT /F1 18 Tf 30 100 Td ({text}) Tj ET".encode("ascii"))
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


def test_born_digital_page_copied_as_is(sample):
    image, words, _ = sample
    source = _born_digital_pdf(["first source page", "second source page"])
    data = _write([PdfPage(_png(image), 1000, 600, DPI, _each(words)),
                   PdfPage(None, 0, 0, DPI, source_pdf=source, source_page=1),
                   PdfPage(None, 0, 0, DPI, source_pdf=source, source_page=0)])
    document = pdfium.PdfDocument(data)
    assert len(document) == 3
    assert document[1].get_textpage().get_text_range().strip() == "second source page"  # no text layer added
    assert document[2].get_textpage().get_text_range().strip() == "first source page"
    assert document[1].get_size() == pytest.approx((300, 200))
    document.close()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/OCRText" not in pdf.pages[1].Resources.Font and not pdf.pages[1].get_images()
    _check_words(words, _pdfium_words(data, 0))


def test_multipage_order_and_shared_font(tmp_path):
    pages = []
    for number in range(5):
        image = Image.new("RGB", (400 + 50 * number, 300), "white")
        words = (PdfWord(f"page{number}", (20, 20, 160, 50)), PdfWord(f"word{number}", (20, 80, 160, 110)))
        pages.append(PdfPage(_jpeg(image), image.width, image.height, DPI, (words[:1], words[1:])))
    path = tmp_path / "five.pdf"
    write_searchable_pdf(pages, path)
    document = pdfium.PdfDocument(path)
    assert len(document) == 5
    for number in range(5):
        assert document[number].get_textpage().get_text_range().split() == [f"page{number}", f"word{number}"]
        assert document[number].get_width() == pytest.approx((400 + 50 * number) * 72 / DPI)
    document.close()
    with pikepdf.open(path) as pdf:
        fonts = {pdf.pages[number].Resources.Font.OCRText.objgen for number in range(5)}
        assert len(fonts) == 1  # one font object shared by all pages
        font = pdf.pages[0].Resources.Font.OCRText
        assert font.Subtype == "/Type0" and font.Encoding == "/Identity-H"
        assert font.DescendantFonts[0].Subtype == "/CIDFontType2"
        assert "/FontFile2" in font.DescendantFonts[0].FontDescriptor and "/ToUnicode" in font


def test_page_without_words_and_odd_words():
    image = Image.new("RGB", (300, 200), "white")
    odd = (PdfWord("  ", (10, 10, 50, 30)), PdfWord("flat", (10, 40, 50, 40)), PdfWord("tab\there", (10, 60, 90, 80)),
           PdfWord("𝔘nicode😀", (10, 100, 120, 130)))
    data = _write([PdfPage(_png(image), 300, 200, DPI), PdfPage(_png(image), 300, 200, DPI, _each(odd))])
    document = pdfium.PdfDocument(data)
    assert document[0].get_textpage().get_text_range() == ""
    assert document[1].get_textpage().get_text_range().split() == ["tab", "here", "𝔘nicode😀"]
    document.close()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert "/Font" not in pdf.pages[0].Resources


def test_invalid_pages_raise():
    image = _png(Image.new("RGB", (10, 10), "white"))
    with pytest.raises(ValueError, match="at least one page"):
        _write([])
    with pytest.raises(ValueError, match="neither an image nor a source_pdf"):
        _write([PdfPage(None, 10, 10, DPI)])
    with pytest.raises(ValueError, match="out of range"):
        _write([PdfPage(None, 10, 10, DPI, source_pdf=_born_digital_pdf(["x"]), source_page=3)])
    with pytest.raises(ValueError, match="positive"):
        _write([PdfPage(image, 10, 10, 0)])


def test_strip_invisible_text_keeps_visible_text_and_the_text_state():
    """Only text objects that show nothing but invisible text go; a render mode they set stays in force."""
    from dask_ocr.sinks.pdf_writer import strip_invisible_text

    pdf = pikepdf.Pdf.new()
    page = pdf.add_blank_page(page_size=(300, 200))
    helvetica = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                     BaseFont=pikepdf.Name.Helvetica))
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=helvetica))
    page.obj.Contents = pdf.make_stream(b"BT /F1 12 Tf 10 150 Td (printed) Tj ET "
                                        b"BT 3 Tr /F1 12 Tf 10 100 Td (hidden) Tj ET "
                                        b"BT /F1 12 Tf 10 50 Td (alsohidden) Tj ET "  # still mode 3: Tr outlives ET
                                        b"BT 0 Tr 10 20 Td (shown ) Tj 3 Tr (mixed) Tj ET")
    assert strip_invisible_text(page) == 2
    buffer = io.BytesIO()
    pdf.save(buffer)
    document = pdfium.PdfDocument(buffer.getvalue())
    assert document[0].get_textpage().get_text_range().split() == ["printed", "shown", "mixed"]
    document.close()
