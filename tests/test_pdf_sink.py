"""write_pdf: one searchable PDF per document, pages in page order across partitions, born-digital pages copied."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
import xml.etree.ElementTree as ET

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw, ImageFont

import dask_ocr  # noqa: F401  (registers the accessor)
from dask_ocr import datasets
from dask_ocr.defaults import DPI as DEFAULT_DPI
from dask_ocr.geometry import box_iou
from dask_ocr.metrics import bag_of_words
from dask_ocr.samples import images_to_pdf
from dask_ocr.schema import BINARY_DTYPE, FLOAT_DTYPE, INT_DTYPE, POSITIONS_DTYPE, STRING_DTYPE, make_column
from dask_ocr.sinks.files import LOCK_FILE
from dask_ocr.sinks.pdf import PARTS_DIR, PDF_JOB_FILE, output_names, write_pdf

from ocrdata import DATA

needs_poppler = pytest.mark.skipif(not all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "qpdf")),
                                   reason="poppler-utils and qpdf are needed")


# ------------------------------------------------------------------------------------------------ helpers


def _page(words: list[str], size=(360, 80)) -> tuple[bytes, list[dict]]:
    """A PNG with ``words`` drawn on one line and their positions (pixel boxes)."""
    image = Image.new("RGB", size, "white")
    draw, font = ImageDraw.Draw(image), ImageFont.load_default(22)
    positions, x = [], 10.0
    for i, word in enumerate(words):
        width = max(font.getlength(word), 10.0)
        draw.text((x, 25), word, fill="black", font=font)
        positions.append({"text": word, "x": x, "y": 22.0, "width": width, "height": 30.0, "confidence": 0.9,
                          "line": 0, "region": i, "chars": []})
        x += width + 14
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), positions


def _frame(rows: list[dict]) -> pd.DataFrame:
    """A recognised-looking pandas frame (Arrow dtypes) from row dicts."""
    index = pd.RangeIndex(len(rows))
    dtypes = {"path": STRING_DTYPE, "page": INT_DTYPE, "content": BINARY_DTYPE, "width": INT_DTYPE,
              "height": INT_DTYPE, "dpi": FLOAT_DTYPE, "text": STRING_DTYPE, "positions": POSITIONS_DTYPE,
              "text_source": STRING_DTYPE, "ocr_error": STRING_DTYPE}
    return pd.DataFrame({name: make_column([row.get(name) for row in rows], dtype, index)
                         for name, dtype in dtypes.items() if any(name in row for row in rows)})


def _user_files(folder) -> list[str]:
    """What a folder shows besides write_pdf's record and lock."""
    return sorted(p.name for p in folder.iterdir() if p.name not in (PDF_JOB_FILE, LOCK_FILE))


def _pdfium_texts(path) -> list[str]:
    """Each page's text by pdfium; a line-final hyphen, which pdfium reports as U+FFFE joined to the next
    line's first word (dehyphenation), is given back as the word-final "-" it was drawn as."""
    document = pdfium.PdfDocument(str(path))
    try:
        return [document[i].get_textpage().get_text_range().replace("\ufffe", "- ") for i in range(len(document))]
    finally:
        document.close()


def _pdftotext_words(path) -> list[tuple[list[tuple[str, tuple]], float]]:
    """Per page: the ``pdftotext -bbox`` words with boxes in points, and the page width in points."""
    xhtml = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    return [([(w.text or "", tuple(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")))
              for w in page.iterfind(".//x:word", ns)], float(page.get("width")))
            for page in ET.fromstring(xhtml).iterfind(".//x:page", ns)]


def _image_count(pdf: pikepdf.Pdf, index: int) -> int:
    return len(pdf.pages[index].get_images())


# ------------------------------------------------------------------------------------------------ real pages


@pytest.fixture(scope="module")
def recognized():
    """3 SROIE and 3 FUNSD dev pages, detected and recognised with the default model."""
    records = []
    for name in ("sroie", "funsd"):
        if not (DATA / name / "manifest.jsonl").exists():
            pytest.skip(f"evaluation data not found under {DATA}")
        records += [{**r, "path": f"{name}/{r['image']}"} for r in datasets.load_manifest(DATA, name, 3)]
    frame = pd.DataFrame({"path": pd.Series([r["path"] for r in records], dtype=STRING_DTYPE),
                          "content": pd.Series([r["content"] for r in records], dtype=BINARY_DTYPE)})
    return frame.ocr.detect().ocr.recognize(positions_col="positions")


@pytest.fixture(scope="module")
def written(recognized, tmp_path_factory):
    out = tmp_path_factory.mktemp("searchable")
    return recognized, write_pdf(recognized, str(out), progress=False), out


@pytest.mark.data
def test_real_pages_one_pdf_each(written):
    frame, paths, out = written
    assert frame["ocr_error"].isna().all()
    assert len(paths) == 6 and len(set(paths)) == 6
    assert _user_files(out) == sorted(path.rsplit("/", 1)[-1] for path in paths)
    assert not (out / PARTS_DIR).exists()


@pytest.mark.data
def test_real_pages_text_pdfium(written):
    frame, paths, _ = written
    for text, path in zip(frame["text"], paths):
        (extracted,) = _pdfium_texts(path)
        assert bag_of_words(text, extracted).f1 >= 0.99, path


@pytest.mark.data
@needs_poppler
def test_real_pages_words_and_boxes_pdftotext(written):
    frame, paths, _ = written
    for text, positions, content, path in zip(frame["text"], frame["positions"], frame["content"], paths):
        ((words, width_pt),) = _pdftotext_words(path)
        assert bag_of_words(text, " ".join(w for w, _ in words)).f1 >= 0.99, path
        scale = Image.open(io.BytesIO(content)).width / width_pt  # points -> pixels at the page's dpi
        truth = [(p["text"], (p["x"], p["y"], p["x"] + p["width"], p["y"] + p["height"])) for p in positions]
        good = sum(max((box_iou([v * scale for v in box], t_box) for t_text, t_box in truth if t_text == word),
                       default=0.0) >= 0.5 for word, box in words)
        assert good >= 0.95 * len(words), f"{path}: {good}/{len(words)} boxes overlap"


@pytest.mark.data
@needs_poppler
def test_real_pages_qpdf_and_rendering_shows_the_scan(written, tmp_path):
    frame, paths, _ = written
    for path in paths:
        subprocess.run(["qpdf", "--check", path], check=True, capture_output=True)
    content, path = frame["content"].iloc[0], paths[0]
    source = np.asarray(Image.open(io.BytesIO(content)).convert("L"), dtype=np.int16)
    with pikepdf.open(path) as pdf:
        dpi = source.shape[1] * 72 / float(pdf.pages[0].mediabox[2])
    image_only = tmp_path / "image_only.pdf"
    image_only.write_bytes(images_to_pdf([bytes(content)], dpi=dpi))
    rendered = [_pdftoppm(pdf_path, dpi, tmp_path / name) for pdf_path, name in ((path, "a"), (image_only, "b"))]
    assert rendered[0].shape == source.shape
    assert np.array_equal(rendered[0], rendered[1])  # the text layer paints nothing
    difference = np.abs(rendered[0] - source)
    assert difference.mean() < 8, difference.mean()  # the scan (the renderer resamples a little)
    assert np.abs(255 - source).mean() > 2 * difference.mean()  # ... and not a blank page


def _pdftoppm(path, dpi: float, stem) -> np.ndarray:
    """Page 1 rendered by poppler at ``dpi``, grey."""
    subprocess.run(["pdftoppm", "-r", f"{dpi:.4f}", "-gray", "-png", "-singlefile", str(path), str(stem)], check=True)
    return np.asarray(Image.open(f"{stem}.png").convert("L"), dtype=np.int16)


# ------------------------------------------------------------------------------------------------ generated pages


def test_100_pages_over_4_partitions_make_one_pdf_in_page_order(tmp_path):
    rows = []
    for page in range(1, 101):
        content, positions = _page([f"page{page:03d}", "of", "doc"], size=(240, 60))
        rows.append({"path": "inbox/long.pdf", "page": page, "content": content, "width": 240, "height": 60,
                     "dpi": 150.0, "text": f"page{page:03d} of doc", "positions": positions, "text_source": "ocr",
                     "ocr_error": None})
    random.Random(7).shuffle(rows)
    ddf = dd.from_pandas(_frame(rows), npartitions=4, sort=False)
    assert ddf.npartitions == 4
    paths = write_pdf(ddf, str(tmp_path), progress=False)
    assert paths == [f"{tmp_path}/long.pdf"]
    assert _user_files(tmp_path) == ["long.pdf"]                   # no partials left
    texts = _pdfium_texts(paths[0])
    assert len(texts) == 100
    assert [text.split()[0] for text in texts] == [f"page{page:03d}" for page in range(1, 101)]


def _born_digital_pdf(path, scans: tuple[bytes, ...] = ()) -> None:
    """A Letter PDF with a page of Helvetica text, then a page per scan (PNG at 72 dpi)."""
    pdf = pikepdf.new()
    page = pdf.add_blank_page(page_size=(612, 792))
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
    page.obj.Contents = pdf.make_stream(b"BT /F1 24 Tf 72 700 Td (Hello born digital) Tj ET")
    if scans:
        scanned = pikepdf.open(io.BytesIO(images_to_pdf(list(scans), dpi=72)))
        pdf.pages.extend(scanned.pages)
    pdf.save(path)


@pytest.fixture
def mixed(tmp_path):
    """A born-digital PDF page plus a scanned page of the same document, an error row, and a row without image."""
    source = tmp_path / "in" / "letter.pdf"
    source.parent.mkdir()
    scan, positions = _page(["Scanned", "second", "page"])
    _born_digital_pdf(source, (scan,))
    words = [{"text": w, "x": x, "y": 110.0, "width": 100.0, "height": 30.0, "confidence": 1.0, "line": None,
              "region": i, "chars": []} for i, (w, x) in enumerate([("Hello", 200.0), ("born", 330.0),
                                                                    ("digital", 440.0)])]
    rows = [{"path": str(source), "page": 2, "content": scan, "width": 360, "height": 80, "dpi": 72.0,
             "text": "Scanned second page", "positions": positions, "text_source": "ocr", "ocr_error": None},
            {"path": str(source), "page": 1, "content": None, "width": 1700, "height": 2200, "dpi": 200.0,
             "text": "Hello born digital", "positions": words, "text_source": "text_layer", "ocr_error": None},
            {"path": "scans/broken.png", "page": 1, "content": _page(["unread"])[0], "width": 360, "height": 80,
             "dpi": 72.0, "text": None, "positions": None, "text_source": None, "ocr_error": "recognizer exploded"},
            {"path": "scans/missing.png", "page": 1, "content": None, "text": None, "positions": None,
             "ocr_error": "not an image"}]
    return _frame(rows), tmp_path / "out"


def test_born_digital_page_is_copied_and_error_rows_reported(mixed):
    frame, out = mixed
    with pytest.warns(UserWarning, match="2 row") as caught:
        paths = write_pdf(frame, str(out), progress=False)
    message = str(caught[0].message)
    assert "scans/broken.png page 1: recognizer exploded" in message
    assert "scans/missing.png page 1: not an image; left out" in message
    assert paths == [f"{out}/letter.pdf", f"{out}/broken.pdf"]  # nothing for the row without an image
    with pikepdf.open(paths[0]) as pdf:
        assert len(pdf.pages) == 2
        assert _image_count(pdf, 0) == 0 and _image_count(pdf, 1) == 1  # page 1 copied, not rasterised
        assert float(pdf.pages[0].mediabox[2]) == 612
    assert [text.split() for text in _pdfium_texts(paths[0])] == [["Hello", "born", "digital"],
                                                                  ["Scanned", "second", "page"]]
    with pikepdf.open(paths[1]) as pdf:
        assert len(pdf.pages) == 1 and _image_count(pdf, 0) == 1
    assert _pdfium_texts(paths[1]) == [""]  # the error row's page: image only, no text layer


def test_born_digital_page_rasterised_on_request(mixed):
    frame, out = mixed
    frame = frame[frame["ocr_error"].isna()]
    (path,) = write_pdf(frame, str(out), keep_born_digital=False, progress=False)
    with pikepdf.open(path) as pdf:
        assert [_image_count(pdf, i) for i in range(2)] == [1, 1]
        assert float(pdf.pages[0].mediabox[2]) == pytest.approx(612)  # 1700 px at 200 dpi
    assert _pdfium_texts(path)[0].split() == ["Hello", "born", "digital"]  # the invisible layer from positions


@pytest.mark.parametrize("keep_born_digital", [True, False])
def test_source_pdfs_are_read_on_demand_not_whole(tmp_path, monkeypatch, keep_born_digital):
    """A born-digital page of a long PDF, copied or rasterised: what is read of the source is about that page."""
    import fsspec

    source = tmp_path / "long.pdf"
    pdf = pikepdf.new()
    noise = np.random.default_rng(3).integers(0, 256, (600, 1000), dtype=np.uint8).tobytes()
    for number in range(1, 4):  # pages 1 and 2 each carry 600 kB of image; page 3 is a line of text
        page = pdf.add_blank_page(page_size=(612, 792))
        font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
        resources = {"/Font": pikepdf.Dictionary(F1=pdf.make_indirect(font))}
        content = f"BT /F1 24 Tf 72 700 Td (Page {number}) Tj ET".encode()
        if number < 3:
            resources["/XObject"] = pikepdf.Dictionary(Im0=pikepdf.Stream(
                pdf, noise, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=1000, Height=600,
                ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=8))
            content += b" q 500 0 0 300 50 50 cm /Im0 Do Q"
        page.obj.Resources = pikepdf.Dictionary(resources)
        page.obj.Contents = pdf.make_stream(content)
    pdf.save(source, compress_streams=False)
    read, open_file = [0], fsspec.open

    class Counted:
        def __init__(self, handle):
            self.handle = handle

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def read(self, size=-1):
            data = self.handle.read(size)
            read[0] += len(data)
            return data

        def readinto(self, buffer):
            count = self.handle.readinto(buffer)
            read[0] += count
            return count

    class CountedOpenFile:
        def __init__(self, *args, **kwargs):
            self.opened = open_file(*args, **kwargs)

        def __enter__(self):
            return Counted(self.opened.__enter__())

        def __exit__(self, *exc):
            return self.opened.__exit__(*exc)

    monkeypatch.setattr(fsspec, "open", CountedOpenFile)
    frame = _frame([{"path": str(source), "page": 3, "content": None, "width": 1700, "height": 2200, "dpi": 200.0,
                     "text": "Page 3", "positions": [], "text_source": "text_layer", "ocr_error": None}])
    (path,) = write_pdf(frame, str(tmp_path / "out"), keep_born_digital=keep_born_digital, progress=False)
    assert _pdfium_texts(path)[0].split() == ["Page", "3"] or not keep_born_digital
    assert 0 < read[0] < source.stat().st_size / 4, (read[0], source.stat().st_size)


def test_images_without_page_size_columns(tmp_path):
    """read_images frames: no page, width, height or dpi; duplicate stems get a hash each."""
    content, positions = _page(["alpha", "beta"])
    frame = _frame([{"path": "a/x.png", "content": content, "positions": positions},
                    {"path": "b/x.png", "content": content, "positions": positions}])
    paths = write_pdf(frame, str(tmp_path), progress=False)
    names = output_names(["a/x.png", "b/x.png"])
    assert [p.rsplit("/", 1)[-1] for p in paths] == [names["a/x.png"], names["b/x.png"]]
    assert len(set(names.values())) == 2 and all(n.startswith("x-") for n in names.values())
    with pikepdf.open(paths[0]) as pdf:
        assert float(pdf.pages[0].mediabox[2]) == pytest.approx(360 * 72 / DEFAULT_DPI)
    assert _pdfium_texts(paths[0])[0].split() == ["alpha", "beta"]


def test_missing_positions_column_says_what_to_do(tmp_path):
    frame = _frame([{"path": "a.png", "content": _page(["x"])[0], "text": "x"}])
    with pytest.raises(ValueError, match=r"recognize\(positions_col='positions'\)"):
        write_pdf(frame, str(tmp_path))
    with pytest.raises(ValueError, match="output_format='positions'"):
        write_pdf(dd.from_pandas(frame, npartitions=1), str(tmp_path))


# ------------------------------------------------------------------------------------------------ never destroys


def _scan_rows(folder, names) -> list[dict]:
    """One recognised scanned page per name, as rows whose documents are files in ``folder``."""
    rows = []
    for name in names:
        content, positions = _page([name.split(".")[0], "scan"])
        (folder / name).write_bytes(content)
        rows.append({"path": str(folder / name), "page": 1, "content": content, "width": 360, "height": 80,
                     "dpi": 72.0, "text": "", "positions": positions, "text_source": "ocr", "ocr_error": None})
    return rows


def test_a_file_it_did_not_write_is_never_replaced_without_overwrite(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir(), out.mkdir()
    frame = _frame(_scan_rows(inbox, ["report.png", "memo.png"]))
    (out / "report.pdf").write_bytes(b"the user's own report")
    paths = write_pdf(frame, str(out), progress=False)
    assert paths == [f"{out}/memo.pdf"]                               # the other document is still written
    assert "overwrite=True" in paths.failed[str(inbox / "report.png")]
    assert (out / "report.pdf").read_bytes() == b"the user's own report"
    again = write_pdf(frame, str(out), progress=False)                 # its own PDF it may write again
    assert again == [f"{out}/memo.pdf"] and list(again.failed) == [str(inbox / "report.png")]
    replaced = write_pdf(frame, str(out), overwrite=True, progress=False)
    assert replaced == [f"{out}/report.pdf", f"{out}/memo.pdf"] and not replaced.failed
    assert _pdfium_texts(out / "report.pdf")[0].split() == ["report", "scan"]


def test_the_inputs_of_the_job_are_never_replaced_even_with_overwrite(tmp_path, caplog):
    """write_pdf into the folder the documents came from: the input PDFs stay byte for byte."""
    inbox = tmp_path / "in"
    inbox.mkdir()
    scanned = inbox / "scan.pdf"
    scanned.write_bytes(images_to_pdf([_page(["scanned", "input"])[0]], dpi=72))
    _born_digital_pdf(inbox / "letter.pdf")
    before = {name: (inbox / name).read_bytes() for name in ("scan.pdf", "letter.pdf")}
    (tmp_path / "link").symlink_to(inbox)                             # the same folder by another name
    content, positions = _page(["scanned", "input"])
    rows = [{"path": str(scanned), "page": 1, "content": content, "width": 360, "height": 80, "dpi": 72.0,
             "positions": positions, "text_source": "ocr"},
            {"path": str(inbox / "letter.pdf"), "page": 1, "width": 1700, "height": 2200, "dpi": 200.0,
             "positions": [], "text_source": "text_layer"},
            *_scan_rows(inbox, ["note.png"])]
    for overwrite in (False, True):
        with caplog.at_level("WARNING", logger="dask_ocr"):
            paths = write_pdf(_frame(rows), str(tmp_path / "link"), overwrite=overwrite, progress=False)
        assert [p.rsplit("/", 1)[-1] for p in paths] == ["note.pdf"]
        assert sorted(paths.failed) == [str(inbox / "letter.pdf"), str(scanned)]
        assert all("input document" in reason for reason in paths.failed.values())
        assert {name: (inbox / name).read_bytes() for name in before} == before
    assert "letter.pdf not written" in caplog.text


def test_an_encrypted_source_is_copied_with_its_password_and_a_failing_document_stops_no_other(tmp_path):
    source = tmp_path / "secret.pdf"
    _born_digital_pdf(tmp_path / "plain.pdf")
    with pikepdf.open(tmp_path / "plain.pdf") as pdf:
        pdf.save(source, encryption=pikepdf.Encryption(user="s3cret", owner="owner"))
    rows = [{"path": str(source), "page": 1, "width": 1700, "height": 2200, "dpi": 200.0, "positions": [],
             "text_source": "text_layer"},
            *_scan_rows(tmp_path, ["other.png"])]
    out = tmp_path / "out"
    paths = write_pdf(dd.from_pandas(_frame(rows), npartitions=2), str(out), password="s3cret", progress=False)
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["secret.pdf", "other.pdf"] and not paths.failed
    assert _pdfium_texts(out / "secret.pdf")[0].split() == ["Hello", "born", "digital"]
    with pytest.warns(UserWarning, match="encrypted"):               # without it: reported, the other written
        paths = write_pdf(_frame(rows), str(tmp_path / "out2"), progress=False)
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["other.pdf"] and list(paths.failed) == [str(source)]
    assert _user_files(tmp_path / "out2") == ["other.pdf"]              # no partials left behind
    restricted = tmp_path / "restricted.pdf"                          # empty user password: opens anywhere
    with pikepdf.open(tmp_path / "plain.pdf") as pdf:
        pdf.save(restricted, encryption=pikepdf.Encryption(user="", owner="owner"))
    rows[0]["path"] = str(restricted)
    paths = write_pdf(_frame(rows), str(tmp_path / "out3"), password="another file's", progress=False)
    assert len(paths) == 2 and not paths.failed


def test_born_digital_copies_drop_scripts_and_launch_actions_but_keep_links(tmp_path):
    source = tmp_path / "active.pdf"
    _born_digital_pdf(source)
    with pikepdf.open(source, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]

        def link(action):
            return pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link,
                                                        Rect=[72, 72, 200, 100], A=action))

        page.obj.Annots = pdf.make_indirect(pikepdf.Array([
            link(pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://example.org/"))),
            link(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('hi')"))),
            link(pikepdf.Dictionary(S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe")))]))
        page.obj.AA = pikepdf.Dictionary(O=pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("x()")))
        pdf.Root.OpenAction = pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("evil()"))
        pdf.save(source)
    rows = [{"path": str(source), "page": 1, "content": None, "width": 1700, "height": 2200, "dpi": 200.0,
             "positions": [], "text_source": "text_layer"}]
    (path,) = write_pdf(_frame(rows), str(tmp_path / "out"), progress=False)
    with pikepdf.open(path) as pdf:
        annotations = list(pdf.pages[0].obj.Annots)
        assert len(annotations) == 3                                   # the annotations stay
        actions = [str(a.A.S) for a in annotations if "/A" in a]
        assert actions == ["/URI"] and "/AA" not in pdf.pages[0].obj and "/OpenAction" not in pdf.Root
    (kept,) = write_pdf(_frame(rows), str(tmp_path / "kept"), keep_actions=True, progress=False)
    with pikepdf.open(kept) as pdf:
        assert [str(a.A.S) for a in pdf.pages[0].obj.Annots] == ["/URI", "/JavaScript", "/Launch"]


def test_resume_leaves_complete_pdfs_alone(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    frame = _frame(_scan_rows(inbox, ["a.png", "b.png"]))
    write_pdf(frame, str(out), progress=False)
    (out / "a.pdf").write_bytes(b"marker")                            # a complete PDF of ours is not redone
    (out / "b.pdf").unlink()
    paths = write_pdf(frame, str(out), resume=True, progress=False)
    assert paths == [f"{out}/b.pdf"] and (out / "a.pdf").read_bytes() == b"marker"
    from dask_ocr.sinks.pdf import pending_documents

    assert pending_documents([str(inbox / "a.png"), str(inbox / "c.png")], str(out)) == [str(inbox / "c.png")]


def test_an_unreadable_pdf_record_is_one_line_and_overwrite_recovers(tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir(), out.mkdir()
    frame = _frame(_scan_rows(inbox, ["a.png"]))
    (out / PDF_JOB_FILE).write_bytes(b"")
    with pytest.raises(ValueError, match="unreadable.*overwrite=True"):
        write_pdf(frame, str(out), progress=False)
    assert write_pdf(frame, str(out), overwrite=True, progress=False) == [f"{out}/a.pdf"]
