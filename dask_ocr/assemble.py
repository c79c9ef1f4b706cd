"""Whole documents from page rows: one row per document with its text in page order and its errors.

The pages of a document may sit in many partitions.  Only the small columns (``path``, ``page``, text,
``ocr_error``) move: a Dask frame is cut down to them, each row gets its place in the input, and a shuffle on
``path`` brings every document's pages into one partition, where they are joined.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .decode import is_missing
from .schema import ERROR_COL, INT_DTYPE, STRING_DTYPE, make_column

__all__ = ["PAGE_NUMBERS_DTYPE", "MESSAGES_DTYPE", "DEFAULT_SEPARATOR", "gather_documents"]

#: ``pages_with_errors``: page numbers (1-based).
PAGE_NUMBERS_DTYPE = pd.ArrowDtype(pa.list_(pa.int32()))
#: ``errors``: one ``"page N: message"`` per page with an error.
MESSAGES_DTYPE = pd.ArrowDtype(pa.list_(pa.string()))
#: Between the texts of two pages: a form feed on a line of its own.
DEFAULT_SEPARATOR = "\n\f\n"

_ORDER = "_dask_ocr_row_order"  # a row's place in the input: partition * 2**32 + position
_PARTITION = "_dask_ocr_first_partition"  # the input partition of a document's first row
_LABEL = "_dask_ocr_row_label"  # a row's index label in the input
_OUTPUT = {"path": STRING_DTYPE, "page_count": INT_DTYPE, "text": STRING_DTYPE,
           "pages_with_errors": PAGE_NUMBERS_DTYPE, "errors": MESSAGES_DTYPE}


def gather_documents(df, text_col: str = "text", separator: str = DEFAULT_SEPARATOR):
    """One row per document (``path``): its pages' text joined in page order, and which pages failed.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
        Page rows with ``path``, ``page`` (1-based; without it every row is a page, in row order),
        ``text_col`` and, optionally, ``ocr_error``.  Pages of one document may be in any partitions and
        any order.  A row with a null ``page`` (a document that could not be opened) adds its error only.
    text_col : str
        Column with each page's text; a null text contributes ``""``.
    separator : str
        Put between the texts of consecutive pages.

    Returns
    -------
    pandas.DataFrame or dask.dataframe.DataFrame
        Same kind as ``df``: ``path``, ``page_count`` (pages seen, int32), ``text``, ``pages_with_errors``
        (list of int32) and ``errors`` (list of ``"page N: message"``), all Arrow dtypes.  Documents in the
        order they first appear in ``df`` (Dask: across partitions too), each indexed by the index label of
        its first row (for a ``read_documents`` frame: the row number of its first page), unique and
        increasing.

    Raises
    ------
    ValueError
        ``df`` lacks ``path`` or ``text_col``.
    """
    missing = [name for name in ("path", text_col) if name not in df.columns]
    if missing:
        raise ValueError(f"gather_documents needs the column(s) {missing} (have {list(df.columns)})")
    columns = [c for c in ("path", "page", text_col, ERROR_COL) if c in df.columns]
    if not hasattr(df, "map_partitions"):
        return _gather_frame(_with_order(df[columns]), text_col, separator).drop(columns=[_ORDER, _LABEL])
    small = df[columns]
    meta = _with_order(small._meta)
    ordered = small.map_partitions(_with_order, meta=meta)
    gathered_meta = _gather_frame(meta, text_col, separator)
    gathered = ordered.shuffle(on="path").map_partitions(_gather_frame, text_col, separator, meta=gathered_meta)
    # Back to input order: each document goes to the output partition of the input partition its first row is
    # in (known divisions, so nothing is computed here), sorted there by that row's place.
    last = max(df.npartitions - 1, 0)
    placed = gathered.assign(**{_PARTITION: gathered[_ORDER] // (1 << 32)}).set_index(
        _PARTITION, divisions=list(range(last + 1)) + [last], sorted=False)
    return placed.map_partitions(_in_order, meta=_in_order(gathered_meta))


def _in_order(frame: pd.DataFrame) -> pd.DataFrame:
    """One output partition: its documents in input order, indexed by their first rows' labels."""
    frame = frame.sort_values(_ORDER, kind="stable")
    return frame.set_index(frame[_LABEL].rename(None)).drop(columns=[_ORDER, _LABEL])


def _with_order(frame: pd.DataFrame, partition_info=None) -> pd.DataFrame:
    """``frame`` with each row's place in the whole input (dask passes ``partition_info``) and index label."""
    number = (partition_info or {}).get("number", 0)
    return frame.assign(**{_ORDER: np.arange(len(frame), dtype="int64") + (int(number) << 32),
                           _LABEL: frame.index.to_numpy()})


def _gather_frame(frame: pd.DataFrame, text_col: str, separator: str) -> pd.DataFrame:
    """The documents of one pandas frame that holds all of their pages, in the order of their first rows, indexed
    by those rows' labels (``_LABEL``), with those rows' places in ``_ORDER``."""
    n = len(frame)
    paths = frame["path"].tolist()
    pages = frame["page"].tolist() if "page" in frame.columns else None
    texts = frame[text_col].tolist()
    errors = frame[ERROR_COL].tolist() if ERROR_COL in frame.columns else [None] * n
    order, labels = frame[_ORDER].tolist(), frame[_LABEL].to_numpy()
    documents: dict = {}
    for i in range(n):
        documents.setdefault(paths[i], []).append(i)
    firsts = {path: min(rows_of, key=order.__getitem__) for path, rows_of in documents.items()}
    documents = dict(sorted(documents.items(), key=lambda item: order[firsts[item[0]]]))
    rows = [_document(rows_of, pages, texts, errors, order, separator) for rows_of in documents.values()]
    index = pd.Index(labels[[firsts[path] for path in documents]] if n else labels[:0])
    values = {"path": list(documents), **{name: [row[name] for row in rows] for name in list(_OUTPUT)[1:]}}
    out = pd.DataFrame({name: make_column(values[name], dtype, index) for name, dtype in _OUTPUT.items()})
    return out.assign(**{_ORDER: pd.Series([order[firsts[path]] for path in documents], index=index, dtype="int64"),
                         _LABEL: index.to_numpy()})


def _document(rows: list[int], pages, texts: list, errors: list, order: list, separator: str) -> dict:
    """``page_count``, ``text``, ``pages_with_errors`` and ``errors`` of one document's rows."""
    if pages is None:  # one page per row, in input order
        numbered = [(number, i) for number, i in enumerate(sorted(rows, key=order.__getitem__), start=1)]
        unnumbered: list[int] = []
    else:
        numbered = sorted(((int(pages[i]), i) for i in rows if not is_missing(pages[i])),
                          key=lambda item: (item[0], order[item[1]]))
        unnumbered = sorted((i for i in rows if is_missing(pages[i])), key=order.__getitem__)
    text = separator.join("" if is_missing(texts[i]) else str(texts[i]) for _, i in numbered)
    failed = [(number, str(errors[i])) for number, i in numbered if not is_missing(errors[i])]
    messages = [str(errors[i]) for i in unnumbered if not is_missing(errors[i])]
    messages += [_page_message(number, message) for number, message in failed]
    return {"page_count": len(numbered), "text": text, "pages_with_errors": [number for number, _ in failed],
            "errors": messages}


def _page_message(number: int, message: str) -> str:
    """``"page N: message"`` (messages that already say so are kept as they are)."""
    prefix = f"page {number}:"
    return message if message.startswith(prefix) else f"{prefix} {message}"
