"""Arrow types of the columns the ``ocr`` methods add (parquet-friendly by construction)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

__all__ = ["REGION_TYPE", "REGIONS_DTYPE", "POSITION_TYPE", "POSITIONS_DTYPE",
           "STRING_DTYPE", "BINARY_DTYPE", "FLOAT_DTYPE", "INT_DTYPE", "BOOL_DTYPE", "ERROR_COL",
           "TEXT_LAYER_COL", "TEXT_SOURCE_COL", "NOTES_COL",
           "empty_column", "make_column", "is_nested_arrow_dtype"]

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
#: Document pages: what was assumed or decided about a page (``"; "``-separated), null when nothing.
NOTES_COL = "notes"
INT_DTYPE = pd.ArrowDtype(pa.int32())
BOOL_DTYPE = pd.ArrowDtype(pa.bool_())


def is_nested_arrow_dtype(dtype) -> bool:
    """Whether ``dtype`` is an ``ArrowDtype`` whose name plain pandas cannot parse (list, struct, map, ...)."""
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    arrow_type = dtype.pyarrow_dtype
    return pa.types.is_nested(arrow_type) or pa.types.is_dictionary(arrow_type)


def make_column(values: list, dtype: pd.ArrowDtype, index) -> pd.Series:
    """A Series of ``values`` (``None`` = null) with an Arrow dtype, aligned to ``index``."""
    return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values, type=dtype.pyarrow_dtype)), index=index)


def empty_column(dtype: pd.ArrowDtype, index) -> pd.Series:
    """An all-null column, for meta and for partitions with no rows."""
    return make_column([None] * len(index), dtype, index)
