"""Parquet any tool reads: nested Arrow columns recorded so that plain pandas reads them too.

pyarrow records ``str(dtype)`` of every pandas column in the file's pandas metadata (``numpy_type``) and plain
pandas parses it back on reading; it cannot parse nested Arrow names such as ``list<item: struct<...>>[pyarrow]``
(pandas-dev/pandas#53011, #57411), so ``pd.read_parquet`` without dask_ocr failed on our output.  The dtype itself
cannot carry another name (``ArrowExtensionArray`` rebuilds a plain ``ArrowDtype`` from its data), so the fix is
in what is recorded: a nested Arrow column is recorded as ``"object"`` (what plain pandas, fastparquet and friends
read: an object column of lists and dicts) with its real dtype name kept as ``{"arrow_dtype": name}`` in the
column's metadata, which dask_ocr reads back as the same ``ArrowDtype``.  The Arrow schema is untouched, so
pyarrow, DuckDB and polars see the nested types as they are.
"""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa

from .schema import declared_nested_dtypes, is_nested_arrow_dtype

__all__ = ["ARROW_DTYPE_KEY", "portable_pandas_metadata", "portable_parquet_table", "install_portable_parquet"]

#: Key, in a column's pandas metadata, of the Arrow dtype name a nested column was recorded without.
ARROW_DTYPE_KEY = "arrow_dtype"


def portable_pandas_metadata(metadata: dict, dtypes) -> dict:
    """``metadata`` (a table's pandas metadata) with each nested Arrow column recorded as ``"object"``.

    Parameters
    ----------
    metadata : dict
        ``schema.pandas_metadata`` of a table built from a pandas frame.
    dtypes : mapping
        Column name -> pandas dtype of that frame (``frame.dtypes``).

    Returns
    -------
    dict
        A copy; the real names go to each column's ``metadata`` under :data:`ARROW_DTYPE_KEY`.
    """
    columns = []
    for column in metadata.get("columns", []):
        dtype = dtypes.get(column.get("name"))
        if is_nested_arrow_dtype(dtype) and column.get("numpy_type") != "object":
            column = {**column, "numpy_type": "object",
                      "metadata": {**(column.get("metadata") or {}), ARROW_DTYPE_KEY: str(dtype)}}
        columns.append(column)
    return {**metadata, "columns": columns}


def portable_parquet_table(frame: pd.DataFrame, preserve_index: bool = False) -> pa.Table:
    """``frame`` as an Arrow table whose pandas metadata plain pandas reads (:func:`portable_pandas_metadata`)."""
    table = pa.Table.from_pandas(frame, preserve_index=preserve_index)
    metadata = portable_pandas_metadata(table.schema.pandas_metadata or {}, dict(frame.dtypes.items()))
    return table.replace_schema_metadata({**(table.schema.metadata or {}), b"pandas": json.dumps(metadata).encode()})


def _restored_dtypes(schema: pa.Schema, columns_metadata: list, found: dict) -> dict:
    """The ``ArrowDtype`` of each column recorded under :data:`ARROW_DTYPE_KEY` (and not typed otherwise)."""
    declared, restored = declared_nested_dtypes(), {}
    for column in columns_metadata:
        name = column.get("field_name") or column.get("name")
        marker = column.get("metadata")
        marker = marker.get(ARROW_DTYPE_KEY) if isinstance(marker, dict) else None
        if not marker or name in found or name not in schema.names:
            continue
        arrow_type = schema.field(name).type
        dtype = declared.get(marker)  # Parquet renames list items ("element"): give back the declared dtype
        restored[name] = dtype if dtype is not None and dtype.pyarrow_dtype == arrow_type else pd.ArrowDtype(arrow_type)
    return restored


def install_portable_parquet() -> None:
    """Record nested Arrow columns portably wherever pyarrow converts a pandas frame in this process
    (``DataFrame.to_parquet``, Dask's ``to_parquet``, ``pa.Table.from_pandas``), and read them back as Arrow.

    Wraps two functions of ``pyarrow.pandas_compat``, each calling the original first; where they are
    missing (another pyarrow), nothing is installed and :func:`portable_parquet_table` still works.
    """
    from pyarrow import pandas_compat

    info, extension_dtypes = (getattr(pandas_compat, name, None)
                              for name in ("get_extension_dtype_info", "_get_extension_dtypes"))
    if info is None or extension_dtypes is None or getattr(info, "_dask_ocr", False):
        return

    def get_extension_dtype_info(column):
        dtype = getattr(column, "dtype", None)
        if is_nested_arrow_dtype(dtype):
            return "object", {ARROW_DTYPE_KEY: str(dtype)}
        return info(column)

    def _get_extension_dtypes(table, columns_metadata, *args, **kwargs):
        found = extension_dtypes(table, columns_metadata, *args, **kwargs)
        found.update(_restored_dtypes(table.schema, columns_metadata, found))
        return found

    get_extension_dtype_info._dask_ocr = _get_extension_dtypes._dask_ocr = True
    pandas_compat.get_extension_dtype_info = get_extension_dtype_info
    pandas_compat._get_extension_dtypes = _get_extension_dtypes
