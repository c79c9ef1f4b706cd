"""Files in: list paths on the client and build Dask frames whose partitions read them on the workers.

The client only lists files (and, for documents, counts pages, on a pool of threads); every byte of a page is
read inside the tasks.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from . import defaults
from .errors import RowError
from .schema import ERROR_COL, NOTES_COL, TEXT_LAYER_COL

__all__ = ["IMAGE_SUFFIXES", "DOCUMENT_SUFFIXES", "fs_path", "list_files", "read_images", "read_documents"]

#: What a directory given to :func:`read_images` is expanded to.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".jp2", ".pnm", ".pgm", ".ppm")
_GLOB_CHARACTERS = set("*?[")
#: Fewer files than this are not split (a partition of one row makes ``head()`` show one row).
MIN_ITEMS_PER_PARTITION = 4
#: Threads that count the pages of documents on the client: their opening and reading overlap (what a listing of
#: thousands of files, or of any on an object store, waits for), while pdfium parses one PDF at a time.
COUNTING_THREADS = 32


def fs_path(fs, path: str) -> str:
    """``path`` (a URL, or a path on ``fs``) as ``fs`` names it: without its protocol, local paths absolute."""
    import fsspec.core

    return fsspec.core.strip_protocol(fs.unstrip_protocol(path))


def _expand_one(fs, path: str, suffixes: Sequence[str], recursive: bool, skipped: list[str]) -> list[str]:
    """The files one path names: itself, a directory's files with ``suffixes``, or a glob's matches.

    Named pipes, sockets and devices are never opened (reading a pipe would wait forever): they go to
    ``skipped``.
    """
    if fs.isfile(path):  # an existing file is taken literally, even if its name holds [ ] * ?
        return [path]
    if fs.isdir(path):
        found = fs.find(path, maxdepth=None if recursive else 1, detail=True)
        return _regular([(p, info) for p, info in found.items() if p.lower().endswith(tuple(suffixes))], skipped)
    if _GLOB_CHARACTERS & set(path):
        return _regular(list(fs.glob(path, detail=True).items()), skipped)
    if fs.exists(path):  # exists, but neither a file nor a directory
        skipped.append(path)
    return []


def _regular(entries: list[tuple[str, dict]], skipped: list[str]) -> list[str]:
    """The regular files among ``(path, info)`` entries; the others (but directories) to ``skipped``."""
    files = []
    for path, info in entries:
        if info.get("type") == "file":
            files.append(path)
        elif info.get("type") != "directory":
            skipped.append(path)
    return files


def list_files(paths: str | Sequence[str], storage_options: dict | None = None,
               suffixes: Sequence[str] = IMAGE_SUFFIXES, recursive: bool = False):
    """Expand local paths, directories, globs and fsspec URLs to ``(filesystem, sorted paths)``.

    An existing file is taken as it is; a directory gives the files inside it whose names end
    in one of ``suffixes`` (its subdirectories too with ``recursive``); anything else is a glob.

    Paths that are not regular files (named pipes, sockets, devices) are skipped with a ``UserWarning``;
    they are never opened.

    Raises
    ------
    FileNotFoundError
        Naming every path or glob that matched no file.
    """
    import fsspec.core

    paths = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("give at least one path, directory or glob")
    fs, _, _ = fsspec.core.get_fs_token_paths(paths[0], mode="rb", storage_options=storage_options or {})
    found, missing, skipped = [], [], []
    for path in paths:
        before = len(skipped)
        matches = _expand_one(fs, fs_path(fs, path), suffixes, recursive, skipped)
        found.extend(matches)
        if not matches and len(skipped) == before:
            missing.append(path)
    if skipped:
        shown = ", ".join(sorted(skipped)[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        warnings.warn(f"skipped {len(skipped)} path(s) that are not regular files (named pipes, sockets, devices): "
                      f"{shown}", UserWarning, stacklevel=3)
    if missing:
        kinds = ", ".join(f"{p!r} ({_why_nothing(fs, fs_path(fs, p), recursive)})" for p in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        raise FileNotFoundError(f"found no files for {kinds}{more}")
    if not found:
        raise FileNotFoundError("found no regular files (only the skipped paths above)")
    return fs, sorted(dict.fromkeys(found))


def _why_nothing(fs, path: str, recursive: bool) -> str:
    if fs.isdir(path):
        hint = "" if recursive else "; pass recursive=True to look in its subdirectories"
        return f"a directory with no {'/'.join(s[1:] for s in IMAGE_SUFFIXES[:4])}... files{hint}"
    return "a glob that matches nothing" if _GLOB_CHARACTERS & set(path) else "no such file"


def default_files_per_partition(n_items: int, npartitions: int | None = None) -> int:
    """Items per partition for ``npartitions`` partitions (default
    :func:`dask_ocr.cluster.scheduling.default_partition_count`), 4..64."""
    from .cluster.scheduling import default_partition_count

    spread = math.ceil(n_items / (npartitions or default_partition_count()))
    return max(1, min(64, max(spread, MIN_ITEMS_PER_PARTITION)))


def read_images(paths, files_per_partition: int | None = None, storage_options: dict | None = None,
                recursive: bool = False):
    """Read image files into a Dask DataFrame with columns ``path``, ``content`` and ``ocr_error``.

    Parameters
    ----------
    paths : str, path or list of them
        Local paths, directories, globs (``"scans/**/*.jpg"``) or fsspec URLs (``"s3://bucket/*.png"``).
        An existing file is taken literally (``scan[1].jpg``); a directory gives its image files.
    files_per_partition : int, optional
        Files per partition.  The default follows the Visual NLP advice for the current client
        (3 partitions per worker thread on CPU, 2 per GPU worker) or, without one, 3 per local
        core; at most 64 files each, so a partition's decoded pages fit in memory.
    storage_options : dict, optional
        Passed to fsspec (credentials, endpoint, ...).
    recursive : bool
        Directories: also read the images in their subdirectories.

    Returns
    -------
    dask.dataframe.DataFrame
        ``path`` (string) and ``content`` (Arrow ``binary``) columns, one row per file, in sorted
        path order, with a unique index ``0..n-1``.  A file that cannot be read gets a null
        ``content`` cell and the reason in ``ocr_error``, which the ``ocr`` methods pass on.

    Raises
    ------
    FileNotFoundError
        A path, directory or glob that names no file.
    """
    fs, files = list_files(paths, storage_options, recursive=recursive)
    per_partition = files_per_partition or default_files_per_partition(len(files))
    return _partitioned(_ReadFiles(fs), files, per_partition, files_frame([], [], []), "files_per_partition")


def _partitioned(read, items: list, per_partition: int, meta, name: str):
    """A Dask frame of ``items``, ``per_partition`` a partition, each made by ``read((first row number, items))``;
    its index runs ``0..len(items)-1`` (divisions known).  ``name``: the argument ``per_partition`` came from."""
    import dask.dataframe as dd

    if per_partition < 1:
        raise ValueError(f"{name} must be >= 1, got {per_partition}")
    starts = range(0, len(items), per_partition)
    chunks = [(start, items[start:start + per_partition]) for start in starts]
    return dd.from_map(read, chunks, meta=meta, divisions=(*starts, len(items) - 1), enforce_metadata=False)


class _ReadFiles:
    """Picklable partition reader: ``(first row number, paths)`` → a pandas frame of bytes."""

    def __init__(self, fs):
        self.fs = fs

    def __call__(self, chunk: tuple[int, list[str]]):
        from fsspec.implementations.local import LocalFileSystem

        start, paths = chunk
        contents, errors = [], []
        for path in paths:
            try:
                contents.append(self.fs.cat_file(path))
                errors.append(None)
            except Exception as exc:  # permissions, a file removed since listing, a network error
                contents.append(None)
                errors.append(f"cannot read {path}: {type(exc).__name__}: {exc}")
        local = isinstance(self.fs, LocalFileSystem)
        names = [p if local else self.fs.unstrip_protocol(p) for p in paths]
        return files_frame(names, contents, errors, start)


def files_frame(paths: list[str], contents: list, errors: list, start: int = 0):
    """The pandas frame :func:`read_images` partitions hold (index ``start, start + 1, ...``)."""
    import pandas as pd
    import pyarrow as pa

    from .schema import BINARY_DTYPE, STRING_DTYPE

    index = pd.RangeIndex(start, start + len(paths))
    return pd.DataFrame({
        "path": pd.array(paths, dtype=STRING_DTYPE),
        "content": pd.array(pa.array(contents, type=pa.binary()), dtype=BINARY_DTYPE),
        ERROR_COL: pd.array(errors, dtype=STRING_DTYPE),
    }, index=index)


#: What a directory given to :func:`read_documents` is expanded to.
DOCUMENT_SUFFIXES = (".pdf", *IMAGE_SUFFIXES)


@dataclass(frozen=True)
class DocumentOptions:
    """How :func:`read_documents` turns pages into rows (travels to the workers)."""

    dpi: float
    max_page_pixels: int
    use_text_layer: bool
    min_text_chars: int
    password: str | None
    redo_ocr: bool = False
    native_min_dpi: float | None = None


def _document_pages(fs, path: str, password: str | None) -> list[tuple]:
    """``(path, kind, page index, page count, error, TIFF frame offset)`` per page of one document (one row if it
    cannot be opened)."""
    from .documents import count_pages, document_kind, tiff_frame_offsets

    try:
        with fs.open(path, "rb") as handle:
            kind = document_kind(handle.read(1024))
            handle.seek(0)
            count = count_pages(handle, kind, password)
            offsets = tiff_frame_offsets(handle) if kind == "tiff" else [None] * count
    except Exception as exc:  # unreadable, encrypted, damaged, no pages: one row says so
        message = str(exc) if isinstance(exc, RowError) else f"cannot read {path}: {type(exc).__name__}: {exc}"
        return [(path, None, None, 0, message, None)]
    return [(path, kind, index, count, None, offset) for index, offset in enumerate(offsets)]


def page_selection(pages: str | Sequence[int]):
    """A test ``page number -> bool`` from ``"1-3,7,10-"`` (1-based, inclusive ranges) or a list of numbers.

    Raises
    ------
    ValueError
        A part that is not a number or a range of them, or a page number below 1.
    """
    if not isinstance(pages, str):
        numbers = {int(number) for number in pages}
        if any(number < 1 for number in numbers):
            raise ValueError(f"page numbers start at 1, got {sorted(numbers)[0]}")
        return numbers.__contains__
    ranges = []
    for part in pages.replace(" ", "").split(","):
        first, dash, last = part.partition("-")
        try:
            low = int(first)
            high = (int(last) if last else math.inf) if dash else low
        except ValueError:
            raise ValueError(f"pages: {part!r} is not a page number or a range like 2-5 or 3- (in {pages!r})") \
                from None
        if low < 1 or high < low:
            raise ValueError(f"pages: {part!r} is not a range of pages from 1 upwards (in {pages!r})")
        ranges.append((low, high))
    return lambda number: any(low <= number <= high for low, high in ranges)


def _count_pages(fs, files: list[str], password: str | None) -> list[tuple]:
    """The page items (:func:`_document_pages`) of all ``files``, in their order, counted on a pool of threads.

    The files go to the threads in runs of neighbours, four runs a thread, which costs less than a task a file.
    """
    threads = max(1, min(COUNTING_THREADS, len(files)))
    size = max(1, math.ceil(len(files) / (4 * threads)))
    runs = [files[start:start + size] for start in range(0, len(files), size)]

    def count(run: list[str]) -> list[tuple]:
        return [item for path in run for item in _document_pages(fs, path, password)]

    with ThreadPoolExecutor(threads, thread_name_prefix="dask_ocr-pages") as pool:
        return [item for items in pool.map(count, runs) for item in items]


def read_documents(paths, dpi: float | None = None, pages_per_partition: int | None = None,
                   npartitions: int | None = None, use_text_layer: bool = True, min_text_chars: int | None = None,
                   password: str | None = None,
                   max_page_pixels: int | None = None, storage_options: dict | None = None,
                   recursive: bool = False, redo_ocr: bool = False, pages: str | Sequence[int] | None = None):
    """Read PDFs, multi-page TIFFs and images into a Dask DataFrame with one row per page.

    The client only lists the files and counts their pages (many files at once, on threads); pages are
    rendered inside the tasks, one at a time, so a worker's memory does not grow with a document's
    length, and the pages of a long document are spread over many partitions.

    Parameters
    ----------
    paths : str, path or list of them
        Files, directories (their PDFs and images), globs or fsspec URLs.
    dpi : float, optional
        Resolution PDF pages are rendered at.  Default: a scanned page (one image covering it) at its
        image's own resolution, or at :data:`dask_ocr.defaults.NATIVE_MIN_DPI` where the scan is coarser;
        any other page at :data:`dask_ocr.defaults.DPI`.  TIFF frames and images keep their own.
    pages_per_partition : int, optional
        Default: ``npartitions`` partitions, at most ``defaults.MAX_PAGES_PER_PARTITION`` (4) pages each.
    npartitions : int, optional
        Partitions to aim for when ``pages_per_partition`` is not given; default sized for the
        current client as :func:`read_images` does (3 per worker thread on CPU, 2 per GPU worker).
    use_text_layer : bool
        Read a PDF page that carries a text layer of at least ``min_text_chars`` characters from
        that layer instead of rendering it for OCR (``False`` forces OCR on every page).
    min_text_chars : int, optional
        Non-space characters a text layer needs to be used (default
        :data:`dask_ocr.defaults.MIN_TEXT_CHARS`, like Visual NLP's ``minSizeBeforeFallback``).
    password : str, optional
        For encrypted PDFs.
    max_page_pixels : int, optional
        A larger page is rendered at the lower resolution that fits (``capped`` says so).
    storage_options : dict, optional
        Passed to fsspec.
    recursive : bool
        Directories: also read their subdirectories.
    redo_ocr : bool
        OCR again the pages whose text layer is all invisible text (an earlier OCR's layer), noted in
        ``notes``; :func:`~dask_ocr.write_pdf` then replaces that layer with the new one.  Pages with visible
        text are still read from it.  (``use_text_layer=False`` OCRs every page.)
    pages : str or sequence of int, optional
        Only these pages (1-based) of every document: ``"1-3,7"``, ``"2-"`` or ``[1, 2, 3]``; a document
        with none of them gives no row.

    Returns
    -------
    dask.dataframe.DataFrame
        ``path``, ``page`` (1-based), ``page_count``, ``content`` (PNG page image; null for pages
        read from their text layer), ``width``, ``height`` (pixels), ``dpi``, ``capped``,
        ``text_layer`` (the layer's words, as a ``positions`` column, or null), ``notes`` (what was
        assumed or decided about the page, or null: a resolution the file does not give, a text layer
        of unmapped glyphs that was OCR'd instead) and ``ocr_error``.  A document that cannot be opened
        (encrypted, damaged, empty, not a document, no pages) is one row with a null ``page`` and the
        reason in ``ocr_error``.  Named pipes and other files that are not regular are skipped (warned).
    """

    options = DocumentOptions(float(dpi or defaults.DPI),
                              int(max_page_pixels or defaults.MAX_PAGE_PIXELS), bool(use_text_layer),
                              int(defaults.MIN_TEXT_CHARS if min_text_chars is None else min_text_chars),
                              password, bool(redo_ocr), defaults.NATIVE_MIN_DPI if dpi is None else None)
    if options.dpi <= 0:
        raise ValueError(f"dpi must be > 0, got {dpi}")
    fs, files = list_files(paths, storage_options, suffixes=DOCUMENT_SUFFIXES, recursive=recursive)
    wanted = None if pages is None else page_selection(pages)
    items = _count_pages(fs, files, password)
    if wanted is not None:
        items = [item for item in items if item[2] is None or wanted(item[2] + 1)]
    per_partition = pages_per_partition or min(defaults.MAX_PAGES_PER_PARTITION,
                                               default_files_per_partition(len(items), npartitions))
    return _partitioned(_ReadPages(fs, options), items, per_partition, pages_frame([], 0), "pages_per_partition")


class _ReadPages:
    """Picklable partition reader: ``(first row number, page items)`` → a pandas frame of pages."""

    def __init__(self, fs, options: DocumentOptions):
        self.fs, self.options = fs, options

    def __call__(self, chunk: tuple[int, list[tuple]]):
        start, items = chunk
        return pages_frame([self._row(*item) for item in items], start)

    def _row(self, path: str, kind: str | None, index: int | None, count: int, error: str | None,
             offset: int | None) -> dict:
        from fsspec.implementations.local import LocalFileSystem

        name = path if isinstance(self.fs, LocalFileSystem) else self.fs.unstrip_protocol(path)
        row = {"path": name, "page": None if index is None else index + 1, "page_count": count, ERROR_COL: error}
        if error is not None:
            return row
        try:
            with self.fs.open(path, "rb") as handle:
                row.update(_render(handle, kind, index, offset, self.options))
        except Exception as exc:  # this page only: the document's other pages still come out
            row[ERROR_COL] = str(exc) if isinstance(exc, RowError) else f"page {index + 1}: {type(exc).__name__}: {exc}"
        return row


def _render(handle, kind: str, index: int, offset: int | None, options: DocumentOptions) -> dict:
    """The columns of one rendered page: from its text layer when it has enough readable text, else its image."""
    from .documents import has_text_layer, render_page, text_layer_problem

    settings = dict(dpi=options.dpi, max_page_pixels=options.max_page_pixels, password=options.password,
                    native_min_dpi=options.native_min_dpi)
    notes = []
    if options.use_text_layer and kind == "pdf":
        page = render_page(handle, kind, index, render=False, **settings)
        problem = text_layer_problem(page.text) if has_text_layer(page, options.min_text_chars) else None
        if problem is None and options.redo_ocr and page.invisible_text:
            problem = "the text layer is an earlier OCR's (all invisible)"
        if problem:
            notes.append(f"{problem}: the page was OCR'd instead")
        elif has_text_layer(page, options.min_text_chars):
            words = [{"text": w.text, "x": w.box[0], "y": w.box[1], "width": w.box[2] - w.box[0],
                      "height": w.box[3] - w.box[1], "confidence": 1.0, "line": None, "region": i, "chars": []}
                     for i, w in enumerate(page.words)]
            return {"width": page.width, "height": page.height, "dpi": page.dpi, "capped": page.capped,
                    TEXT_LAYER_COL: words, NOTES_COL: "; ".join(page.notes) or None}
    handle.seek(0)
    page = render_page(handle, kind, index, frame_offset=offset, **settings)
    notes.extend(page.notes)
    return {"content": page.content, "width": page.width, "height": page.height, "dpi": page.dpi,
            "capped": page.capped, NOTES_COL: "; ".join(notes) or None}


def pages_frame(rows: list[dict], start: int):
    """The pandas frame :func:`read_documents` partitions hold (index ``start, start + 1, ...``)."""
    import pandas as pd

    from .schema import BINARY_DTYPE, BOOL_DTYPE, FLOAT_DTYPE, INT_DTYPE, POSITIONS_DTYPE, STRING_DTYPE, make_column

    index = pd.RangeIndex(start, start + len(rows))
    columns = {"path": STRING_DTYPE, "page": INT_DTYPE, "page_count": INT_DTYPE, "content": BINARY_DTYPE,
               "width": INT_DTYPE, "height": INT_DTYPE, "dpi": FLOAT_DTYPE, "capped": BOOL_DTYPE,
               TEXT_LAYER_COL: POSITIONS_DTYPE, NOTES_COL: STRING_DTYPE, ERROR_COL: STRING_DTYPE}
    return pd.DataFrame({name: make_column([row.get(name) for row in rows], dtype, index)
                         for name, dtype in columns.items()})
