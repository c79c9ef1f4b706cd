"""read_documents: PDFs, TIFFs and images in, one row per page; text layers used where they hold the text."""

from __future__ import annotations

import io
from pathlib import Path

import pikepdf
import pytest

import dask_ocr
from dask_ocr import documents
from dask_ocr.metrics import bag_of_words, cer
from dask_ocr.samples import born_digital_pdf, make_sample_pages

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
    mixed = pikepdf.open(io.BytesIO(documents.images_to_pdf([scanned.content])))
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
    pdf = _write(tmp_path / "scan.pdf", documents.images_to_pdf(images))
    tiff = _write(tmp_path / "scan.tif", documents.images_to_tiff(images))
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
