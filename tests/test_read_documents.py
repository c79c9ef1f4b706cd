"""read_documents: PDFs, TIFFs and images in, one row per page; text layers used where they hold the text."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

import pikepdf
import pytest

import dask_ocr
from dask_ocr import documents
from dask_ocr.metrics import bag_of_words, cer
from dask_ocr.samples import born_digital_pdf, images_to_pdf, images_to_tiff
from dask_ocr.synthetic import make_sample_pages

from ocrdata import image_frame, load_manifest

LETTER = ["Quarterly report for the warehouse team", "Total amount due: 1,234.50 EUR (net)",
          "Please reply before 15/12/2026"]


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _encrypted(data: bytes, password: str) -> bytes:
    buffer = io.BytesIO()
    pikepdf.open(io.BytesIO(data)).save(buffer, encryption=pikepdf.Encryption(user=password, owner="owner"))
    return buffer.getvalue()


def _empty_pdf() -> bytes:
    buffer = io.BytesIO()
    pikepdf.new().save(buffer)
    return buffer.getvalue()


def test_born_digital_page_is_read_exactly_from_its_text_layer(tmp_path):
    data, drawn = born_digital_pdf([LETTER])
    ddf = dask_ocr.read_documents(_write(tmp_path / "letter.pdf", data), dpi=144)
    out = ddf.ocr.detect().ocr.recognize(positions_col="positions").compute()
    row = out.iloc[0]
    assert row["text_source"] == "text_layer" and row["page"] == 1 and row["page_count"] == 1
    assert cer("\n".join(LETTER), row["text"]) == 0 and row["text"] == "\n".join(LETTER)
    assert out["content"].isna().all()                                        # nothing rendered
    scale = 144 / 72
    for word, expected in zip(row["positions"], drawn[0], strict=True):       # boxes where the words were drawn
        assert word["text"] == expected.text
        assert abs(word["x"] - expected.x * scale) <= 2
        assert word["y"] < expected.baseline * scale < word["y"] + word["height"]
        assert abs(word["height"] - expected.size * scale) <= 0.5 * expected.size * scale
    assert len(row["regions"]) == len(drawn[0])                                 # detect gives the word boxes


def test_mixed_document_page_by_page_and_forced_ocr(tmp_path):
    scanned = make_sample_pages(1)[0]
    digital, _ = born_digital_pdf([LETTER])
    mixed = pikepdf.open(io.BytesIO(images_to_pdf([scanned.content])))
    mixed.pages.extend(pikepdf.open(io.BytesIO(digital)).pages)
    path = tmp_path / "mixed.pdf"
    mixed.save(path)
    out = dask_ocr.read_documents(str(path)).ocr.detect().ocr.recognize().compute()
    assert out["page"].tolist() == [1, 2] and out["text_source"].tolist() == ["ocr", "text_layer"]
    assert cer(scanned.text, out["text"].iloc[0]) < 0.05 and out["text"].iloc[1] == "\n".join(LETTER)
    forced = dask_ocr.read_documents(str(path), use_text_layer=False).compute()
    assert forced["text_layer"].isna().all() and forced["content"].notna().all()


@pytest.mark.data
@pytest.mark.parametrize("dataset", ["sroie", "funsd"])
def test_scanned_pdf_and_tiff_read_as_well_as_their_images(tmp_path, dataset):
    records = load_manifest(dataset, 2)
    images = [r["content"] for r in records]
    reference = [r["text"] for r in records]
    direct = image_frame(records).ocr.detect().ocr.recognize()
    expected = bag_of_words(reference, direct["text"].tolist(), ignore_case=True).f1
    pdf = _write(tmp_path / "scan.pdf", images_to_pdf(images))
    tiff = _write(tmp_path / "scan.tif", images_to_tiff(images))
    for path in (pdf, tiff):
        out = dask_ocr.read_documents(path, pages_per_partition=1).ocr.detect().ocr.recognize().compute()
        assert out["page"].tolist() == [1, 2] and out["ocr_error"].isna().all()
        assert abs(bag_of_words(reference, out["text"].tolist(), ignore_case=True).f1 - expected) <= 0.01


def test_pages_of_a_long_document_spread_over_partitions(tmp_path):
    data, _ = born_digital_pdf([[f"Page number {i} of ten"] for i in range(1, 11)])
    ddf = dask_ocr.read_documents(_write(tmp_path / "long.pdf", data), pages_per_partition=3)
    assert ddf.npartitions == 4
    out = ddf.ocr.recognize(regions_col=None).compute()
    assert out["page"].tolist() == list(range(1, 11)) and out.index.tolist() == list(range(10))
    assert out["text"].tolist() == [f"Page number {i} of ten" for i in range(1, 11)]
    assert (out["page_count"] == 10).all()


def test_documents_are_counted_at_once_and_come_out_in_order(tmp_path, monkeypatch):
    """Pages are counted on threads (a slow filesystem's files overlap), one row per page in path order."""
    from dask_ocr import readers

    counting, most, lock = [0], [0], threading.Lock()
    count = readers._document_pages

    def slow(fs, path, password):
        with lock:
            counting[0] += 1
            most[0] = max(most[0], counting[0])
        time.sleep(0.02)                                           # a round trip to an object store
        try:
            return count(fs, path, password)
        finally:
            with lock:
                counting[0] -= 1

    monkeypatch.setattr(readers, "_document_pages", slow)
    pages = {f"doc_{i:03d}.pdf": i % 3 + 1 for i in range(40)}
    for name, n in pages.items():
        _write(tmp_path / name, born_digital_pdf([[f"{name} page {k}"] for k in range(1, n + 1)])[0])
    out = dask_ocr.read_documents(str(tmp_path), pages_per_partition=7).compute()
    assert most[0] > 1
    assert [(Path(p).name, page) for p, page in zip(out["path"], out["page"])] == [
        (name, k) for name, n in pages.items() for k in range(1, n + 1)]
    assert out.index.tolist() == list(range(sum(pages.values())))


def test_bad_documents_become_rows_and_good_ones_still_come_out(tmp_path):
    good, _ = born_digital_pdf([LETTER])
    files = {"a_good.pdf": good, "b_corrupt.pdf": b"%PDF-1.7 garbage", "c_truncated.pdf": good[: len(good) // 3],
             "d_empty.pdf": _empty_pdf(), "e_locked.pdf": _encrypted(good, "secret"), "f_noise.pdf": b"\x00" * 50}
    for name, data in files.items():
        _write(tmp_path / name, data)
    out = dask_ocr.read_documents(str(tmp_path)).ocr.recognize(regions_col=None).compute()
    errors = dict(zip(out["path"].map(lambda p: Path(p).name), out["ocr_error"]))
    assert out.set_index("path")["ocr_error"].isna().tolist()[0]               # a_good.pdf sorts first
    assert "damaged" in errors["b_corrupt.pdf"] and "no pages" in errors["d_empty.pdf"]
    assert "encrypted" in errors["e_locked.pdf"] and "password" in errors["e_locked.pdf"]
    assert errors["c_truncated.pdf"] and errors["f_noise.pdf"]
    assert len(out) == len(files)                                            # one row per unreadable document
    unlocked = dask_ocr.read_documents(str(tmp_path / "e_locked.pdf"), password="secret").compute()
    assert unlocked["text_layer"].notna().all() and unlocked["ocr_error"].isna().all()


def test_one_failing_page_among_good_ones(tmp_path, monkeypatch):
    data, _ = born_digital_pdf([["first page text here"], ["second page text here"], ["third page text here"]])
    render = documents.render_page

    def flaky(handle, kind, index, **options):
        if index == 1:
            raise documents.DocumentError("page 2: cannot be rendered")
        return render(handle, kind, index, **options)

    monkeypatch.setattr(documents, "render_page", flaky)
    out = dask_ocr.read_documents(_write(tmp_path / "d.pdf", data)).ocr.recognize(regions_col=None)
    out = out.compute(scheduler="sync")
    assert out["page"].tolist() == [1, 2, 3]
    assert out["ocr_error"].tolist()[1] == "page 2: cannot be rendered"
    assert out["text"].tolist()[0] == "first page text here" and out["text"].tolist()[2] == "third page text here"


def test_enormous_page_is_rendered_at_a_resolution_that_fits(tmp_path):
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200 * 72, 200 * 72))                       # 200 x 200 inches
    path = tmp_path / "huge.pdf"
    pdf.save(path)
    row = dask_ocr.read_documents(str(path), dpi=300, max_page_pixels=4_000_000).compute().iloc[0]
    assert bool(row["capped"]) and row["width"] * row["height"] <= 4_000_000 and row["dpi"] < 300


def test_images_and_missing_paths(tmp_path):
    page = make_sample_pages(1)[0]
    _write(tmp_path / "scan[1].jpg", page.content)                           # a literal name with glob characters
    out = dask_ocr.read_documents(str(tmp_path / "scan[1].jpg")).compute()
    assert out["page"].tolist() == [1] and out["content"].iloc[0] == page.content
    with pytest.raises(FileNotFoundError, match="no such file"):
        dask_ocr.read_documents(str(tmp_path / "missing.pdf"))


# ------------------------------------------------------------------------------------------------ hostile inputs


def _hidden_text_pdf(image: bytes, words: list[str]) -> bytes:
    """A scanned page (at 200 dpi) whose invisible text layer holds ``words``, whatever they are."""
    from PIL import Image

    from dask_ocr.sinks.pdf_writer import PdfPage, PdfWord, write_searchable_pdf

    with Image.open(io.BytesIO(image)) as decoded:
        width, height = decoded.size
    buffer = io.BytesIO()
    boxes = [PdfWord(word, (20.0 + 150 * i, 20.0, 160.0 + 150 * i, 60.0)) for i, word in enumerate(words)]
    write_searchable_pdf([PdfPage(image, width, height, 200.0, (tuple(boxes),))], buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("words, why", [
    (["\ue000\ue001\ue002\ue003\ue00a\ue00b", "\ue004\ue005\ue006\ue007\ue008"], "private-use characters"),
    (["\ufffd\ufffd\ufffd\ufffd", "TOTAL", "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd"], "replacement characters"),
    (["-----", "*****", "#####"], "no letters or digits"),
])
def test_a_text_layer_of_garbage_is_ocrd_instead_and_says_why(tmp_path, words, why):
    page = make_sample_pages(1, seed=5)[0]
    data = _hidden_text_pdf(page.content, words)
    ddf = dask_ocr.read_documents(_write(tmp_path / "scan.pdf", data))
    row = ddf.ocr.detect().ocr.recognize().compute().iloc[0]
    assert row["text_source"] == "ocr" and why in row["notes"] and "OCR'd instead" in row["notes"]
    assert cer(page.text, row["text"]) < 0.05                                 # what the page shows


def test_a_tiff_without_a_plausible_resolution_says_what_was_assumed(tmp_path):
    from PIL import Image

    from dask_ocr.defaults import ASSUMED_DPI

    buffer = io.BytesIO()
    Image.new("L", (754, 1000), 255).save(buffer, format="TIFF", dpi=(1, 1))
    out = dask_ocr.read_documents(_write(tmp_path / "scan.tif", buffer.getvalue())).compute().iloc[0]
    assert out["dpi"] == ASSUMED_DPI and pd_isna(out["ocr_error"])
    assert f"implausible resolution in the file (1 x 1 dpi): {ASSUMED_DPI:g} dpi assumed" in out["notes"]
    page = documents.render_page(buffer.getvalue(), "tiff", 0)
    assert page.page_width_pt == pytest.approx(754 * 72 / ASSUMED_DPI)      # not a 754-inch page


def test_a_dynamic_xfa_form_says_its_content_is_elsewhere(tmp_path):
    import pikepdf

    from dask_ocr.samples import born_digital_pdf

    placeholder, _ = born_digital_pdf([["Please wait..."]])
    with pikepdf.open(io.BytesIO(placeholder)) as pdf:
        pdf.Root.AcroForm = pikepdf.Dictionary(Fields=pikepdf.Array(), XFA=pdf.make_stream(b"<xdp:xdp/>"))
        pdf.Root.NeedsRendering = True
        buffer = io.BytesIO()
        pdf.save(buffer)
    folder = tmp_path / "forms"
    folder.mkdir()
    _write(folder / "xfa.pdf", buffer.getvalue())
    _write(folder / "plain.pdf", placeholder)
    out = dask_ocr.read_documents(str(folder)).compute().sort_values("path")
    assert out["path"].str.endswith(("plain.pdf", "xfa.pdf")).tolist() == [True, True]
    plain, xfa = out["notes"].tolist()
    assert "dynamic XFA form" in xfa and (pd_isna(plain) or "XFA" not in plain)


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


@pytest.mark.timeout(60)
def test_a_named_pipe_is_skipped_never_opened(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.pdf")                                          # opening it would wait forever
    page = make_sample_pages(1)[0]
    _write(tmp_path / "scan.jpg", page.content)
    with pytest.warns(UserWarning, match="not regular files.*pipe.pdf"):
        frame = dask_ocr.read_documents(str(tmp_path)).compute()
    assert [Path(p).name for p in frame["path"]] == ["scan.jpg"]
    with pytest.warns(UserWarning, match="pipe.pdf"), pytest.raises(FileNotFoundError, match="no regular files"):
        dask_ocr.read_documents(str(tmp_path / "pipe.pdf"))


def test_an_empty_user_password_opens_beside_other_files_passwords(tmp_path):
    data, _ = born_digital_pdf([LETTER])
    restricted = io.BytesIO()
    pikepdf.open(io.BytesIO(data)).save(restricted, encryption=pikepdf.Encryption(user="", owner="owner"))
    paths = [_write(tmp_path / "restricted.pdf", restricted.getvalue()),
             _write(tmp_path / "secret.pdf", _encrypted(data, "s3cret"))]
    frame = dask_ocr.read_documents(paths, password="s3cret").compute()
    assert frame["ocr_error"].isna().all() and frame["page"].tolist() == [1, 1]


@pytest.mark.parametrize("content, why", [(b"", "empty file"), (b"just some text\n", "not a recognised image")])
def test_a_file_that_is_no_document_is_one_row_with_a_null_page(tmp_path, content, why):
    frame = dask_ocr.read_documents(_write(tmp_path / "fake.pdf", content)).compute()
    assert len(frame) == 1 and frame["page"].isna().all() and frame["page_count"].tolist() == [0]
    assert why in frame["ocr_error"].iloc[0]


def test_every_tiff_page_opens_directly(tmp_path):
    """Reading page k of a long TIFF does not walk the k pages before it: the reads per page stay flat."""
    from PIL import Image

    frames = [Image.new("L", (64, 32), i % 250) for i in range(400)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], dpi=(300, 300))
    data = buffer.getvalue()
    offsets = documents.tiff_frame_offsets(data)
    assert len(offsets) == documents.count_pages(data, "tiff") == 400

    class Counting(io.BytesIO):
        reads = 0

        def read(self, *args):
            Counting.reads += 1
            return super().read(*args)

    costs = []
    for index in (1, 399):
        Counting.reads = 0
        page = documents.render_page(Counting(data), "tiff", index, frame_offset=offsets[index])
        costs.append(Counting.reads)
        with Image.open(io.BytesIO(page.content)) as decoded:
            assert decoded.getpixel((0, 0)) == index % 250 and page.dpi == 300
    assert costs[1] <= costs[0] + 2                                           # the same cost at page 400 as at 2
    out = dask_ocr.read_documents(_write(tmp_path / "long.tif", data), pages_per_partition=100).compute()
    assert out["page"].tolist() == list(range(1, 401)) and out["ocr_error"].isna().all()
    pixels = [Image.open(io.BytesIO(content)).getpixel((0, 0)) for content in out["content"].iloc[[0, 250, 399]]]
    assert pixels == [0, 0, 399 % 250]


def test_document_pages_are_turned_upright_by_default(tmp_path):
    """Scans come turned: read_documents pipelines find and undo it unless told not to; plain images do not."""
    from PIL import Image

    page = make_sample_pages(1, seed=2)[0]
    with Image.open(io.BytesIO(page.content)) as image:
        turned = io.BytesIO()
        image.transpose(Image.Transpose.ROTATE_90).save(turned, format="PNG")
    path = _write(tmp_path / "turned.png", turned.getvalue())
    out = dask_ocr.read_documents(path).ocr.detect().ocr.recognize().compute().iloc[0]
    assert out["orientation"] == 270 and cer(page.text, out["text"]) < 0.05
    off = dask_ocr.read_documents(path).ocr.detect(orientation=False, deskew=False)
    assert "orientation" not in off.columns and "skew" not in off.columns
    assert "orientation" not in dask_ocr.read_images(path).ocr.detect().columns
