"""dask_ocr.documents: PDFs, TIFFs and images in, pages (image, text layer, word boxes) out."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image, features

from dask_ocr.defaults import DPI as DEFAULT_DPI
from dask_ocr.documents import (
    DocumentError,
    RenderedPage,
    count_pages,
    document_kind,
    has_text_layer,
    render_page,
)
from dask_ocr.samples import images_to_pdf, images_to_tiff

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Advance widths of the standard Helvetica font (AFM units, 1/1000 em).
HELVETICA = {"H": 722, "e": 556, "l": 222, "o": 556, " ": 278, "W": 944, "r": 333, "d": 556, "S": 667, "c": 500,
             "n": 556, "i": 222}
LETTER = (612, 792)


def _text_pdf(lines, page_size=LETTER, rotate=0, crop_box=None, n_pages=1, extra=None) -> bytes:
    """A born-digital PDF: ``lines`` is ``[(x, y, size, text)]`` drawn in Helvetica on each page."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    content = b" ".join(f"BT /F1 {size} Tf {x} {y} Td ({text}) Tj ET".encode() for x, y, size, text in lines)
    for _ in range(n_pages):
        page = pdf.add_blank_page(page_size=page_size)
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(content)
        if rotate:
            page.obj.Rotate = rotate
        if crop_box:
            page.obj.CropBox = pikepdf.Array(crop_box)
        if extra:
            extra(pdf, page)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _advance(text: str, size: float) -> float:
    return sum(HELVETICA[char] for char in text) * size / 1000


def _pixels(page: RenderedPage) -> np.ndarray:
    image = Image.open(io.BytesIO(page.content))
    assert image.format == "PNG" and image.size == (page.width, page.height)
    return np.asarray(image.convert("L"))


def _assert_ink_in_boxes(page: RenderedPage) -> None:
    """Every word box holds ink, and all ink lies inside the word boxes (2 px slack)."""
    grey = _pixels(page)
    ink = grey < 128
    covered = np.zeros_like(ink)
    for word in page.words:
        x0, y0, x1, y1 = word.box
        assert 0 <= x0 < x1 <= page.width and 0 <= y0 < y1 <= page.height
        assert ink[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))].sum() > 10, word
        covered[max(0, int(y0) - 2):int(np.ceil(y1)) + 2, max(0, int(x0) - 2):int(np.ceil(x1)) + 2] = True
    assert ink.sum() > 100 and not (ink & ~covered).any()


def _sroie(n: int) -> list[bytes]:
    paths = [DATA / "sroie" / "images" / f"{i:03d}.jpg" for i in range(n)]
    if not all(path.exists() for path in paths):
        pytest.skip("shared/data/sroie images not available")
    return [path.read_bytes() for path in paths]


def _png(array: np.ndarray, **options) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format="PNG", **options)
    return out.getvalue()


def _noise(height: int, width: int, channels: int | None = 3, seed: int = 0) -> np.ndarray:
    shape = (height, width) if channels is None else (height, width, channels)
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


HELLO = [(72, 700, 24, "Hello World"), (72, 650, 12, "Second line")]


# ------------------------------------------------------------------------------------------------------ sniffing


@pytest.mark.parametrize(("head", "kind"), [
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "pdf"),
    (b"\x00" * 600 + b"%PDF-1.4", "pdf"),            # junk before the header, as readers accept
    (b"x" * 1100 + b"%PDF-1.4", "image"),            # too far in
    (b"II*\x00\x08\x00\x00\x00", "tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "tiff"),
    (b"II+\x00\x08\x00\x00\x00", "tiff"),            # BigTIFF
    (b"\x89PNG\r\n\x1a\n", "image"),
    (b"\xff\xd8\xff\xe0", "image"),
    (b"", "image"),
])
def test_document_kind(head, kind):
    assert document_kind(head) == kind


def test_import_is_cheap():
    """The module pulls in neither pandas/dask nor pypdfium2 (the package __init__ is bypassed)."""
    code = ("import sys, types; pkg = types.ModuleType('dask_ocr'); pkg.__path__ = [sys.argv[1]]; "
            "sys.modules['dask_ocr'] = pkg; import dask_ocr.documents; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('pandas', 'dask', 'distributed', 'pypdfium2')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    package = Path(__file__).resolve().parents[1] / "dask_ocr"
    result = subprocess.run([sys.executable, "-c", code, str(package)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------------------------- born-digital PDFs


def test_text_layer_words_and_boxes():
    data = _text_pdf(HELLO)
    assert document_kind(data[:1024]) == "pdf" and count_pages(data, "pdf") == 1
    page = render_page(io.BytesIO(data), "pdf", 0, dpi=144)
    assert (page.width, page.height) == (round(612 * 144 / 72), round(792 * 144 / 72)) == (1224, 1584)
    assert (page.dpi, page.capped, page.page_width_pt, page.page_height_pt) == (144, False, 612, 792)
    assert page.text.split("\n") == ["Hello World", "Second line"]
    assert [w.text for w in page.words] == ["Hello", "World", "Second", "line"]
    scale = 144 / 72
    for (x, y, size, line), words in zip(HELLO, (page.words[:2], page.words[2:])):
        baseline, start = (792 - y) * scale, x
        for word, token in zip(words, line.split(" ")):
            x0, y0, x1, y1 = word.box
            assert x0 == pytest.approx(start * scale, abs=2)
            assert x1 == pytest.approx((start + _advance(token, size)) * scale, abs=2)
            assert baseline - size * scale <= y0 <= baseline - 0.72 * size * scale  # top: above the cap height
            assert baseline <= y1 <= baseline + 0.3 * size * scale                   # bottom: the descender
            start += _advance(token + " ", size)
    assert has_text_layer(page) and not has_text_layer(page, min_chars=100)
    _assert_ink_in_boxes(page)


def test_render_false_skips_the_image_only():
    data = _text_pdf(HELLO)
    full, text_only = render_page(data, "pdf", 0, dpi=100), render_page(data, "pdf", 0, dpi=100, render=False)
    assert text_only.content == b"" and full.content.startswith(b"\x89PNG")
    assert (text_only.width, text_only.height, text_only.text, text_only.words) == (
        full.width, full.height, full.text, full.words)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_rotated_page(rotate):
    page = render_page(_text_pdf(HELLO, rotate=rotate), "pdf", 0, dpi=100)
    upright = render_page(_text_pdf(HELLO), "pdf", 0, dpi=100, render=False)
    sideways = rotate in (90, 270)
    assert (page.width, page.height) == ((1100, 850) if sideways else (850, 1100))
    assert (page.page_width_pt, page.page_height_pt) == ((792, 612) if sideways else (612, 792))
    # pdfium orders the text as the rotated page is read: sideways, "Second line" is the left column
    assert sorted(page.text.split("\n")) == sorted(upright.text.split("\n"))
    rotated = {word.text: word.box for word in page.words}
    assert sorted(rotated) == sorted(word.text for word in upright.words)
    for straight in upright.words:
        u0, v0, u1, v1 = straight.box
        if rotate == 90:    # clockwise: the page's left edge becomes the top
            expected = (1100 - v1, u0, 1100 - v0, u1)
        elif rotate == 180:
            expected = (850 - u1, 1100 - v1, 850 - u0, 1100 - v0)
        else:
            expected = (v0, 850 - u1, v1, 850 - u0)
        assert rotated[straight.text] == pytest.approx(expected, abs=1)
    _assert_ink_in_boxes(page)


def test_crop_box_offsets_the_page():
    page = render_page(_text_pdf(HELLO, crop_box=[36, 36, 576, 756]), "pdf", 0, dpi=144)
    assert (page.width, page.height, page.page_width_pt, page.page_height_pt) == (1080, 1440, 540, 720)
    assert page.words[0].box[0] == pytest.approx((72 - 36) * 2, abs=2)
    assert page.words[0].box[3] == pytest.approx((756 - 700) * 2 + 0.224 * 48, abs=3)
    _assert_ink_in_boxes(page)


def _square_annotation(pdf, page):
    """A Square annotation and a filled-in text field, both with black appearance streams."""
    box = b"q 0 g 0 0 100 50 re f Q"
    ap = pdf.make_stream(box, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 100, 50])
    square = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square,
                                                  Rect=[300, 100, 400, 150], AP=pikepdf.Dictionary(N=ap)))
    ap2 = pdf.make_stream(box, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Form, BBox=[0, 0, 100, 50])
    field = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget,
                                                 FT=pikepdf.Name.Tx, T=pikepdf.String("name"), V=pikepdf.String(""),
                                                 Rect=[100, 100, 200, 150], AP=pikepdf.Dictionary(N=ap2), F=4))
    page.obj.Annots = pdf.make_indirect(pikepdf.Array([square, field]))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array([field]))


def test_annotations_and_form_fields_are_drawn():
    page = render_page(_text_pdf(HELLO, extra=_square_annotation), "pdf", 0, dpi=72)
    grey = _pixels(page)
    assert grey[792 - 145:792 - 105, 305:395].max() < 64    # the annotation
    assert grey[792 - 145:792 - 105, 105:195].max() < 64    # the form field
    assert grey[792 - 145:792 - 105, 220:280].min() > 250   # blank paper between them


def test_multi_page_and_index_out_of_range():
    data = _text_pdf(HELLO, n_pages=3)
    file = io.BytesIO(data)
    assert count_pages(file, "pdf") == 3
    assert render_page(file, "pdf", 2, dpi=72).text.startswith("Hello")    # the same file object again
    for index in (3, -1):
        with pytest.raises(DocumentError, match=rf"page {index + 1}: out of range.*3 page"):
            render_page(file, "pdf", index)
    assert not file.closed


# ---------------------------------------------------------------------------------------------------- scanned PDFs


def test_scanned_pdf_from_real_images():
    images = _sroie(2)
    data = images_to_pdf(images, dpi=DEFAULT_DPI)
    assert count_pages(io.BytesIO(data), "pdf") == 2
    with pikepdf.open(io.BytesIO(data)) as pdf:    # JPEGs embedded as-is
        for page, original in zip(pdf.pages, images):
            (xobject,) = page.get_images().values()
            assert xobject.Filter == pikepdf.Name.DCTDecode and xobject.read_raw_bytes() == original
    for index, original in enumerate(images):
        source = Image.open(io.BytesIO(original)).convert("RGB")
        page = render_page(io.BytesIO(data), "pdf", index)
        assert page.text is None and page.words == () and not has_text_layer(page)
        assert abs(page.width - source.width) <= 1 and abs(page.height - source.height) <= 1
        rendered = np.asarray(Image.open(io.BytesIO(page.content)).convert("RGB").resize(source.size), dtype=float)
        assert np.abs(rendered - np.asarray(source, dtype=float)).mean() < 4
        half = render_page(io.BytesIO(data), "pdf", index, dpi=DEFAULT_DPI / 2, render=False)
        assert abs(half.width - source.width / 2) <= 1 and abs(half.height - source.height / 2) <= 1


class _CountingReader:
    """A file object without ``readinto`` that counts the bytes read."""

    def __init__(self, data: bytes, fail_after: int | None = None):
        self._file, self.bytes_read, self._fail_after = io.BytesIO(data), 0, fail_after

    def read(self, size: int = -1) -> bytes:
        if self._fail_after is not None and self.bytes_read > self._fail_after:
            raise OSError("connection reset")
        chunk = self._file.read(size)
        self.bytes_read += len(chunk)
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()


def test_pdf_is_read_on_demand_from_a_file_object():
    data = images_to_pdf([_png(_noise(400, 300, seed=i)) for i in range(8)], dpi=100)
    reader = _CountingReader(data)
    assert count_pages(reader, "pdf") == 8
    assert reader.bytes_read < len(data) / 4
    reader.bytes_read = 0
    page = render_page(reader, "pdf", 5, dpi=100)
    assert reader.bytes_read < len(data) / 3
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(page.content))), _noise(400, 300, seed=5))
    for fail_after in (0, 2000):    # the storage fails mid-document: a clean DocumentError, nothing else
        with pytest.raises(DocumentError, match="damaged or truncated|page 6:"):
            render_page(_CountingReader(data, fail_after=fail_after), "pdf", 5)


def test_lossless_images_and_jpeg2000_in_pdf():
    grey, colour = _noise(120, 90, channels=None, seed=1), _noise(80, 160, seed=2)
    pages = [_png(grey), _png(colour)]
    if features.check("jpg_2000"):
        jp2 = io.BytesIO()
        Image.fromarray(colour).save(jp2, format="JPEG2000", irreversible=False)    # reversible: lossless
        pages.append(jp2.getvalue())
    data = images_to_pdf(pages, dpi=72)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        filters = [next(iter(page.get_images().values())).Filter for page in pdf.pages]
    assert filters[:2] == [pikepdf.Name.FlateDecode] * 2
    for index, expected in enumerate([grey, colour, colour][:len(pages)]):
        page = render_page(data, "pdf", index, dpi=72)
        assert (page.width, page.height) == (expected.shape[1], expected.shape[0])
        rendered = np.asarray(Image.open(io.BytesIO(page.content)).convert("RGB" if expected.ndim == 3 else "L"))
        assert np.abs(rendered.astype(int) - expected).mean() < 1, index
    if len(pages) < 3:
        pytest.skip("Pillow cannot write JPEG 2000 here; the JPX page was not checked")
    assert filters[2] == pikepdf.Name.JPXDecode


def _ccitt_pdf(image: Image.Image) -> bytes:
    """A one-page PDF holding the bilevel ``image`` as a CCITT Group 4 (fax) image, as office scanners write."""
    tiff = io.BytesIO()
    image.save(tiff, format="TIFF", compression="group4", tiffinfo={278: image.height})   # one strip
    tags = Image.open(io.BytesIO(tiff.getvalue())).tag_v2
    offset, length = tags[273][0], tags[279][0]
    pdf = pikepdf.new()
    xobject = pikepdf.Stream(pdf, tiff.getvalue()[offset:offset + length], Type=pikepdf.Name.XObject,
                             Subtype=pikepdf.Name.Image, Width=image.width, Height=image.height, BitsPerComponent=1,
                             ColorSpace=pikepdf.Name.DeviceGray, Filter=pikepdf.Name.CCITTFaxDecode,
                             DecodeParms=pikepdf.Dictionary(K=-1, Columns=image.width, Rows=image.height,
                                                            BlackIs1=True))
    page = pdf.add_blank_page(page_size=image.size)
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=xobject))
    page.obj.Contents = pdf.make_stream(f"q {image.width} 0 0 {image.height} 0 0 cm /Im0 Do Q".encode())
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_ccitt_fax_image_in_pdf():
    if not features.check("libtiff"):
        pytest.skip("Pillow has no libtiff here to write CCITT Group 4")
    from PIL import ImageDraw

    image = Image.new("1", (240, 80), 1)
    drawing = ImageDraw.Draw(image)
    drawing.rectangle([20, 20, 100, 40], fill=0)
    drawing.text((120, 30), "CCITT G4", fill=0)
    data = _ccitt_pdf(image)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        assert next(iter(pdf.pages[0].get_images().values())).Filter == pikepdf.Name.CCITTFaxDecode
    page = render_page(data, "pdf", 0, dpi=72)
    rendered = np.asarray(Image.open(io.BytesIO(page.content)).convert("L"))
    assert np.array_equal(rendered < 128, np.asarray(image.convert("L")) < 128)    # every pixel, not inverted


def test_exif_rotation_is_honoured_alike_for_images_and_pdfs():
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6    # stored sideways, shown rotated 90° clockwise
    Image.fromarray(_noise(60, 100)).save(out, format="JPEG", exif=exif, dpi=(150, 150))
    jpeg = out.getvalue()
    image_page = render_page(jpeg, "image", 0)
    pdf_page = render_page(images_to_pdf([jpeg], dpi=150), "pdf", 0, dpi=150)
    assert image_page.content == jpeg    # passed through untouched
    assert (image_page.width, image_page.height, image_page.dpi) == (60, 100, 150)
    assert (pdf_page.width, pdf_page.height) == (60, 100)
    assert (image_page.page_width_pt, image_page.page_height_pt) == pytest.approx((60 * 72 / 150, 100 * 72 / 150))


# ---------------------------------------------------------------------------------------------------- TIFF, images


def test_multi_page_tiff():
    frames = [_noise(50, 70, seed=1), _noise(90, 40, channels=None, seed=2), _noise(30, 30, seed=3)]
    data = images_to_tiff([_png(frame, dpi=(300, 300)) for frame in frames])
    assert document_kind(data[:16]) == "tiff"
    file = io.BytesIO(data)
    assert count_pages(file, "tiff") == 3
    for index, frame in enumerate(frames):
        page = render_page(file, "tiff", index)
        assert (page.width, page.height, page.capped, page.text, page.words) == (
            frame.shape[1], frame.shape[0], False, None, ())
        assert page.dpi == pytest.approx(300, abs=0.1)
        assert page.page_width_pt == pytest.approx(frame.shape[1] * 72 / 300, abs=0.01)
        decoded = Image.open(io.BytesIO(page.content))
        assert decoded.format == "PNG" and np.array_equal(np.asarray(decoded), frame)    # lossless throughout
    with pytest.raises(DocumentError, match="page 4: out of range"):
        render_page(file, "tiff", 3)
    with pytest.raises(DocumentError, match="page 2: out of range"):
        render_page(_png(frames[0]), "image", 1)


def test_huge_raster_is_downscaled():
    data = _png(np.full((1000, 800), 200, dtype=np.uint8))
    assert count_pages(data, "image") == 1
    page = render_page(data, "image", 0, max_page_pixels=200_000)
    assert page.capped and page.width * page.height <= 200_000
    assert (page.width, page.height) == pytest.approx((400, 500), abs=1)
    assert page.dpi == pytest.approx(72 * page.width / 800) and page.page_width_pt == 800
    assert Image.open(io.BytesIO(page.content)).size == (page.width, page.height)


# ----------------------------------------------------------------------------------------------------- bad inputs


def _encrypted() -> bytes:
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(_text_pdf(HELLO))) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(user="pw", owner="o"))
    return out.getvalue()


def test_encrypted_pdf():
    data = _encrypted()
    for call in (lambda **kw: count_pages(data, "pdf", **kw), lambda **kw: render_page(data, "pdf", 0, **kw)):
        with pytest.raises(DocumentError, match=r"PDF is encrypted: pass password="):
            call()
        with pytest.raises(DocumentError, match="wrong"):
            call(password="nope")
    assert count_pages(data, "pdf", password="pw") == 1
    assert render_page(data, "pdf", 0, dpi=72, password="pw").text.startswith("Hello World")


def test_corrupt_and_empty_pdfs():
    with pytest.raises(DocumentError, match="PDF is damaged or truncated"):
        count_pages(b"%PDF-1.7 garbage", "pdf")
    with pytest.raises(DocumentError, match="PDF is damaged or truncated"):
        render_page(io.BytesIO(b"%PDF-1.7 garbage"), "pdf", 0)
    empty = io.BytesIO()
    pikepdf.new().save(empty)
    with pytest.raises(DocumentError, match="encrypted"):
        count_pages(_encrypted(), "pdf")    # leaves pdfium's last error at "password": must not leak into the next
    with pytest.raises(DocumentError, match="document has no pages"):
        count_pages(empty.getvalue(), "pdf")
    with pytest.raises(DocumentError, match="TIFF is damaged or unreadable"):
        count_pages(b"II*\x00garbage", "tiff")
    with pytest.raises(DocumentError, match="not a recognised image"):
        render_page(b"not an image", "image", 0)
    with pytest.raises(DocumentError, match="unknown document kind"):
        count_pages(b"", "docx")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
def test_truncated_pdf_fails_cleanly_or_reads(fraction):
    data = _text_pdf(HELLO, n_pages=3)
    cut = data[:int(len(data) * fraction)]
    try:
        n_pages = count_pages(cut, "pdf")
    except DocumentError as exc:
        assert "damaged or truncated" in str(exc) or "no pages" in str(exc)
        return
    for index in range(n_pages):    # pdfium may reconstruct what is there: then each page renders or fails cleanly
        try:
            page = render_page(cut, "pdf", index, dpi=36)
        except DocumentError as exc:
            assert str(exc).startswith(f"page {index + 1}:")
        else:
            assert page.width > 0 and page.content.startswith(b"\x89PNG")


def test_max_page_pixels_caps_the_dpi():
    data = _text_pdf([(72, 7000, 200, "Hello World")], page_size=(14400, 14400))    # 200 x 200 inches
    page = render_page(data, "pdf", 0, dpi=300, render=False)
    assert page.capped and page.dpi < 300 and page.width * page.height <= 60_000_000
    assert page.width * page.height > 0.99 * 60_000_000
    assert page.width == round(14400 * page.dpi / 72)
    small = render_page(data, "pdf", 0, dpi=300, max_page_pixels=1_000_000)
    assert small.capped and small.width * small.height <= 1_000_000
    assert _pixels(small).shape == (small.height, small.width)
    assert small.words[0].box[0] == pytest.approx(72 * small.dpi / 72, abs=2)
    _assert_ink_in_boxes(small)


def test_concurrent_threads_are_safe():
    """pdfium is not thread-safe: concurrent calls (as in a threaded Dask worker) are serialised and agree."""
    from concurrent.futures import ThreadPoolExecutor

    data = _text_pdf(HELLO, n_pages=4)
    expected = [render_page(data, "pdf", i, dpi=50) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda i: render_page(io.BytesIO(data), "pdf", i % 4, dpi=50), range(16)))
    assert results == [expected[i % 4] for i in range(16)]


def test_has_text_layer_counts_non_space_characters():
    page = RenderedPage(b"", 10, 10, 72.0, False, 10.0, 10.0, text=" a b\nc \t d ", words=())
    assert has_text_layer(page, min_chars=4) and not has_text_layer(page, min_chars=5)
    assert not has_text_layer(RenderedPage(b"", 10, 10, 72.0, False, 10.0, 10.0, text=None, words=()))
