"""Grafting: the text layer goes onto the original pages (scans kept as they are, pages turned upright), its words
placed exactly whatever the page's /Rotate and crop box, one run per line along skewed baselines."""

from __future__ import annotations

import io
import math
import shutil
import subprocess

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

from dask_ocr import read_documents, write_pdf
from dask_ocr.documents import Word, render_page
from dask_ocr.geometry import box_iou
from dask_ocr.metrics import bag_of_words
from dask_ocr.samples import images_to_pdf
from dask_ocr.sinks.pdf_writer import PdfPage, image_to_page, write_searchable_pdf
from dask_ocr.sinks.pdfa import pdfa_problems, version_key
from dask_ocr.sinks.text_layer import _unskewed_size, layout_lines

from ocrdata import load_manifest

needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler) is not installed")


# ------------------------------------------------------------------------------------------------ pure geometry


@pytest.mark.parametrize("skew", [0.0, 3.0, -7.5, 20.0])
def test_unskewed_size_inverts_the_bounds_of_a_turned_box(skew):
    w, h = 180.0, 24.0
    cos, sin = abs(math.cos(math.radians(skew))), abs(math.sin(math.radians(skew)))
    assert _unskewed_size(w * cos + h * sin, w * sin + h * cos, skew) == pytest.approx((w, h))


def test_page_map_follows_rotate_and_crop_box():
    """Pixel (0, 0) is the top-left corner as shown; the crop box, not the media box, is what is shown."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(300, 200))
    page.obj.CropBox = pikepdf.Array([10, 20, 210, 120])  # 200 x 100 pt shown
    expected = {0: [(10, 120), (210, 20)], 90: [(10, 20), (210, 120)], 180: [(210, 20), (10, 120)],
                270: [(210, 120), (10, 20)]}
    for rotation, (top_left, bottom_right) in expected.items():
        width, height = (200, 400) if rotation in (90, 270) else (400, 200)
        corners = np.array([[0.0, 0.0, 1.0], [width, height, 1.0]])  # top-left and bottom-right of a 2 px/pt render
        mapped = corners @ image_to_page(page, width, height, rotation).T
        assert mapped.ravel().tolist() == pytest.approx([*top_left, *bottom_right]), rotation


def test_layout_splits_stacked_rows_and_levels_skewed_words():
    """A 'line' holding two rows becomes two runs; on a page skewed 5 degrees, a row's words lie level on the
    baseline the skew gives them (each word starts lower than the one before) and keep their size."""
    skew = 5.0
    cos, sin = math.cos(math.radians(skew)), math.sin(math.radians(skew))
    words = []
    for row, y in enumerate((100.0, 140.0)):
        for i, x in enumerate((100.0, 260.0, 420.0)):
            dx, dy = x + 60 - 300, y + 12 - 300  # the word's centre about the page's, turned by the skew
            cx, cy = 300 + dx * cos - dy * sin, 300 + dx * sin + dy * cos
            bw, bh = 120 * cos + 24 * sin, 120 * sin + 24 * cos  # the axis-aligned bounds of the turned word
            words.append(Word(f"r{row}w{i}", (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)))
    lines, _ = layout_lines([words], 600, 600, 0, skew)
    assert [[word.text for word in line.words] for line in lines] == [[f"r{r}w{i}" for i in range(3)] for r in (0, 1)]
    for line in lines:
        assert line.size == pytest.approx(24, abs=0.5)
        assert [word.width for word in line.words] == pytest.approx([120] * 3, abs=1)
        baselines = [word.baseline for word in line.words]
        assert np.diff(baselines) == pytest.approx([160 * sin] * 2, abs=0.5)  # down the skew, 160 px apart


# ------------------------------------------------------------------------------------------------ copied pages


def _text_pdf(rotation: int) -> bytes:
    """A page of Helvetica words under /Rotate ``rotation``, its crop box inside a larger media box."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(500, 400))
    page.obj.CropBox = pikepdf.Array([30, 40, 470, 380])
    page.obj.Rotate = rotation
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(b"BT /F1 20 Tf 60 300 Td (alpha beta) Tj 0 -80 Td (gamma delta) Tj ET "
                                        b"BT /F1 14 Tf 0 1 -1 0 400 100 Tm (sideways words) Tj ET")
    buffer = io.BytesIO()
    pdf.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_grafted_words_land_on_the_page_words_whatever_the_rotation(rotation):
    """The words pdfium reads from a rotated, cropped page (pixel boxes of a 150-dpi rendering) written back as
    the text layer land on those very words: each one's box, read again, matches the original's."""
    source = _text_pdf(rotation)
    rendered = render_page(source, "pdf", 0, dpi=150, render=False)
    originals = [word for word in rendered.words if word.text != "sideways" and word.text != "words"]
    assert len(originals) == 4
    ours = tuple((Word(word.text.upper(), word.box),) for word in originals)
    buffer = io.BytesIO()
    write_searchable_pdf([PdfPage(None, rendered.width, rendered.height, 150, ours, source_pdf=source)], buffer)
    again = render_page(buffer.getvalue(), "pdf", 0, dpi=150, render=False)
    boxes = {word.text: word.box for word in again.words}
    for word in originals:
        assert box_iou(boxes[word.text.upper()], word.box) > 0.8, (word, boxes.get(word.text.upper()))
    with pikepdf.open(io.BytesIO(buffer.getvalue())) as pdf:
        assert int(pdf.pages[0].obj.get("/Rotate", 0)) == rotation  # upright already: left as it is


def _receipt_scans(tmp_path) -> tuple[dict, dict]:
    """A SROIE receipt as scanned PDFs at 300 dpi: as it is (JPEG embedded unchanged), turned a quarter turn,
    and skewed 4 degrees; the inputs' paths and the receipt's record."""
    (record,) = load_manifest("sroie", 1)
    image = Image.open(io.BytesIO(record["content"])).convert("RGB")
    variants = {"upright": record["content"]}
    skewed = image.rotate(-4, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)
    for name, turned in (("turned", image.transpose(Image.Transpose.ROTATE_90)), ("skewed", skewed)):
        buffer = io.BytesIO()
        turned.save(buffer, format="JPEG", quality=92)
        variants[name] = buffer.getvalue()
    folder = tmp_path / "in"
    folder.mkdir()
    paths = {}
    for name, data in variants.items():
        paths[name] = folder / f"{name}.pdf"
        paths[name].write_bytes(images_to_pdf([data], dpi=300))
    return paths, variants


def _render(path, dpi: float = 100, rotate: bool = True) -> np.ndarray:
    document = pdfium.PdfDocument(str(path))
    try:
        page = document[0]
        undo = 0 if rotate else (360 - page.get_rotation()) % 360
        return np.asarray(page.render(scale=dpi / 72, rotation=undo).to_pil().convert("L"), dtype=np.float64)
    finally:
        document.close()


@pytest.mark.data
@needs_pdftotext
def test_scans_are_kept_and_turned_pages_shown_upright(tmp_path):
    paths, variants = _receipt_scans(tmp_path)
    frame = read_documents(str(tmp_path / "in")).ocr.detect(orientation=True).ocr.recognize(positions_col="positions")
    frame = frame.compute().set_index("path")
    written = write_pdf(frame.reset_index(), str(tmp_path / "out"), progress=False)
    assert not written.failed
    for name, source in paths.items():
        output = tmp_path / "out" / f"{name}.pdf"
        row = frame.loc[str(source)]
        with pikepdf.open(output) as pdf:
            (image,) = pdf.pages[0].get_images().values()
            assert image.read_raw_bytes() == variants[name]  # the scan's JPEG, byte for byte
            assert int(pdf.pages[0].obj.get("/Rotate", 0)) == (90 if name == "turned" else 0)
        assert np.abs(_render(output, rotate=False) - _render(source)).mean() < 0.5  # the page as scanned
        assert output.stat().st_size <= 1.05 * source.stat().st_size + 50_000
        extracted = subprocess.run(["pdftotext", str(output), "-"], capture_output=True, text=True, check=True).stdout
        assert bag_of_words(row["text"], extracted).f1 >= 0.97, name  # every word whole, turned or skewed
    upright = _render(tmp_path / "out" / "turned.pdf")
    assert upright.shape == _render(paths["upright"]).shape  # shown upright: as tall as the upright receipt


def _g4_tiff(path, pages: int) -> list[Image.Image]:
    """A multi-page CCITT Group 4 TIFF of 1-bit pages with a word drawn on each."""
    frames = []
    for number in range(pages):
        frame = Image.new("L", (800, 300), 255)
        ImageDraw.Draw(frame).text((60, 100), f"page {number + 1}", fill=0, font=ImageFont.load_default(64))
        frames.append(frame.convert("1"))
    frames[0].save(path, format="TIFF", compression="group4", save_all=True, append_images=frames[1:], dpi=(200, 200))
    return frames


def test_tiff_pages_stay_bilevel_group4(tmp_path):
    """A Group 4 TIFF comes back as Group 4 pages with the same pixels, no bigger than the TIFF plus the text."""
    import pandas as pd

    from dask_ocr.schema import BINARY_DTYPE, FLOAT_DTYPE, INT_DTYPE, POSITIONS_DTYPE, STRING_DTYPE, make_column

    source = tmp_path / "fax.tif"
    frames = _g4_tiff(source, 3)
    positions = [[{"text": "page", "x": 60.0, "y": 110.0, "width": 150.0, "height": 50.0, "confidence": 1.0,
                   "line": 0, "region": 0, "chars": []},
                  {"text": str(number), "x": 240.0, "y": 110.0, "width": 40.0, "height": 50.0, "confidence": 1.0,
                   "line": 0, "region": 1, "chars": []}] for number in (1, 2, 3)]
    index = pd.RangeIndex(3)
    frame = pd.DataFrame({"path": make_column([str(source)] * 3, STRING_DTYPE, index),
                          "page": make_column([1, 2, 3], INT_DTYPE, index),
                          "content": make_column([_png(f) for f in frames], BINARY_DTYPE, index),  # decoded: unused
                          "width": make_column([800] * 3, INT_DTYPE, index),
                          "height": make_column([300] * 3, INT_DTYPE, index),
                          "dpi": make_column([200.0] * 3, FLOAT_DTYPE, index),
                          "positions": make_column(positions, POSITIONS_DTYPE, index)})
    (output,) = write_pdf(frame, str(tmp_path / "out"), progress=False)
    with pikepdf.open(output) as pdf:
        for number, page in enumerate(pdf.pages):
            (image,) = page.get_images().values()
            filters = image.Filter if isinstance(image.Filter, pikepdf.Array) else [image.Filter]
            assert [str(name) for name in filters] == ["/CCITTFaxDecode"]
            assert int(image.BitsPerComponent) == 1
            pixels = np.asarray(pikepdf.PdfImage(image).as_pil_image().convert("L"))
            assert (pixels == np.asarray(frames[number].convert("L"))).all()
    document = pdfium.PdfDocument(output)
    texts = [document[i].get_textpage().get_text_range().split() for i in range(3)]
    assert texts == [["page", str(n)] for n in (1, 2, 3)]
    document.close()
    assert (tmp_path / "out" / "fax.pdf").stat().st_size <= source.stat().st_size + 3 * 5_000


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ PDF/A


def _scan_with_info(path, title: str) -> list[dict]:
    """A one-page scanned PDF with a title and author, and its positions cell."""
    image = Image.new("L", (600, 200), 255)
    ImageDraw.Draw(image).text((40, 60), "archive copy", fill=0, font=ImageFont.load_default(48))
    with pikepdf.open(io.BytesIO(images_to_pdf([_png(image)], dpi=150))) as pdf:
        pdf.docinfo["/Title"], pdf.docinfo["/Author"] = title, "Records Office"
        pdf.save(path)
    return [{"text": "archive", "x": 40.0, "y": 60.0, "width": 180.0, "height": 50.0, "confidence": 1.0, "line": 0,
             "region": 0, "chars": []},
            {"text": "copy", "x": 240.0, "y": 60.0, "width": 110.0, "height": 50.0, "confidence": 1.0, "line": 0,
             "region": 1, "chars": []}]


def test_pdfa_2b_with_the_source_information_kept_where_nothing_forbids_it(tmp_path):
    import pandas as pd

    from dask_ocr.schema import BINARY_DTYPE, INT_DTYPE, POSITIONS_DTYPE, STRING_DTYPE, TEXT_SOURCE_COL, make_column

    scan = tmp_path / "in" / "scan.pdf"
    scan.parent.mkdir()
    positions = _scan_with_info(scan, "Minutes 1987")
    letter = tmp_path / "in" / "letter.pdf"  # born digital, its Helvetica not embedded: PDF/A forbids that
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(300, 200))
    helvetica = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pdf.make_indirect(helvetica)))
    page.obj.Contents = pdf.make_stream(b"BT /F1 18 Tf 30 100 Td (typed letter) Tj ET")
    pdf.save(letter)
    index = pd.RangeIndex(2)
    frame = pd.DataFrame({"path": make_column([str(scan), str(letter)], STRING_DTYPE, index),
                          "page": make_column([1, 1], INT_DTYPE, index),
                          "content": make_column([render_page(scan.read_bytes(), "pdf", 0, dpi=150).content, None],
                                                 BINARY_DTYPE, index),
                          "positions": make_column([positions, None], POSITIONS_DTYPE, index),
                          TEXT_SOURCE_COL: make_column(["ocr", "text_layer"], STRING_DTYPE, index)})
    written = write_pdf(frame, str(tmp_path / "out"), progress=False)
    assert list(written.not_pdfa) == [str(letter)] and "Helvetica" in written.not_pdfa[str(letter)]
    with pikepdf.open(tmp_path / "out" / "scan.pdf") as pdf:
        meta = pdf.open_metadata()
        assert (meta["pdfaid:part"], meta["pdfaid:conformance"]) == ("2", "B")
        assert meta["dc:title"] == "Minutes 1987" and str(pdf.docinfo["/Author"]) == "Records Office"
        assert str(pdf.docinfo["/Producer"]).startswith("dask_ocr ")
        (intent,) = pdf.Root.OutputIntents
        assert intent.S == "/GTS_PDFA1" and int(intent.DestOutputProfile.N) == 3
        assert intent.DestOutputProfile.read_bytes()[36:40] == b"acsp"  # an ICC profile
        assert version_key(pdf.pdf_version) <= (1, 7)
    with pikepdf.open(tmp_path / "out" / "letter.pdf") as pdf:
        assert "pdfaid:part" not in pdf.open_metadata() and "/OutputIntents" not in pdf.Root
    if shutil.which("qpdf"):
        for name in ("scan", "letter"):
            check = subprocess.run(["qpdf", "--check", str(tmp_path / "out" / f"{name}.pdf")], capture_output=True)
            assert check.returncode == 0, check.stdout


def test_pdfa_problems_names_what_pdfa_forbids():
    pdf = pikepdf.new()
    page = pdf.add_blank_page()
    page.obj.Annots = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 10, 10], F=0))])
    pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)"))
    lzw = pikepdf.Stream(pdf, b"\x80\x0b\x60\x50\x22\x0c\x0c\x85\x01")
    lzw.Filter = pikepdf.Name.LZWDecode
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(X=pdf.make_indirect(lzw)))
    problems = pdfa_problems(pdf, "2.0")
    assert problems[:2] == ["PDF 2.0 (PDF/A-2 is PDF 1.7 at most)", "document actions"]
    assert {"annotations that are hidden or not printed", "LZW-compressed streams"} <= set(problems)
    assert pdfa_problems(pikepdf.new(), "1.5") == []


# ------------------------------------------------------------------------------------------------ modes


def _old_ocr_pdf(path) -> None:
    """A two-page scan whose first page carries an earlier OCR's invisible layer ("stale wording here"), drawn
    in a form XObject as OCRmyPDF draws its layers; the second page has visible text."""
    image = Image.new("L", (600, 200), 255)
    ImageDraw.Draw(image).text((40, 60), "fresh words", fill=0, font=ImageFont.load_default(48))
    buffer = io.BytesIO()
    stale = tuple((Word(text, (40.0 + 170 * i, 60.0, 200.0 + 170 * i, 110.0)),) for i, text in
                  enumerate(["stale", "wording", "here"]))
    write_searchable_pdf([PdfPage(_png(image), 600, 200, 150, stale)], buffer)
    with pikepdf.open(io.BytesIO(buffer.getvalue())) as pdf:
        page = pdf.pages[0]
        page.contents_coalesce()
        form = pikepdf.Stream(pdf, page.obj.Contents.read_bytes(), Type=pikepdf.Name.XObject,
                              Subtype=pikepdf.Name.Form, BBox=page.mediabox, Resources=page.obj.Resources)
        page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Layer=pdf.make_indirect(form)))
        page.obj.Contents = pdf.make_stream(b"q /Layer Do Q")
        typed = pdf.add_blank_page(page_size=(300, 200))
        font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
        typed.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pdf.make_indirect(font)))
        typed.obj.Contents = pdf.make_stream(b"BT /F1 18 Tf 30 100 Td (typed and visible text) Tj ET")
        pdf.save(path)


def test_redo_ocr_replaces_an_earlier_invisible_layer_and_keeps_visible_text(tmp_path, fake):
    source = tmp_path / "in" / "old.pdf"
    source.parent.mkdir()
    _old_ocr_pdf(source)
    skipped = read_documents(str(source)).compute()
    assert skipped["text_layer"].notna().all()  # by default, both layers are taken as they are
    redone = read_documents(str(source), redo_ocr=True).compute()
    assert redone["text_layer"].isna().tolist() == [True, False]
    assert "earlier OCR" in redone["notes"].iloc[0]
    frame = redone.ocr.detect().ocr.recognize(positions_col="positions")
    written = write_pdf(frame, str(tmp_path / "out"), progress=False)
    document = pdfium.PdfDocument(written[0])
    first, second = (document[i].get_textpage().get_text_range().split() for i in range(2))
    document.close()
    assert first == [frame["text"].iloc[0]]  # the new reading (the fake model's), the stale words gone
    assert second == ["typed", "and", "visible", "text"]


def test_pages_selects_page_numbers(tmp_path):
    from dask_ocr.readers import page_selection

    source = tmp_path / "three.pdf"
    blank = _png(Image.new("L", (100, 100), 255))
    source.write_bytes(images_to_pdf([blank] * 5, dpi=72))
    assert read_documents(str(source), pages="2-3,5").compute()["page"].tolist() == [2, 3, 5]
    assert read_documents(str(source), pages=[4]).compute()["page"].tolist() == [4]
    assert [n for n in range(1, 9) if page_selection("1,6-")(n)] == [1, 6, 7, 8]
    for bad in ("x", "0-2", "5-3", "2,,3"):
        with pytest.raises(ValueError, match="pages"):
            read_documents(str(source), pages=bad)


def test_scanned_pages_are_read_at_their_own_resolution(tmp_path):
    """One image covering the page: its own pixels (a floor of 100 dpi); any other page: 200 dpi; dpi=: that."""
    from dask_ocr import defaults

    scan = _png(Image.new("L", (900, 1200), 255))
    (tmp_path / "fine.pdf").write_bytes(images_to_pdf([scan], dpi=300))
    (tmp_path / "coarse.pdf").write_bytes(images_to_pdf([scan], dpi=60))
    pdf = pikepdf.open(io.BytesIO(images_to_pdf([_png(Image.new("L", (100, 100), 255))], dpi=72)))
    pdf.pages[0].mediabox = pikepdf.Array([0, 0, 612, 792])  # a small picture on a letter page
    pdf.save(tmp_path / "picture.pdf")
    frame = read_documents(str(tmp_path)).compute().set_index("path")
    dpi = {path.rsplit("/", 1)[-1]: value for path, value in frame["dpi"].items()}
    assert dpi == pytest.approx({"coarse.pdf": defaults.NATIVE_MIN_DPI, "fine.pdf": 300, "picture.pdf": defaults.DPI})
    assert tuple(frame.loc[str(tmp_path / "fine.pdf"), ["width", "height"]]) == (900, 1200)  # pixel for pixel
    fixed = read_documents(str(tmp_path), dpi=150).compute()
    assert fixed["dpi"].tolist() == [150.0] * 3


def test_a_downscaled_image_comes_back_whole_at_its_size(tmp_path, fake):
    """A photo read downscaled (``max_page_pixels``) is embedded as the original JPEG, on a page of its size."""
    photo = Image.new("RGB", (1600, 1200), "white")
    ImageDraw.Draw(photo).text((100, 500), "big photo", fill="black", font=ImageFont.load_default(120))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", dpi=(200, 200))
    (tmp_path / "photo.jpg").write_bytes(buffer.getvalue())
    frame = read_documents(str(tmp_path / "photo.jpg"), max_page_pixels=400_000).compute()
    assert frame["capped"].iloc[0] and frame["width"].iloc[0] < 800
    (output,) = write_pdf(frame.ocr.detect().ocr.recognize(positions_col="positions"), str(tmp_path / "out"),
                          progress=False)
    with pikepdf.open(output) as pdf:
        (image,) = pdf.pages[0].get_images().values()
        assert image.read_raw_bytes() == buffer.getvalue()
        assert [float(v) for v in pdf.pages[0].mediabox] == pytest.approx([0, 0, 1600 * 72 / 200, 1200 * 72 / 200])
