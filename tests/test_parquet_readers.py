"""Parquet that any tool reads: plain pandas (no dask_ocr), pyarrow, DuckDB and polars, nested columns intact.

Our writers (``write_parquet``, ``to_portable_parquet``, the command line) write files that plain ``pd.read_parquet``
reads; files of ``DataFrame.to_parquet`` (pandas or Dask) read with ``dtype_backend="pyarrow"``, ours too."""

from __future__ import annotations

import json
import subprocess
import sys

import dask.dataframe as dd
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import dask_ocr
from dask_ocr.schema import BINARY_DTYPE, POSITIONS_DTYPE, REGIONS_DTYPE, STRING_DTYPE
from dask_ocr.sinks.parquet import ARROW_DTYPE_KEY
from dask_ocr.synthetic import make_sample_pages

NESTED = ("regions", "positions")
#: Files written by our writers, and by plain ``to_parquet``.
OURS = ("write_parquet", "portable")
KINDS = (*OURS, "pandas", "dask")

#: Read with plain pandas in a fresh interpreter that never imports dask_ocr (``dtype_backend`` from the second
#: argument, if any); print rows and nested values.
PLAIN_READER = """
import json, sys
import numpy as np
import pandas as pd

def plain(value):
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return None if value is pd.NA else value

frame = pd.read_parquet(sys.argv[1], **({"dtype_backend": sys.argv[2]} if len(sys.argv) > 2 else {}))
assert "dask_ocr" not in sys.modules
if len(sys.argv) > 2:
    assert all(isinstance(frame.dtypes[name], pd.ArrowDtype) for name in ("regions", "positions"))
print(json.dumps({"rows": len(frame), "text": [plain(v) for v in frame["text"]],
                  **{name: [plain(v) for v in frame[name]] for name in ("regions", "positions")}}))
"""


@pytest.fixture(scope="module")
def recognized() -> pd.DataFrame:
    """Two generated pages and an empty (error) row, detected and recognised with positions."""
    pages = make_sample_pages(2, seed=5)
    frame = pd.DataFrame({"path": pd.Series([p.name for p in pages] + ["empty.jpg"], dtype=STRING_DTYPE),
                          "content": pd.Series([p.content for p in pages] + [b""], dtype=BINARY_DTYPE)})
    out = frame.ocr.detect().ocr.recognize(positions_col="positions").drop(columns="content")
    assert out["ocr_error"].notna().tolist() == [False, False, True]
    assert out.dtypes["regions"] == REGIONS_DTYPE and out.dtypes["positions"] == POSITIONS_DTYPE
    return out


@pytest.fixture(scope="module")
def files(recognized, tmp_path_factory) -> dict:
    """The frame written by write_parquet, to_portable_parquet, pandas to_parquet and dask to_parquet."""
    root = tmp_path_factory.mktemp("parquet")
    ddf = dd.from_pandas(recognized, npartitions=2)
    dask_ocr.write_parquet(ddf, str(root / "write_parquet"), progress=False)
    dask_ocr.to_portable_parquet(recognized, str(root / "portable.parquet"))
    recognized.to_parquet(root / "pandas.parquet")
    ddf.to_parquet(str(root / "dask"))
    return {"write_parquet": root / "write_parquet", "portable": root / "portable.parquet",
            "pandas": root / "pandas.parquet", "dask": root / "dask"}


def _glob(path) -> str:
    return str(path / "*.parquet") if path.is_dir() else str(path)


def _values(column) -> list:
    """Python values of a column, nulls as None."""
    return [None if value is pd.NA else value for value in column.tolist()]


def _expected(frame: pd.DataFrame) -> dict:
    return {"rows": len(frame), "text": _values(frame["text"]), **{name: _values(frame[name]) for name in NESTED}}


def _fresh_read(path, *backend: str) -> dict:
    run = subprocess.run([sys.executable, "-c", PLAIN_READER, str(path), *backend], capture_output=True, text=True,
                         cwd=path.parent, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.mark.parametrize("kind", OURS)
def test_plain_pandas_in_a_fresh_process(files, recognized, kind):
    assert _fresh_read(files[kind]) == _expected(recognized)


@pytest.mark.parametrize("kind", KINDS)
def test_plain_pandas_with_the_pyarrow_backend_in_a_fresh_process(files, recognized, kind):
    assert _fresh_read(files[kind], "pyarrow") == _expected(recognized)


@pytest.mark.parametrize("kind", KINDS)
def test_pyarrow(files, recognized, kind):
    table = pq.read_table(files[kind])
    assert table.num_rows == len(recognized)
    for name in NESTED:
        assert table.column(name).type == recognized.dtypes[name].pyarrow_dtype
        assert table.column(name).to_pylist() == _values(recognized[name])


@pytest.mark.parametrize("kind", KINDS)
def test_duckdb(files, recognized, kind):
    duckdb = pytest.importorskip("duckdb")
    rows = duckdb.sql(f"SELECT regions, positions FROM read_parquet('{_glob(files[kind])}')").fetchall()
    assert [list(row) for row in rows] == [list(pair) for pair in zip(*(_values(recognized[n]) for n in NESTED))]


@pytest.mark.parametrize("kind", KINDS)
def test_polars(files, recognized, kind):
    pl = pytest.importorskip("polars")
    frame = pl.read_parquet(_glob(files[kind]))
    assert frame.height == len(recognized)
    for name in NESTED:
        assert frame.get_column(name).to_list() == _values(recognized[name])


@pytest.mark.parametrize("kind", KINDS)
def test_the_pyarrow_backend_gives_the_arrow_dtypes_back(files, recognized, kind):
    frame = pd.read_parquet(files[kind], dtype_backend="pyarrow").reset_index(drop=True)
    for name, dtype in (("regions", REGIONS_DTYPE), ("positions", POSITIONS_DTYPE)):
        assert frame.dtypes[name] == dtype     # (Parquet names list items "element": equal types, other names)
    pd.testing.assert_frame_equal(frame, recognized.reset_index(drop=True), check_dtype=False)
    lazy = dd.read_parquet(str(files[kind]), dtype_backend="pyarrow").compute()
    assert lazy.dtypes["positions"] == POSITIONS_DTYPE
    assert _values(lazy["positions"]) == _values(recognized["positions"])


def test_recorded_metadata(files):
    """Our writers record nested columns as "object" (what plain pandas parses), their Arrow dtype kept beside;
    pandas' own ``to_parquet`` records the dtype names (nothing of pandas or pyarrow is patched)."""
    paths = {"write_parquet": files["write_parquet"] / "part.000000.parquet", "portable": files["portable"],
             "pandas": files["pandas"]}
    for kind, path in paths.items():
        columns = {c["name"]: c for c in pq.read_schema(path).pandas_metadata["columns"]}
        for name, dtype in (("regions", REGIONS_DTYPE), ("positions", POSITIONS_DTYPE)):
            if kind in OURS:
                assert columns[name]["numpy_type"] == "object"
                assert columns[name]["metadata"] == {ARROW_DTYPE_KEY: str(dtype)}
            else:
                assert columns[name]["numpy_type"] == str(dtype) and not columns[name]["metadata"]


def test_to_portable_parquet_keeps_the_index_when_asked_and_writes_atomically(recognized, tmp_path):
    frame = recognized.set_index(pd.Index([7, 8, 9], name="row"))
    dask_ocr.to_portable_parquet(frame, str(tmp_path / "indexed.parquet"), index=True, compression="zstd")
    back = pd.read_parquet(tmp_path / "indexed.parquet", dtype_backend="pyarrow")
    assert back.index.tolist() == [7, 8, 9] and back.index.name == "row"
    assert pq.ParquetFile(tmp_path / "indexed.parquet").metadata.row_group(0).column(0).compression == "ZSTD"
    with pytest.raises(pa.ArrowInvalid):
        dask_ocr.to_portable_parquet(frame.assign(bad=[object(), 1, "x"]), str(tmp_path / "bad.parquet"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["indexed.parquet"]


def test_cli_output_reads_in_plain_pandas(tmp_path):
    from dask_ocr.cli import main

    scans = tmp_path / "scans"
    scans.mkdir()
    for page in make_sample_pages(2, seed=9):
        (scans / f"{page.name}.jpg").write_bytes(page.content)
    assert main(["run", str(scans), "-o", str(tmp_path / "out.parquet"), "--positions"]) == 0
    run = subprocess.run([sys.executable, "-c", PLAIN_READER.replace('"text": [plain(v) for v in frame["text"]],', ""),
                          str(tmp_path / "out.parquet")], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    expected = pd.read_parquet(tmp_path / "out.parquet", dtype_backend="pyarrow")
    assert result["rows"] == 2 and result["positions"] == _values(expected["positions"])
    assert all(result["positions"]) and result["regions"] == _values(expected["regions"])
