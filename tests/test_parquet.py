"""dask_ocr.sinks.parquet.write_parquet: whole parts only, resumable, every row exactly once."""

from __future__ import annotations

import json
import os

import dask
import dask.dataframe as dd
import pandas as pd
import pytest

import dask_ocr
from dask_ocr.sinks.parquet import JOB_FILE

from ocrdata import line_frame


@pytest.fixture(scope="module")
def lines():
    frame = line_frame(32)
    return frame, frame.ocr.recognize(regions_col=None)["text"].tolist()


def fail_partition(df, flag: str, log: str, partition_info=None):
    """Raise on partition 5 while ``flag`` exists; log every partition computed."""
    number = partition_info["number"] if partition_info else -1
    if number == 5 and os.path.exists(flag):
        raise RuntimeError("interrupted")
    with open(log, "a") as handle:
        handle.write(f"{number}\n")
    return df


def test_resume_writes_every_row_exactly_once(lines, tmp_path):
    frame, expected = lines
    flag, log, output = tmp_path / "flag", tmp_path / "log", tmp_path / "out"
    flag.touch()
    ddf = dd.from_pandas(frame, npartitions=8)
    job = ddf.map_partitions(fail_partition, str(flag), str(log), meta=ddf._meta).ocr.recognize(regions_col=None)
    job = job[["path", "text", "ocr_error"]]
    with dask.config.set(scheduler="threads", num_workers=1), pytest.raises(RuntimeError, match="interrupted"):
        dask_ocr.write_parquet(job, str(output), progress=False)
    first = {int(n) for n in log.read_text().split()}
    written = sorted(p.name for p in output.glob("part.*.parquet"))
    assert 5 not in first and len(written) < 8
    assert not list(output.glob(".part*"))                         # no half-written parts are left
    flag.unlink()
    log.write_text("")
    with dask.config.set(scheduler="threads"):
        rows = dask_ocr.write_parquet(job, str(output), resume=True, progress=False)
    second = {int(n) for n in log.read_text().split()}
    assert second == set(range(8)) - {int(name.split(".")[1]) for name in written}   # only what was missing
    back = pd.read_parquet(output)
    assert rows == len(frame) - 4 * len(written)
    assert back["path"].tolist() == frame["path"].tolist() and back["text"].tolist() == expected
    with pytest.raises(ValueError, match="different job"):
        dask_ocr.write_parquet(dd.from_pandas(frame, npartitions=3)[["path"]], str(output), progress=False)
    assert dask_ocr.write_parquet(job, str(output), resume=True, progress=False) == 0     # nothing left to do
    with pytest.raises(FileExistsError, match="already holds this job's output"):
        dask_ocr.write_parquet(job, str(output), resume=False, progress=False)
    assert dask_ocr.write_parquet(job, str(output), overwrite=True, progress=False) == len(frame)


def test_the_job_file_names_the_partitioning_and_columns(tmp_path):
    frame = pd.DataFrame({"path": [f"p{i}" for i in range(5)], "n": range(5)})
    ddf = dd.from_pandas(frame, npartitions=2)
    with dask.config.set(scheduler="sync"):
        assert dask_ocr.write_parquet(ddf, str(tmp_path / "out"), progress=False) == 5
    job = json.loads((tmp_path / "out" / JOB_FILE).read_text())
    assert {k: job[k] for k in ("writer", "npartitions", "columns")} == {"writer": "dask_ocr", "npartitions": 2,
                                                                         "columns": ["path", "n"]}
    assert job["fingerprint"] == dask.base.tokenize(ddf)                  # the same graph resumes, another not
    assert dask_ocr.write_parquet(ddf, str(tmp_path / "out"), progress=False) == 0
    with pytest.raises(ValueError, match="different job"):
        dask_ocr.write_parquet(ddf.assign(n=ddf["n"] + 1), str(tmp_path / "out"), progress=False)
    assert sorted(p.name for p in (tmp_path / "out").glob("part.*")) == ["part.000000.parquet", "part.000001.parquet"]
    assert pd.read_parquet(tmp_path / "out")["n"].tolist() == [0, 1, 2, 3, 4]


def test_files_not_written_by_write_parquet_are_left_alone(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    pd.DataFrame({"n": [1]}).to_parquet(output / "part.000000.parquet")
    (output / ".part.000001.parquet.abc").write_bytes(b"half")
    ddf = dd.from_pandas(pd.DataFrame({"n": range(4)}), npartitions=2)
    for options in ({"resume": True}, {"resume": False}, {"overwrite": True}):
        with pytest.raises(FileExistsError, match="not written by dask_ocr"):
            dask_ocr.write_parquet(ddf, str(output), progress=False, **options)
    assert sorted(p.name for p in output.iterdir()) == [".part.000001.parquet.abc", "part.000000.parquet"]
    (output / "file").write_bytes(b"")
    with pytest.raises(FileExistsError, match="is a file"):
        dask_ocr.write_parquet(ddf, str(output / "file"), progress=False)
