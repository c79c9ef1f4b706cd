"""Searchable PDFs from a recognised frame: one PDF per input document, its pages in page order.

The pages of one document may sit in many partitions.  Image bytes never move between tasks: each partition
writes, for every document it holds, a partial PDF of its own pages
(``<out>/.dask_ocr_pdf_parts/<doc-key>/<first page:06d>-<partition:06d>.pdf``, via
:func:`~dask_ocr.sinks.pdf_writer.write_searchable_pdf`) and returns a small summary; then one task per document
merges its partials, page by page in page order, into ``<out>/<stem>.pdf`` and removes them.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from .. import defaults
from ..schema import ERROR_COL, TEXT_SOURCE_COL
from .pdf_writer import PdfPage, PdfWord, write_searchable_pdf

__all__ = ["PARTS_DIR", "write_pdf"]

#: Folder, inside the output folder, of the partial PDFs while a job runs.
PARTS_DIR = ".dask_ocr_pdf_parts"
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


def write_pdf(df, path: str, positions_col: str = "positions", image_col: str = "content",
              keep_born_digital: bool = True, jpeg_quality: int | None = None, storage_options: dict | None = None,
              progress: bool = True) -> list[str]:
    """Write one searchable PDF per document of ``df``: the page images with an invisible, selectable text layer.

    Rows are grouped by ``path`` (one document) and ordered by ``page``, wherever their partitions are; frames
    without ``page`` (``read_images``) give one page per row.  Born-digital pages (``text_source ==
    "text_layer"``) are copied from the original PDF as they are when ``keep_born_digital``, else rasterised.
    A row whose recognition failed (``ocr_error`` set, no positions) keeps its page image without text; a row
    without any image is left out.  Every row with an ``ocr_error`` (kept or left out) is listed in one
    ``UserWarning`` (path, page, message); the return value lists the files only.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
        E.g. ``read_documents(...).ocr.detect().ocr.recognize(positions_col="positions")``: ``path``,
        ``page``, ``content``, ``width``/``height``/``dpi`` (optional: read from the image, else
        :data:`dask_ocr.defaults.DPI`), ``positions``, ``text_source`` and ``ocr_error`` (optional).
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
    storage_options : dict, optional
        Passed to fsspec, for the output and for reading source PDFs.
    progress : bool
        Report finished partitions and documents on standard error (dask frames).

    Returns
    -------
    list of str
        The written PDF paths, in the order the documents first appear.

    Raises
    ------
    ValueError
        ``df`` has no ``positions_col`` (or no ``path`` / ``image_col``) column.
    """
    import fsspec.core

    _check_columns(list(df.columns), positions_col, image_col)
    fs, root = fsspec.core.url_to_fs(path, **(storage_options or {}))
    root = root.rstrip("/")
    if fs.exists(f"{root}/{PARTS_DIR}"):  # partials of an interrupted run
        fs.rm(f"{root}/{PARTS_DIR}", recursive=True)
    fs.makedirs(root, exist_ok=True)
    job = _PdfJob(fs, root, positions_col, image_col, bool(keep_born_digital), jpeg_quality,
                  tuple(sorted((storage_options or {}).items())))
    columns = [c for c in ("path", "page", image_col, "width", "height", "dpi", positions_col, TEXT_SOURCE_COL,
                           ERROR_COL) if c in df.columns]
    summaries = _run(df[columns], job, progress)
    written = _merge_all(summaries, job, hasattr(df, "to_delayed"), progress)
    if fs.exists(f"{root}/{PARTS_DIR}"):
        fs.rm(f"{root}/{PARTS_DIR}", recursive=True)
    _report([problem for summary in summaries for problem in summary["problems"]])
    return written


def _check_columns(columns: list, positions_col: str, image_col: str) -> None:
    if positions_col not in columns:
        raise ValueError(f"write_pdf needs word boxes in a {positions_col!r} column: call "
                         f"recognize(positions_col={positions_col!r}) (or output_format='positions') first")
    for name in ("path", image_col):
        if name not in columns:
            raise ValueError(f"write_pdf needs a {name!r} column (got {', '.join(map(str, columns))})")


def _run(frame, job: _PdfJob, progress: bool) -> list[dict]:
    """Stage one: partial PDFs, per partition and document; their summaries, in partition order."""
    if not hasattr(frame, "to_delayed"):
        return _write_partials(frame, 0, job)
    import dask

    from ..progress import compute_with_progress
    from ..scheduling import current_client

    tasks = [dask.delayed(_write_partials)(part, i, job) for i, part in enumerate(frame.to_delayed())]
    return [summary for result in compute_with_progress(tasks, current_client(), progress) for summary in result]


def _merge_all(summaries: list[dict], job: _PdfJob, distributed: bool, progress: bool) -> list[str]:
    """Stage two: one merge per document (a task each for dask frames); the written paths."""
    documents: dict[str, list[dict]] = {}
    for summary in summaries:
        if summary["part"] is not None:
            documents.setdefault(summary["doc"], []).append(summary)
    names = output_names(list(documents))
    targets = [f"{job.root}/{names[doc]}" for doc in documents]
    if not distributed:
        return [_merge_document(parts, target, job) for parts, target in zip(documents.values(), targets)]
    import dask

    from ..progress import compute_with_progress
    from ..scheduling import current_client

    tasks = [dask.delayed(_merge_document)(parts, target, job) for parts, target in zip(documents.values(), targets)]
    return compute_with_progress(tasks, current_client(), progress, what="documents") if tasks else []


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
        key = (1 if _missing(page) else int(page), partition, position)
        documents.setdefault(str(row["path"]), []).append((key, row))
    sources: dict[str, bytes | None] = {}
    return [_write_document_part(doc, sorted(items, key=lambda item: item[0]), partition, job, sources)
            for doc, items in documents.items()]


def _write_document_part(doc: str, items: list, partition: int, job: _PdfJob, sources: dict) -> dict:
    pages, keys, problems = [], [], []
    for key, row in items:
        page, problem = _row_page(row, job, sources)
        if problem is not None:
            problems.append((doc, None if _missing(row.get("page")) else int(row["page"]), problem))
        if page is not None:
            pages.append(page)
            keys.append(key)
    if not pages:
        return {"doc": doc, "part": None, "keys": [], "problems": problems}
    part = f"{job.root}/{PARTS_DIR}/{document_key(doc)}/{keys[0][0]:06d}-{partition:06d}.pdf"
    job.fs.makedirs(part.rsplit("/", 1)[0], exist_ok=True)
    _write_atomically(job.fs, part, lambda handle: write_searchable_pdf(pages, handle, job.jpeg_quality))
    return {"doc": doc, "part": part, "keys": keys, "problems": problems}


def _rows(frame) -> list[dict]:
    """The rows of ``frame`` as dicts of plain Python values (nulls as None, nested cells as lists of dicts)."""
    columns = {name: [None if _missing(value) else value for value in frame[name].tolist()] for name in frame.columns}
    return [{name: values[i] for name, values in columns.items()} for i in range(len(frame))]


def _row_page(row: dict, job: _PdfJob, sources: dict) -> tuple[PdfPage | None, str | None]:
    """The output page of one row (None: left out) and the problem to report (None: fine)."""
    error = None if _missing(row.get(ERROR_COL)) else str(row[ERROR_COL])
    page_number = None if _missing(row.get("page")) else int(row["page"])
    born_digital = row.get(TEXT_SOURCE_COL) == "text_layer" and page_number is not None
    if born_digital and job.keep_born_digital:
        source = _source_pdf(str(row["path"]), job, sources)
        if source is not None:
            return PdfPage(None, 0, 0, 1.0, source_pdf=source, source_page=page_number - 1), error
        error = error or "the source PDF could not be read: page written from its image"
    image = row.get(job.image_col)
    if _missing(image) and born_digital:
        image, row = _rasterise(row, page_number, job, sources)
    if _missing(image) or len(image) == 0:
        return None, f"{error}; left out (no page image)" if error else "left out: no page image"
    try:
        width, height, dpi = _geometry(bytes(image), row)
    except Exception as exc:  # undecodable image: nothing to draw
        reason = f"left out: unreadable image ({type(exc).__name__}: {exc})"
        return None, f"{error}; {reason}" if error else reason
    words = _words(row.get(job.positions_col))
    return PdfPage(bytes(image), width, height, dpi, words), error


def _rasterise(row: dict, page_number: int, job: _PdfJob, sources: dict) -> tuple[bytes | None, dict]:
    """Render a born-digital page at the row's dpi (its word boxes then fit the rendering)."""
    from ..documents import render_page

    source = _source_pdf(str(row["path"]), job, sources)
    if source is None:
        return None, row
    dpi = defaults.DPI if _missing(row.get("dpi")) else float(row["dpi"])
    rendered = render_page(source, "pdf", page_number - 1, dpi=dpi)
    return rendered.content, {**row, "width": rendered.width, "height": rendered.height, "dpi": rendered.dpi}


def _source_pdf(path: str, job: _PdfJob, sources: dict) -> bytes | None:
    """The bytes of the PDF at ``path`` (read once per task), or None when it is not a readable PDF."""
    if path not in sources:
        import fsspec

        try:
            with fsspec.open(path, "rb", **dict(job.storage_options)) as handle:
                data = handle.read()
            sources[path] = data if b"%PDF" in data[:1024] else None
        except Exception:
            sources[path] = None
    return sources[path]


def _geometry(image: bytes, row: dict) -> tuple[int, int, float]:
    """Pixel size and dpi of a page: its columns where present, else the image header (and ``defaults.DPI``)."""
    from PIL import Image

    width, height, dpi = (row.get(name) for name in ("width", "height", "dpi"))
    if _missing(width) or _missing(height) or _missing(dpi):
        with Image.open(io.BytesIO(image)) as decoded:
            size, info_dpi = decoded.size, decoded.info.get("dpi")
        width = size[0] if _missing(width) else width
        height = size[1] if _missing(height) else height
        if _missing(dpi):
            own = float(info_dpi[0]) if isinstance(info_dpi, tuple) and info_dpi else 0.0
            dpi = own if own > 1 else defaults.DPI
    return int(width), int(height), float(dpi)


def _words(cell) -> tuple[PdfWord, ...]:
    """The words of a positions cell (x, y, width, height in pixels) as PDF words."""
    if _missing(cell):
        return ()
    words = []
    for word in cell:
        text = word.get("text")
        if not _missing(text) and str(text).strip():
            x, y, w, h = (float(word[name]) for name in ("x", "y", "width", "height"))
            words.append(PdfWord(str(text), (x, y, x + w, y + h)))
    return tuple(words)


def _missing(value) -> bool:
    """None, NA or NaN (a scalar); lists and bytes are never missing."""
    if value is None:
        return True
    if isinstance(value, (bytes, bytearray, str, list, tuple, dict)) or np.ndim(value) > 0:
        return False
    import pandas as pd

    return bool(pd.isna(value))


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


def _merge_document(parts: list[dict], target: str, job: _PdfJob) -> str:
    """Merge a document's partial PDFs into ``target``, every page in ``(page, partition, row)`` order."""
    import pikepdf

    fs = job.fs
    order = sorted((key, i, index) for i, part in enumerate(parts) for index, key in enumerate(part["keys"]))
    if len(parts) == 1 and [index for _, _, index in order] == list(range(len(order))):
        fs.mv(parts[0]["part"], target)  # one partial, already in order
    else:
        with ExitStack() as stack:
            sources = [stack.enter_context(pikepdf.open(stack.enter_context(fs.open(part["part"], "rb"))))
                       for part in parts]
            merged = stack.enter_context(pikepdf.new())
            for _, i, index in order:
                merged.pages.append(sources[i].pages[index])
            version = max((source.pdf_version for source in sources), key=_version_key)
            _write_atomically(fs, target, lambda handle: merged.save(handle, min_version=version))
        fs.rm([part["part"] for part in parts])
    return target


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _write_atomically(fs, target: str, write) -> None:
    """``write(handle)`` into a temporary file beside ``target``, then move it into place."""
    folder, name = target.rsplit("/", 1)
    temporary = f"{folder}/.{name}.{uuid.uuid4().hex}"
    with fs.open(temporary, "wb") as handle:
        write(handle)
    fs.mv(temporary, target)


def _report(problems: list[tuple]) -> None:
    """One warning listing the rows with errors (the first MAX_REPORTED of them)."""
    if not problems:
        return
    lines = [f"  {path} page {'?' if page is None else page}: {message}"
             for path, page, message in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        lines.append(f"  ... and {len(problems) - MAX_REPORTED} more")
    warnings.warn(f"write_pdf: {len(problems)} row(s) with errors (pages kept as images where they have one):\n"
                  + "\n".join(lines), UserWarning, stacklevel=3)
