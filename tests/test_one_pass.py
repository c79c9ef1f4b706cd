"""One pass: Parquet and searchable PDFs of one frame from one computation, each page OCR'd once.

The model calls are counted on the instant fake model (every page detected and every crop read is counted), so
a second pass over the pages would show; the writers' lazy forms (``compute=False``) give what their eager
forms give, and hold their folder's lock from the call until they have run.
"""

from __future__ import annotations

import gc

import dask
import pandas as pd
import pypdfium2 as pdfium
import pytest
from dask.delayed import Delayed

import dask_ocr
from dask_ocr.cli import main
from dask_ocr.samples import images_to_pdf
from dask_ocr.sinks.parquet import part_path
from dask_ocr.sinks.pdf import PDF_JOB_FILE, WrittenPdfs
from dask_ocr.synthetic import make_sample_pages

PAGES = 5  # a 3-page PDF and two images


@pytest.fixture
def inbox(tmp_path):
    pages = make_sample_pages(PAGES, seed=5)
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "report.pdf").write_bytes(images_to_pdf([page.content for page in pages[:3]]))
    for page in pages[3:]:
        (folder / page.name).write_bytes(page.content)
    return folder


@pytest.fixture
def counted(fake):
    """The fake model, counting the pages it detects text on and the crops it reads (thread-safe appends)."""
    detect, recognize = fake.detect, fake.recognize
    fake.detected, fake.read = [], []

    def counting_detect(images):
        fake.detected.append(len(images))
        return detect(images)

    def counting_recognize(crops, batch_size, decoding=None):
        fake.read.append(len(crops))
        return recognize(crops, batch_size, decoding)

    fake.detect, fake.recognize = counting_detect, counting_recognize
    return fake


def _texts(path) -> list[str]:
    document = pdfium.PdfDocument(str(path))
    try:
        return [document[i].get_textpage().get_text_range() for i in range(len(document))]
    finally:
        document.close()


def _ocr(inbox):
    return dask_ocr.read_documents(str(inbox), pages_per_partition=2).ocr.detect().ocr.recognize(
        positions_col="positions")


def test_parquet_and_pdfs_computed_together_ocr_each_page_once(inbox, tmp_path, counted):
    out = _ocr(inbox)
    with dask.config.set(scheduler="sync"):  # the reference: one eager write, one pass
        dask_ocr.write_parquet(out[["path", "page", "text"]], str(tmp_path / "alone"), progress=False)
    crops = sum(counted.read)
    assert sum(counted.detected) == PAGES and crops >= PAGES
    counted.detected.clear(), counted.read.clear()

    rows, written = dask.compute(
        dask_ocr.write_parquet(out[["path", "page", "text", "ocr_error"]], str(tmp_path / "results"), compute=False),
        dask_ocr.write_pdf(out, str(tmp_path / "searchable"), compute=False))
    assert sum(counted.detected) == PAGES and sum(counted.read) == crops  # not twice
    assert rows == PAGES and len(pd.read_parquet(tmp_path / "results")) == PAGES
    assert isinstance(written, WrittenPdfs) and not written.failed and not written.problems
    names = sorted(p.name for p in inbox.iterdir())
    assert sorted(p.rsplit("/", 1)[-1] for p in written) == [name.rsplit(".", 1)[0] + ".pdf" for name in names]
    texts = _texts(tmp_path / "searchable" / "report.pdf")
    assert len(texts) == 3 and all(text.split() and text.split()[0].startswith("w") for text in texts)


def test_the_command_line_ocrs_each_page_once_and_resumes_without_ocr(inbox, tmp_path, counted, capsys):
    output, pdfs = tmp_path / "o", tmp_path / "pdf"
    arguments = ["run", str(inbox), "-o", str(output), "--pdf", str(pdfs), "--pages-per-partition", "1"]
    assert main(arguments) == 0
    assert sum(counted.detected) == PAGES                                  # once for the Parquet and the PDFs
    err = capsys.readouterr().err
    assert "5 row(s) written" in err and "3 searchable PDF(s) written" in err
    assert "10/10 partition writes" in err
    first = _texts(pdfs / "report.pdf")

    counted.detected.clear()
    (pdfs / "report.pdf").unlink()                                         # the PDFs were cut short
    assert main([*arguments, "--resume"]) == 0
    assert counted.detected == []                                          # made from the Parquet results
    assert _texts(pdfs / "report.pdf") == first
    assert "nothing left to do" in capsys.readouterr().err

    report_parts = [i for i in range(PAGES) if "report" in pd.read_parquet(part_path(str(output), i))["path"][0]]
    for i in report_parts[:2]:
        (output / f"part.{i:06d}.parquet").unlink()                      # ... and so was the Parquet
    (pdfs / "report.pdf").unlink()
    assert main([*arguments, "--resume"]) == 0
    assert sum(counted.detected) == 2                                      # only the pages of the missing parts
    assert _texts(pdfs / "report.pdf") == first
    assert len(pd.read_parquet(output)) == PAGES


def test_lazy_writes_give_what_eager_ones_give(tmp_path, fake):
    from ocrdata import line_frame

    frame = line_frame(2)
    frame.loc[1, "content"] = b"not an image"
    frame = frame.ocr.recognize(regions_col=None, positions_col="positions")
    with pytest.warns(UserWarning, match="line-001 page \\?: .*not a recognised image"):
        eager = dask_ocr.write_pdf(frame, str(tmp_path / "eager"), progress=False)
    lazy = dask_ocr.write_pdf(frame, str(tmp_path / "lazy"), compute=False)
    assert isinstance(lazy, Delayed)
    result = lazy.compute()
    assert type(result) is WrittenPdfs and [p.rsplit("/", 1)[-1] for p in result] == ["line-000.pdf"]
    assert list(result.failed) == list(eager.failed) == ["line-001"]             # (messages name an address)
    assert [problem[:2] for problem in result.problems] == [problem[:2] for problem in eager.problems] == [
        ("line-001", None)]
    assert _texts(tmp_path / "lazy" / "line-000.pdf") == _texts(tmp_path / "eager" / "line-000.pdf")

    ddf = _ocr_lines(8)
    assert dask_ocr.write_parquet(ddf, str(tmp_path / "rows"), compute=False).compute() == 8
    assert dask_ocr.write_parquet(ddf, str(tmp_path / "rows"), compute=False).compute() == 0    # resumed


def _ocr_lines(count: int):
    import dask.dataframe as dd

    from ocrdata import line_frame

    return dd.from_pandas(line_frame(count), npartitions=4).ocr.recognize(regions_col=None)[["path", "text"]]


def test_a_lazy_write_holds_its_folder_from_the_call_until_it_ran_or_is_dropped(tmp_path, fake):
    output = str(tmp_path / "out")
    ddf = _ocr_lines(4)
    lazy = dask_ocr.write_parquet(ddf, output, compute=False)
    for resume in (True, False):                                           # refused at once, never waiting
        with pytest.raises(FileExistsError, match="compute=False"):
            dask_ocr.write_parquet(ddf, output, resume=resume, overwrite=True, progress=False)
    assert lazy.compute() == 4
    assert dask_ocr.write_parquet(ddf, output, progress=False) == 0        # released by its last task

    dropped = str(tmp_path / "dropped")
    dask_ocr.write_parquet(ddf, dropped, compute=False)                     # never computed
    gc.collect()
    assert dask_ocr.write_parquet(ddf, dropped, progress=False) == 4


def test_bad_folders_fail_at_the_call_not_at_compute(tmp_path, fake):
    (tmp_path / "file").write_text("x")
    ddf = _ocr_lines(2)
    with pytest.raises(FileExistsError, match="is a file"):
        dask_ocr.write_parquet(ddf, str(tmp_path / "file"), compute=False)
    with pytest.raises(FileExistsError, match="is a file"):
        dask_ocr.write_pdf(ddf.assign(positions=None, content=b""), str(tmp_path / "file"), compute=False)
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / PDF_JOB_FILE).write_text("")
    with pytest.raises(ValueError, match="unreadable"):
        dask_ocr.write_pdf(ddf.assign(positions=None, content=b""), str(tmp_path / "pdf"), compute=False)
