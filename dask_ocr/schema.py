"""Arrow types of the columns the ``ocr`` methods add (parquet-friendly by construction)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

__all__ = ["REGION_TYPE", "REGIONS_DTYPE", "POSITION_TYPE", "POSITIONS_DTYPE",
           "STRING_DTYPE", "BINARY_DTYPE", "FLOAT_DTYPE", "INT_DTYPE", "BOOL_DTYPE", "ERROR_COL",
           "TEXT_LAYER_COL", "TEXT_SOURCE_COL",
           "empty_column", "make_column"]

REGION_TYPE = pa.struct([
    ("box", pa.list_(pa.int32())),
    ("polygon", pa.list_(pa.list_(pa.float64()))),
    ("score", pa.float64()),
])
REGIONS_DTYPE = pd.ArrowDtype(pa.list_(REGION_TYPE))
_BOX_FIELDS = [("text", pa.string()), ("x", pa.float64()), ("y", pa.float64()), ("width", pa.float64()),
               ("height", pa.float64()), ("confidence", pa.float64())]
#: One word of the page matrix (``positions_col``), with its characters where the engine gives them.
POSITION_TYPE = pa.struct([*_BOX_FIELDS, ("line", pa.int32()), ("region", pa.int32()),
                           ("chars", pa.list_(pa.struct(_BOX_FIELDS)))])
POSITIONS_DTYPE = pd.ArrowDtype(pa.list_(POSITION_TYPE))
STRING_DTYPE = pd.ArrowDtype(pa.string())
BINARY_DTYPE = pd.ArrowDtype(pa.binary())
FLOAT_DTYPE = pd.ArrowDtype(pa.float64())

#: Per-row error messages; null where the row was processed.
ERROR_COL = "ocr_error"
#: Document pages: the words of a PDF text layer (positions, in page-image pixels; null = OCR the page),
#: and, after ``recognize``, where each page's text came from (``"text_layer"`` or ``"ocr"``).
TEXT_LAYER_COL = "text_layer"
TEXT_SOURCE_COL = "text_source"
INT_DTYPE = pd.ArrowDtype(pa.int32())
BOOL_DTYPE = pd.ArrowDtype(pa.bool_())


class _NestedArrowDtypeNames(pd.ArrowDtype):
    """Lets pandas parse the names of our nested Arrow dtypes back from Parquet metadata.

    pandas records ``str(dtype)`` of each column in the Parquet file and parses it on reading, but
    it cannot parse nested Arrow type names such as ``list<item: struct<...>>[pyarrow]``; without
    this, ``read_parquet`` of our own output fails.  Registered once, on import; it only ever
    answers for the exact dtypes defined in this module.
    """

    @classmethod
    def construct_from_string(cls, string):
        for dtype in (REGIONS_DTYPE, POSITIONS_DTYPE):
            if string == str(dtype):
                return dtype
        raise TypeError(f"not a dask_ocr nested dtype: {string!r}")


pd.api.extensions.register_extension_dtype(_NestedArrowDtypeNames)


def make_column(values: list, dtype: pd.ArrowDtype, index) -> pd.Series:
    """A Series of ``values`` (``None`` = null) with an Arrow dtype, aligned to ``index``."""
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=dtype.pyarrow_dtype)), index=index)


def empty_column(dtype: pd.ArrowDtype, index) -> pd.Series:
    """An all-null column, for meta and for partitions with no rows."""
    return make_column([None] * len(index), dtype, index)
