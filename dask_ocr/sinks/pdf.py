"""Searchable PDFs from a recognised frame: one PDF per input document, its pages in page order.

The pages of one document may sit in many partitions.  Image bytes never move between tasks: each partition
writes, for every document it holds, a partial PDF of its own pages
(``<out>/.dask_ocr_pdf_parts/<doc-key>/<first page:06d>-<partition:06d>.pdf``, via
:func:`~dask_ocr.sinks.pdf_writer.write_searchable_pdf`) and returns a small summary; then each document's
partials are merged, page by page in page order, into ``<out>/<stem>.pdf`` and removed, by one of as many merge
tasks as there are partitions (the documents are only known once the partitions ran).  Both stages are one dask
graph, run by ``write_pdf`` or, with ``compute=False``, returned to be computed with other writes of the same
frame.  A write that stops half-way leaves its partials in the hidden folder; the next write there removes them.

The output folder is guarded as :func:`~dask_ocr.write_parquet` guards its own: a job record
(``_dask_ocr_pdf_job.json``) names every PDF written there, an existing file it does not name is replaced only
with ``overwrite=True``, an input document of the same call is never replaced, and a lock keeps a second job out
while one writes.  A document that fails is reported (in the return value and the log) and the others are still
written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import os
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from .. import defaults
from ..decode import is_missing
from ..documents import tiff_frame, tiff_frame_offsets
from ..orientation import ORIENTATION_COL, SKEW_COL
from ..readers import fs_path
from ..schema import ERROR_COL, TEXT_SOURCE_COL
from .files import FolderLock, RecordError, read_record, write_atomically, write_record
from .lazy import LazyWrite, compute_writes, partitions
from .pdf_writer import PdfPage, PdfWord, write_searchable_pdf
from .pdfa import KEPT_INFO, finish_document, version_key

__all__ = ["PARTS_DIR", "PDF_JOB_FILE", "WrittenPdfs", "pdf_folder_problem", "pdf_write", "pending_documents",
           "problem_report", "write_pdf"]

#: Folder, inside the output folder, of the partial PDFs while a job runs.
PARTS_DIR = ".dask_ocr_pdf_parts"
#: The record of the PDFs :func:`write_pdf` wrote into a folder (``{"files": {name: {"source", "complete"}}}``).
PDF_JOB_FILE = "_dask_ocr_pdf_job.json"
_WRITER = "dask_ocr.write_pdf"
logger = logging.getLogger("dask_ocr")
#: At most this many problem rows are listed in the warning (then a count of the others).
MAX_REPORTED = 20


@dataclass(frozen=True)
class _PdfJob:
    """What every task needs (small and picklable)."""

    fs: object
    root: str
    positions_col: str
    image_col: str
    keep_born_digital: bool
    jpeg_quality: int | None
    storage_options: tuple
    password: str | None = None
    keep_actions: bool = False
    skip: frozenset = frozenset()
    pdfa: bool = True


class WrittenPdfs(list):
    """The paths :func:`write_pdf` wrote (a list, in document order), and the documents it could not write.

    Attributes
    ----------
    failed : dict
        ``{document path: reason}`` of every document left unwritten.
    not_pdfa : dict
        ``{document path: reason}`` of every written document that PDF/A-2b was asked of but that holds what
        PDF/A-2b forbids (written as plain PDF).
    problems : list of tuple
        ``(document path, page or None, message)`` of every row with an error (its page written without text,
        or left out): what the warning of :func:`write_pdf` lists.
    """

    def __init__(self, written: list[str], failed: dict[str, str], problems: list[tuple] = (),
                 not_pdfa: dict[str, str] | None = None):
        super().__init__(written)
        self.failed = dict(failed)
        self.problems = list(problems)
        self.not_pdfa = dict(not_pdfa or {})


def write_pdf(df, path: str, positions_col: str = "positions", image_col: str = "content",
              keep_born_digital: bool = True, jpeg_quality: int | None = None, overwrite: bool = False,
              resume: bool = False, password: str | None = None, keep_actions: bool = False,
              storage_options: dict | None = None, progress: bool = True, compute: bool = True,
              pdfa: bool = True):
    """Write one searchable PDF per document of ``df``: its original pages with an invisible, selectable text
    layer grafted on.

    Rows are grouped by ``path`` (one document) and ordered by ``page``, wherever their partitions are; frames
    without ``page`` (``read_images``) give one page per row.  A scanned PDF page is copied from the source PDF
    as it is and the words drawn over it; a TIFF frame or an image is embedded as stored (img2pdf, no
    recompression); where the original cannot be read, the row's page image stands in (reported).  A page found
    turned (``orientation``, from ``detect(orientation=True)``) is shown upright with ``/Rotate``, and a skewed
    one keeps its skew with the words along it; any earlier invisible text layer on an OCR'd page is replaced.
    Born-digital pages (``text_source == "text_layer"``) are copied as they are when ``keep_born_digital``, else
    rasterised.  Copied pages lose their JavaScript, launch, form-submission and other active actions unless
    ``keep_actions`` (links to pages and URLs stay).  A row whose recognition failed (``ocr_error`` set, no
    positions) keeps its page without text; a row without any image is left out.  Every row with an
    ``ocr_error`` (kept or left out) is listed in one ``UserWarning`` (path, page, message).

    Nothing write_pdf did not write is replaced: a PDF already in ``path`` that its record
    (``_dask_ocr_pdf_job.json``) does not name is replaced only with ``overwrite=True``, and an input document
    of the same call never, even then.  Such a document, and any document that fails (an unreadable source, a
    damaged page), is reported in the returned ``failed`` and in a log line, and the others are still written.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
        E.g. ``read_documents(...).ocr.detect().ocr.recognize(positions_col="positions")``: ``path``,
        ``page``, ``content``, ``width``/``height``/``dpi`` (optional: read from the image, else
        :data:`dask_ocr.defaults.DPI`), ``positions``, and, optional, ``capped``, ``orientation``, ``skew``,
        ``text_source`` and ``ocr_error``.
    path : str
        Output folder (local or fsspec URL); ``<stem of the document path>.pdf`` per document, with a short hash
        of the document path appended when two documents share a stem.
    positions_col : str
        Word boxes (x, y, width, height in image pixels), from ``recognize(positions_col=...)``.
    image_col : str
        Encoded page images.
    keep_born_digital : bool
        Copy text-layer pages from their source PDF instead of rasterising them.
    jpeg_quality : int, optional
        Store non-JPEG images as JPEG at this quality (1-100); default lossless.  JPEGs are embedded unchanged.
    overwrite : bool
        Replace files in ``path`` that write_pdf did not write (never an input document).
    resume : bool
        Leave out the documents whose PDF an earlier call recorded as complete in ``path``.
    password : str, optional
        Password of encrypted source PDFs (as given to ``read_documents``); the empty password is tried too.
    keep_actions : bool
        Keep the active content (JavaScript, launch and submit actions) of copied born-digital pages.
    storage_options : dict, optional
        Passed to fsspec, for the output and for reading source PDFs.
    progress : bool
        Report finished partitions on standard error.
    compute : bool
        False: check the folder now (the errors below are raised by this call), take its lock, and return the
        write as a ``dask.delayed`` object, to compute together with other writes of the same frame
        (``dask.compute(write_parquet(..., compute=False), write_pdf(..., compute=False))`` runs the OCR
        once).  Its ``compute()`` gives what this call returns, but warns and logs nothing (the result's
        ``problems`` and ``failed`` say it).  The lock is released by its last task, or, where that runs in
        another process (a distributed cluster), when the object is dropped; until then another write to
        ``path`` is refused.  A pandas frame is one partition of the graph (this call computes it in this
        process).  No progress is reported.
    pdfa : bool
        Write PDF/A-2b (sRGB output intent, XMP ``pdfaid``) where nothing in a document forbids it: pages made
        from scans always qualify; a copied page with, e.g., a font that is not embedded does not, and its
        document is written as plain PDF and named in ``not_pdfa`` (checks of this library's own, see
        :mod:`dask_ocr.sinks.pdfa`).  The title, author, subject, keywords, creator and creation date of a
        source PDF are kept.

    Returns
    -------
    WrittenPdfs
        The written PDF paths, in the order the documents first appear (a list), with ``failed``:
        ``{document path: reason}`` of the documents left unwritten, ``problems``: the rows with errors, and
        ``not_pdfa``: ``{document path: reason}`` of the written documents that could not be PDF/A-2b.

    Raises
    ------
    ValueError
        ``df`` has no ``positions_col`` (or no ``path`` / ``image_col``) column, or the folder's record is
        unreadable and ``overwrite`` is not set.
    FileExistsError
        ``path`` is a file, or another job is writing there now.
    """
    write = pdf_write(df, path, positions_col, image_col, keep_born_digital, jpeg_quality, overwrite, resume,
                      password, keep_actions, storage_options, lazy=not compute, pdfa=pdfa)
    if not compute:
        return write.result
    written = compute_writes([write], progress, what="partitions made into PDF pages",
                             local=not hasattr(df, "to_delayed"))[0]
    _report(written.problems)
    for doc, reason in written.failed.items():
        logger.warning("write_pdf: %s not written: %s", doc, reason)
    for doc, reason in written.not_pdfa.items():
        logger.info("write_pdf: %s written as plain PDF, not PDF/A-2b: %s", doc, reason)
    return written


def pdf_write(df, path: str, positions_col: str = "positions", image_col: str = "content",
              keep_born_digital: bool = True, jpeg_quality: int | None = None, overwrite: bool = False,
              resume: bool = False, password: str | None = None, keep_actions: bool = False,
              storage_options: dict | None = None, lazy: bool = True, pdfa: bool = True) -> LazyWrite:
    """:func:`write_pdf` built, not run: the folder checked and locked, the partials of each partition
    (``steps``) and the merges (``result``: the :class:`WrittenPdfs`) as delayed objects.  ``lazy``: see
    :func:`~dask_ocr.sinks.lazy.partitions`."""
    import fsspec.core

    _check_columns(list(df.columns), positions_col, image_col)
    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    root = root.rstrip("/")
    if fs.isfile(root):
        raise FileExistsError(f"{root} is a file; write_pdf writes one PDF per document into a folder")
    _read_pdf_record(fs, root, overwrite)  # an unreadable record is refused before anything is touched
    lock = FolderLock(fs, root, f"{root} is being written by another dask_ocr job now; wait for it to finish or "
                                "write elsewhere", lazy=lazy)
    try:
        record = _read_pdf_record(fs, root, overwrite)
        skip = frozenset(_complete(record, fs, root)) if resume else frozenset()
        _remove_parts(fs, root)  # partials of an interrupted run
    except BaseException:
        lock.release()
        raise
    job = _PdfJob(fs, root, positions_col, image_col, bool(keep_born_digital), jpeg_quality,
                  tuple(sorted((storage_options or {}).items())), password, bool(keep_actions), skip, bool(pdfa))
    columns = [c for c in ("path", "page", image_col, "width", "height", "dpi", "capped", positions_col,
                           TEXT_SOURCE_COL, ORIENTATION_COL, SKEW_COL, ERROR_COL) if c in df.columns]
    steps = _run(df[columns], job, lazy)
    return LazyWrite(steps, _merge_all(steps, job, record, overwrite, lock), lock)


def _remove_parts(fs, root: str) -> None:
    if fs.exists(f"{root}/{PARTS_DIR}"):
        fs.rm(f"{root}/{PARTS_DIR}", recursive=True)


def _read_pdf_record(fs, root: str, overwrite: bool) -> dict:
    """The folder's record of our PDFs (empty when there is none, or an unreadable one with ``overwrite``)."""
    try:
        record = read_record(fs, f"{root}/{PDF_JOB_FILE}")
    except RecordError as exc:
        if overwrite:
            return {"writer": _WRITER, "files": {}}
        raise RecordError(f"{exc}: pass overwrite=True (--overwrite) to write the PDFs again") from None
    return record if record is not None and isinstance(record.get("files"), dict) else {"writer": _WRITER, "files": {}}


def _complete(record: dict, fs, root: str) -> set[str]:
    """The documents whose PDF the record names as complete and is still there."""
    return {entry.get("source") for name, entry in record["files"].items() if isinstance(entry, dict)
            and entry.get("complete") and fs.exists(f"{root}/{name}")}


def pending_documents(docs: list[str], path: str, storage_options: dict | None = None) -> list[str]:
    """The documents of ``docs`` whose PDF a :func:`write_pdf` call into ``path`` has not recorded as complete."""
    import fsspec.core

    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    root = root.rstrip("/")
    try:
        done = _complete(_read_pdf_record(fs, root, overwrite=False), fs, root)
    except RecordError:
        return list(docs)
    return [doc for doc in docs if doc not in done]


def pdf_folder_problem(docs: list[str], path: str, overwrite: bool = False,
                       storage_options: dict | None = None) -> str | None:
    """The one-line reason :func:`write_pdf` would leave a document of ``docs`` unwritten in ``path``, or None.

    A check before the work: the same rules as :func:`write_pdf` (files not written by it, input documents,
    an unreadable record), for callers that know the documents in advance (the command line).
    """
    import fsspec.core

    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    root = root.rstrip("/")
    if fs.isfile(root):
        return f"{root} is a file; searchable PDFs go into a folder"
    try:
        record = _read_pdf_record(fs, root, overwrite)
    except RecordError as exc:
        return str(exc)
    names = output_names(list(docs))
    inputs = {_real(fs, doc) for doc in docs}
    for doc in docs:
        problem = _target_problem(fs, f"{root}/{names[doc]}", record, inputs, overwrite)
        if problem:
            return problem
    return None


def _real(fs, path: str) -> str:
    """A path to compare: the real path of a local file (links resolved), else the path as fsspec has it."""
    from fsspec.implementations.local import LocalFileSystem

    path = fs_path(fs, path)
    return os.path.realpath(path) if isinstance(fs, LocalFileSystem) else path


def _target_problem(fs, target: str, record: dict, inputs: set[str], overwrite: bool) -> str | None:
    """Why ``target`` must not be written (an input of the job; a file not written by us), or None."""
    if _real(fs, target) in inputs:
        return f"{target} is an input document of this job and is never replaced: write the PDFs to another folder"
    name = target.rsplit("/", 1)[-1]
    if not overwrite and name not in record["files"] and fs.exists(target):
        return (f"{target} exists and was not written by dask_ocr; it is left alone: write elsewhere or pass "
                "overwrite=True (--overwrite) to replace it")
    return None


def _check_columns(columns: list, positions_col: str, image_col: str) -> None:
    if positions_col not in columns:
        raise ValueError(f"write_pdf needs word boxes in a {positions_col!r} column: call "
                         f"recognize(positions_col={positions_col!r}) (or output_format='positions') first")
    for name in ("path", image_col):
        if name not in columns:
            raise ValueError(f"write_pdf needs a {name!r} column (got {', '.join(map(str, columns))})")


def _run(frame, job: _PdfJob, lazy: bool) -> list:
    """Stage one: a task per partition writing a partial PDF per document; each gives its summaries."""
    import dask

    return [dask.delayed(_write_partials)(part, i, job) for i, part in enumerate(partitions(frame, lazy))]


def _merge_all(steps: list, job: _PdfJob, record: dict, overwrite: bool, lock: FolderLock):
    """Stage two: which documents to merge where, then the merges (as many tasks as partitions, each document
    merged by one), then the record; the last task releases ``lock`` and gives the :class:`WrittenPdfs`."""
    import dask

    plan = dask.delayed(_plan)(steps, job, record, overwrite)
    merged = [dask.delayed(_merge_share)(plan, share, len(steps), job) for share in range(len(steps))]
    return dask.delayed(_finish)(plan, merged, job, lock)


def _plan(results: list[list[dict]], job: _PdfJob, record: dict, overwrite: bool) -> dict:
    """The documents to merge (``todo``: ``(doc, partials, target)``), those that cannot be (``failed``), the rows
    with errors (``problems``) and the folder's record, which names every target before it is written (ours
    even if this run is cut short)."""
    summaries = [summary for result in results for summary in result]
    documents: dict[str, list[dict]] = {}
    failed: dict[str, str] = {}
    for summary in summaries:
        parts = documents.setdefault(summary["doc"], [])
        if summary.get("failure"):
            failed.setdefault(summary["doc"], summary["failure"])
        elif summary["part"] is not None:
            parts.append(summary)
    problems = [problem for summary in summaries for problem in summary["problems"]]
    for doc, parts in documents.items():  # not one page of it could be made
        if not parts and doc not in failed and doc not in job.skip:
            reasons = [message for path, _, message in problems if path == doc]
            failed[doc] = f"no page could be written ({reasons[0] if reasons else 'no page image'})"
    names = output_names(list(documents))  # over every document of the job, so names do not depend on failures
    inputs = {_real(job.fs, doc) for doc in documents}
    todo = []
    for doc, parts in documents.items():
        target = f"{job.root}/{names[doc]}"
        problem = None if doc in failed else _target_problem(job.fs, target, record, inputs, overwrite)
        if problem:
            failed[doc] = problem
        elif parts and doc not in failed:
            todo.append((doc, parts, target))
    files = {**record["files"], **{target.rsplit("/", 1)[-1]: {"source": doc, "complete": False}
                                   for doc, _, target in todo}}
    record = {**record, "writer": _WRITER, "files": files}
    write_record(job.fs, f"{job.root}/{PDF_JOB_FILE}", record)
    return {"todo": todo, "failed": failed, "problems": problems, "record": record}


def _merge_share(plan: dict, share: int, shares: int, job: _PdfJob) -> list[tuple[str, tuple]]:
    """Merge every ``shares``-th document of the plan from the ``share``-th: ``(doc, (None or the reason it
    failed, why it is not PDF/A-2b))`` each."""
    return [(doc, _merge_safely(parts, target, job)) for doc, parts, target in plan["todo"][share::shares]]


def _finish(plan: dict, merged: list[list[tuple]], job: _PdfJob, lock: FolderLock) -> WrittenPdfs:
    """Record the complete PDFs, remove what is left of the partials, release the folder; what was written."""
    try:
        outcomes = dict(outcome for share in merged for outcome in share)
        failed, files, written, not_pdfa = dict(plan["failed"]), dict(plan["record"]["files"]), [], {}
        for doc, _, target in plan["todo"]:
            problem, not_archival = outcomes[doc]
            if problem is None:
                written.append(target)
                name = target.rsplit("/", 1)[-1]
                files[name] = {**files[name], "complete": True}
                if not_archival:
                    not_pdfa[doc] = "; ".join(not_archival)
            else:
                failed[doc] = problem
        write_record(job.fs, f"{job.root}/{PDF_JOB_FILE}", {**plan["record"], "files": files})
        _remove_parts(job.fs, job.root)
    finally:
        lock.release()
    return WrittenPdfs(written, failed, plan["problems"], not_pdfa)


# ------------------------------------------------------------------------------------------------ partials


def _write_partials(frame, partition: int, job: _PdfJob) -> list[dict]:
    """Write, for each document of ``frame``, a partial PDF of its pages (sorted by page); one summary each.

    A summary holds ``doc`` (document path), ``part`` (the partial's path, or None when no page could be
    made), ``keys`` (``(page, partition, row)`` of each page of the partial, in its order) and ``problems``
    (``(path, page, message)`` of rows with errors).
    """
    rows = _rows(frame)
    documents: dict[str, list[tuple[tuple, dict]]] = {}
    for position, row in enumerate(rows):
        page = row.get("page")
        key = (1 if is_missing(page) else int(page), partition, position)
        documents.setdefault(str(row["path"]), []).append((key, row))
    with ExitStack() as stack:  # the source PDFs opened for born-digital pages, closed when the partials are written
        sources = _Sources(job, stack)
        return [_write_document_part(doc, sorted(items, key=lambda item: item[0]), partition, job, sources)
                for doc, items in documents.items()]


def _write_document_part(doc: str, items: list, partition: int, job: _PdfJob, sources: _Sources) -> dict:
    """The partial of one document's rows in this partition; a failure is the document's, not the partition's."""
    if doc in job.skip:
        return {"doc": doc, "part": None, "keys": [], "problems": []}
    try:
        return _write_pages(doc, items, partition, job, sources)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        return {"doc": doc, "part": None, "keys": [], "problems": [], "failure": reason}


def _write_pages(doc: str, items: list, partition: int, job: _PdfJob, sources: _Sources) -> dict:
    pages, keys, problems = [], [], []
    for key, row in items:
        page, problem = _row_page(row, job, sources)
        if problem is not None:
            problems.append((doc, None if is_missing(row.get("page")) else int(row["page"]), problem))
        if page is not None:
            pages.append(page)
            keys.append(key)
    if not pages:
        return {"doc": doc, "part": None, "keys": [], "problems": problems}
    source = sources.get(doc) if any(page.source_pdf is not None for page in pages) else None
    part = f"{job.root}/{PARTS_DIR}/{document_key(doc)}/{keys[0][0]:06d}-{partition:06d}.pdf"
    job.fs.makedirs(part.rsplit("/", 1)[0], exist_ok=True)
    write_atomically(job.fs, part, lambda handle: write_searchable_pdf(pages, handle, job.jpeg_quality,
                                                                       keep_actions=job.keep_actions, finish=False))
    return {"doc": doc, "part": part, "keys": keys, "problems": problems, "info": source and source.info()}


def _rows(frame) -> list[dict]:
    """The rows of ``frame`` as dicts of plain Python values (nulls as None, nested cells as lists of dicts)."""
    columns = {name: [None if is_missing(value) else value for value in frame[name].tolist()] for name in frame.columns}
    return [{name: values[i] for name, values in columns.items()} for i in range(len(frame))]


def _row_page(row: dict, job: _PdfJob, sources: _Sources) -> tuple[PdfPage | None, str | None]:
    """The output page of one row (None: left out) and the problem to report (None: fine).

    A scanned page is its original — the source PDF's page, the TIFF's frame, the image file — with the words
    grafted on; the row's own image stands in when the original cannot be read (and that is reported).
    """
    error = None if is_missing(row.get(ERROR_COL)) else str(row[ERROR_COL])
    page_number = None if is_missing(row.get("page")) else int(row["page"])
    born_digital = row.get(TEXT_SOURCE_COL) == "text_layer" and page_number is not None
    if born_digital and job.keep_born_digital:
        source = sources.get(str(row["path"]))
        if source is not None and source.kind == "pdf":
            return PdfPage(None, 0, 0, 1.0, source_pdf=source.handle, source_page=page_number - 1, ocr=False), error
        error = error or f"the source PDF could not be read ({sources.problem(str(row['path']))})"
    image = row.get(job.image_col)
    if is_missing(image) and born_digital:
        image, row = _rasterise(row, page_number, sources)
    if is_missing(image) or len(image) == 0:
        return None, f"{error}; left out (no page image)" if error else "left out: no page image"
    try:
        width, height, dpi = _geometry(bytes(image), row)
    except Exception as exc:  # undecodable image: nothing to draw
        reason = f"left out: unreadable image ({type(exc).__name__}: {exc})"
        return None, f"{error}; {reason}" if error else reason
    page = PdfPage(bytes(image), width, height, dpi, _lines(row.get(job.positions_col)), **_angle(row))
    if born_digital:  # rasterised on request
        return page, error
    original, problem = _original(row, page_number, page, sources)
    if problem:
        error = f"{error}; {problem}" if error else problem
    return original, error


def _original(row: dict, page_number: int | None, page: PdfPage, sources: _Sources) -> tuple[PdfPage, str | None]:
    """``page`` made from the row's original (see :func:`_row_page`), and why the row's image stands in, if so."""
    if page_number is None:
        return page, None  # read_images: the row's image is the file
    path = str(row["path"])
    source = sources.get(path)
    if source is None:
        return page, f"the original could not be read ({sources.problem(path)}); its page image is embedded instead"
    if source.kind == "image" and not row.get("capped"):
        return page, None  # the row's image is the file as it is
    try:
        if source.kind == "pdf":
            if page_number > source.page_count():
                raise ValueError(f"it has {source.page_count()} page(s): was it changed since it was read?")
            return dataclasses.replace(page, image=None, source_pdf=source.handle, source_page=page_number - 1), None
        if source.kind == "tiff":
            image = tiff_frame(source.handle, page_number - 1, source.frame_offset(page_number - 1))
        else:
            image = source.content()
        return dataclasses.replace(page, image=image, dpi=page.dpi * _shown_width(image) / page.width), None
    except Exception as exc:
        return page, f"the original page could not be read ({type(exc).__name__}: {exc}); its page image is embedded"


def _shown_width(image: bytes) -> int:
    """The width of an encoded image as shown (EXIF quarter turns applied): the original of a downscaled row's
    image keeps the page size by a dpi that grows with it."""
    from PIL import Image

    with Image.open(io.BytesIO(image)) as decoded:
        return decoded.size[1] if decoded.getexif().get(0x0112, 1) in (5, 6, 7, 8) else decoded.size[0]


def _angle(row: dict) -> dict:
    """The ``orientation`` and ``skew`` of a row (as ``detect(orientation=True)`` found them), 0 where unknown."""
    orientation, skew = row.get(ORIENTATION_COL), row.get(SKEW_COL)
    return {"orientation": 0 if is_missing(orientation) else int(orientation) % 360,
            "skew": 0.0 if is_missing(skew) else float(skew)}


def _rasterise(row: dict, page_number: int, sources: _Sources) -> tuple[bytes | None, dict]:
    """Render a born-digital page at the row's dpi (its word boxes then fit the rendering)."""
    from ..documents import render_page

    source = sources.get(str(row["path"]))
    if source is None or source.kind != "pdf":
        return None, row
    dpi = defaults.DPI if is_missing(row.get("dpi")) else float(row["dpi"])
    rendered = render_page(source.handle, "pdf", page_number - 1, dpi=dpi)
    return rendered.content, {**row, "width": rendered.width, "height": rendered.height, "dpi": rendered.dpi}


@dataclass
class _Source:
    """An opened source document: its kind and a seekable handle (a decrypted PDF: bytes)."""

    kind: str
    handle: BinaryIO | bytes
    offsets: list | None = None
    facts: tuple | None = None

    def frame_offset(self, index: int) -> int | None:
        """Where TIFF page ``index``'s directory starts (the chain is walked once per source)."""
        if self.offsets is None:
            self.offsets = tiff_frame_offsets(self.handle)
        return self.offsets[index] if 0 <= index < len(self.offsets) else None

    def page_count(self) -> int:
        """The number of pages of a PDF source."""
        return self._facts()[0]

    def info(self) -> dict[str, str]:
        """The document information of a PDF source that a searchable copy keeps (see ``pdfa.KEPT_INFO``)."""
        return self._facts()[1]

    def _facts(self) -> tuple[int, dict[str, str]]:
        if self.facts is None:
            import pikepdf

            data = self.handle
            with pikepdf.open(io.BytesIO(data) if isinstance(data, bytes) else data) as pdf:
                info = {key: str(pdf.docinfo[key]) for key in KEPT_INFO if key in pdf.docinfo}
                self.facts = (len(pdf.pages), info)
        return self.facts

    def content(self) -> bytes:
        self.handle.seek(0)
        return self.handle.read()


class _Sources:
    """The source documents of one task, each opened once and read on demand (never whole), or the reason it
    cannot be read; an encrypted PDF is held decrypted in memory."""

    def __init__(self, job: _PdfJob, stack: ExitStack):
        self.job, self.stack, self.opened = job, stack, {}

    def get(self, path: str) -> _Source | None:
        """The document at ``path``, or None (:meth:`problem` says why)."""
        if path not in self.opened:
            try:
                self.opened[path] = (self._open(path), None)
            except Exception as exc:
                self.opened[path] = (None, f"{type(exc).__name__}: {exc}")
        return self.opened[path][0]

    def problem(self, path: str) -> str | None:
        return self.opened[path][1]

    def _open(self, path: str) -> _Source:
        import fsspec
        import pikepdf

        from ..documents import document_kind

        handle = self.stack.enter_context(fsspec.open(path, "rb", **dict(self.job.storage_options)))
        kind = document_kind(handle.read(1024))
        if kind != "pdf":
            return _Source(kind, handle)
        for attempt in dict.fromkeys([self.job.password or "", ""]):
            handle.seek(0)
            try:
                with pikepdf.open(handle, password=attempt) as pdf:
                    if not pdf.is_encrypted:
                        handle.seek(0)
                        return _Source(kind, handle)
                    out = io.BytesIO()
                    pdf.save(out)  # saved without encryption
                    return _Source(kind, out.getvalue())
            except pikepdf.PasswordError:
                continue
        raise pikepdf.PasswordError("the source PDF is encrypted: pass its password=... to write_pdf")


def _geometry(image: bytes, row: dict) -> tuple[int, int, float]:
    """Pixel size and dpi of a page: its columns where present, else the image header (and ``defaults.DPI``)."""
    from PIL import Image

    width, height, dpi = (row.get(name) for name in ("width", "height", "dpi"))
    if is_missing(width) or is_missing(height) or is_missing(dpi):
        with Image.open(io.BytesIO(image)) as decoded:
            size, info_dpi = decoded.size, decoded.info.get("dpi")
        width = size[0] if is_missing(width) else width
        height = size[1] if is_missing(height) else height
        if is_missing(dpi):
            own = float(info_dpi[0]) if isinstance(info_dpi, tuple) and info_dpi else 0.0
            dpi = own if own > 1 else defaults.DPI
    return int(width), int(height), float(dpi)


def _lines(cell) -> tuple[tuple[PdfWord, ...], ...]:
    """The words of a positions cell (x, y, width, height in pixels), grouped by their ``line`` (in order)."""
    if is_missing(cell):
        return ()
    lines: dict = {}
    for number, word in enumerate(cell):
        text = word.get("text")
        if not is_missing(text) and str(text).strip():
            x, y, w, h = (float(word[name]) for name in ("x", "y", "width", "height"))
            line = word.get("line")
            key = ("word", number) if is_missing(line) else ("line", int(line))
            lines.setdefault(key, []).append(PdfWord(str(text), (x, y, x + w, y + h)))
    return tuple(tuple(words) for words in lines.values())


# ------------------------------------------------------------------------------------------------ merging


def document_key(doc: str) -> str:
    """A short, stable folder name for the partials of the document at ``doc``."""
    return hashlib.sha1(doc.encode("utf-8")).hexdigest()[:16]


def output_names(docs: list[str]) -> dict[str, str]:
    """``<stem>.pdf`` per document path; ``<stem>-<hash>.pdf`` for every document whose stem is not unique."""
    stems = {doc: PurePosixPath(doc.replace("\\", "/").rstrip("/")).stem or "document" for doc in docs}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem] = counts.get(stem, 0) + 1
    return {doc: f"{stem}.pdf" if counts[stem] == 1 else f"{stem}-{document_key(doc)[:8]}.pdf"
            for doc, stem in stems.items()}


def _merge_safely(parts: list[dict], target: str, job: _PdfJob) -> tuple[str | None, tuple[str, ...]]:
    """Merge one document (see :func:`_merge_document`): the reason it failed (None: written), and why it is
    not PDF/A-2b."""
    try:
        return None, _merge_document(parts, target, job)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}", ()


def _merge_document(parts: list[dict], target: str, job: _PdfJob) -> tuple[str, ...]:
    """Merge a document's partial PDFs into ``target``, every page in ``(page, partition, row)`` order, with the
    source's document information, as PDF/A-2b when asked and possible; return why it is not PDF/A-2b."""
    import pikepdf

    fs = job.fs
    order = sorted((key, i, index) for i, part in enumerate(parts) for index, key in enumerate(part["keys"]))
    with ExitStack() as stack:
        sources = [stack.enter_context(pikepdf.open(stack.enter_context(fs.open(part["part"], "rb"))))
                   for part in parts]
        merged = stack.enter_context(pikepdf.new())
        for _, i, index in order:
            merged.pages.append(sources[i].pages[index])
        version = max((source.pdf_version for source in sources), key=version_key)
        problems = finish_document(merged, version, parts[0].get("info"), job.pdfa)
        write_atomically(fs, target, lambda handle: merged.save(handle, min_version=version))
    fs.rm([part["part"] for part in parts])
    return problems


def problem_report(problems: list[tuple]) -> str | None:
    """The rows with errors of :attr:`WrittenPdfs.problems` in a few lines (the first MAX_REPORTED), or None."""
    if not problems:
        return None
    lines = [f"  {path} page {'?' if page is None else page}: {message}"
             for path, page, message in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        lines.append(f"  ... and {len(problems) - MAX_REPORTED} more")
    return (f"write_pdf: {len(problems)} row(s) with errors (pages kept as images where they have one):\n"
            + "\n".join(lines))


def _report(problems: list[tuple]) -> None:
    """One warning listing the rows with errors."""
    report = problem_report(problems)
    if report:
        warnings.warn(report, UserWarning, stacklevel=3)
