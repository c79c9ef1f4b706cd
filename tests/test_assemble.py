"""gather_documents: one row per document, pages joined in page order across partitions, errors listed."""

from __future__ import annotations

import random

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pytest

from dask_ocr.assemble import gather_documents
from dask_ocr.schema import BINARY_DTYPE, INT_DTYPE, STRING_DTYPE


def _pages(seed: int = 3) -> pd.DataFrame:
    """Three documents of 9, 1 and 4 pages, shuffled; page 4 of "a" failed, page 2 of "c" has no text,
    and "d" could not be opened (one row with a null page)."""
    rows = [("inbox/a.pdf", page, f"a{page}", "page 4: damaged" if page == 4 else None) for page in range(1, 10)]
    rows += [("inbox/b.png", 1, "only page", None)]
    rows += [("inbox/c.tif", page, None if page == 2 else f"c{page}", "decoder failed" if page == 2 else None)
             for page in range(1, 5)]
    rows += [("inbox/d.pdf", None, None, "PDF is encrypted: pass password=... to read it")]
    random.Random(seed).shuffle(rows)
    return pd.DataFrame({
        "path": pd.Series([r[0] for r in rows], dtype=STRING_DTYPE),
        "page": pd.Series([r[1] for r in rows], dtype=INT_DTYPE),
        "content": pd.Series([b"\x89PNG big image bytes"] * len(rows), dtype=BINARY_DTYPE),
        "text": pd.Series([r[2] for r in rows], dtype=STRING_DTYPE),
        "ocr_error": pd.Series([r[3] for r in rows], dtype=STRING_DTYPE),
    })


EXPECTED = {
    "inbox/a.pdf": (9, "\n\f\n".join(f"a{p}" for p in range(1, 10)), [4], ["page 4: damaged"]),
    "inbox/b.png": (1, "only page", [], []),
    "inbox/c.tif": (4, "c1\n\f\n\n\f\nc3\n\f\nc4", [2], ["page 2: decoder failed"]),
    "inbox/d.pdf": (0, "", [], ["PDF is encrypted: pass password=... to read it"]),
}


def _by_path(frame: pd.DataFrame) -> dict:
    return {row.path: (row.page_count, row.text, list(row.pages_with_errors), list(row.errors))
            for row in frame.itertuples()}


def test_pandas_documents_in_page_order_with_errors():
    result = gather_documents(_pages())
    assert list(result.columns) == ["path", "page_count", "text", "pages_with_errors", "errors"]
    assert _by_path(result) == EXPECTED
    assert result.dtypes.to_dict() == {
        "path": STRING_DTYPE, "page_count": INT_DTYPE, "text": STRING_DTYPE,
        "pages_with_errors": pd.ArrowDtype(pa.list_(pa.int32())), "errors": pd.ArrowDtype(pa.list_(pa.string()))}


def test_dask_equals_pandas_from_shuffled_partitions():
    pages = _pages()
    ddf = dd.from_pandas(pages, npartitions=4, sort=False)
    gathered = gather_documents(ddf)
    assert isinstance(gathered, dd.DataFrame)
    assert "content" not in gathered.columns
    result = gathered.compute()
    assert result.dtypes.to_dict() == gathered.dtypes.to_dict()  # meta matches the data
    expected = gather_documents(pages).sort_values("path").reset_index(drop=True)
    pd.testing.assert_frame_equal(result.sort_values("path").reset_index(drop=True), expected)
    assert _by_path(result) == EXPECTED


def test_frames_without_page_are_one_page_per_row():
    frame = pd.DataFrame({"path": pd.Series(["x.png", "y.png", "x.png"], dtype=STRING_DTYPE),
                          "text": pd.Series(["first", "other", None], dtype=STRING_DTYPE)})
    assert _by_path(gather_documents(frame, separator=" | ")) == {"x.png": (2, "first | ", [], []),
                                                                   "y.png": (1, "other", [], [])}
    ddf = dd.from_pandas(frame, npartitions=2, sort=False)
    assert _by_path(gather_documents(ddf, separator=" | ").compute()) == {"x.png": (2, "first | ", [], []),
                                                                         "y.png": (1, "other", [], [])}


def test_missing_text_column():
    with pytest.raises(ValueError, match="'text'"):
        gather_documents(pd.DataFrame({"path": ["a"]}))


def test_documents_come_back_in_input_order_under_their_first_rows_labels():
    pages = _pages(seed=11)
    firsts = pages.reset_index().groupby("path", sort=False)["index"].min()   # first appearance, input order
    expected = gather_documents(pages)
    assert expected["path"].tolist() == firsts.index.tolist() and expected.index.tolist() == firsts.tolist()
    for npartitions in (1, 3, 5):
        result = gather_documents(dd.from_pandas(pages, npartitions=npartitions, sort=False)).compute()
        pd.testing.assert_frame_equal(result, expected)
