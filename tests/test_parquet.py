"""dask_ocr.sinks.parquet.write_parquet: whole parts only, resumable, every row exactly once."""

from __future__ import annotations

import json
import os
import threading

import dask
import dask.dataframe as dd
import pandas as pd
import pytest

import dask_ocr
from dask_ocr.sinks.fingerprint import fingerprint
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
    first = {int(n) for n in log.read_text().split()} if log.exists() else set()   # partition 5 may come first
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
    assert job["fingerprint"] == fingerprint(ddf)                         # the same job resumes, another not
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


def test_only_the_temporaries_its_record_names_are_removed(tmp_path):
    """A user's ``.part.1.txt`` (or any name like a temporary of ours) in the output survives resume and
    overwrite; an interrupted run's own temporary is removed."""
    output = tmp_path / "out"
    ddf = dd.from_pandas(pd.DataFrame({"n": range(4)}), npartitions=2)
    assert dask_ocr.write_parquet(ddf, str(output), progress=False) == 4
    run = json.loads((output / JOB_FILE).read_text())["run"]
    ours = output / f".part.000001.parquet.{run}"
    ours.write_bytes(b"half")                                   # what an interrupted part leaves
    theirs = [output / ".part.1.txt", output / ".part.000001.parquet.0123456789abcdef0123456789abcdef"]
    for path in theirs:
        path.write_bytes(b"mine")
    (output / "part.000001.parquet").unlink()
    assert dask_ocr.write_parquet(ddf, str(output), resume=True, progress=False) == 2
    assert not ours.exists() and all(path.read_bytes() == b"mine" for path in theirs)
    assert dask_ocr.write_parquet(ddf, str(output), overwrite=True, progress=False) == 4
    assert all(path.read_bytes() == b"mine" for path in theirs)
    assert pd.read_parquet(output)["n"].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("damage", [b"", b'{"writer": "dask_ocr", "npart', b"\xff\xfe"])
def test_an_unreadable_record_is_one_line_and_overwrite_recovers(tmp_path, damage):
    output = tmp_path / "out"
    ddf = dd.from_pandas(pd.DataFrame({"n": range(6)}), npartitions=3)
    dask_ocr.write_parquet(ddf, str(output), progress=False)
    (output / JOB_FILE).write_bytes(damage)                     # e.g. a disk full while it was written
    (output / "notes.txt").write_text("mine")
    for options in ({"resume": True}, {"resume": False}):
        with pytest.raises(ValueError, match="unreadable.*overwrite=True") as caught:
            dask_ocr.write_parquet(ddf.head(2, compute=False), str(output), progress=False, **options)
        assert "\n" not in str(caught.value)
    (output / "notes.txt").unlink()
    smaller = dd.from_pandas(pd.DataFrame({"n": range(2)}), npartitions=1)
    assert dask_ocr.write_parquet(smaller, str(output), overwrite=True, progress=False) == 2
    assert pd.read_parquet(output)["n"].tolist() == [0, 1]       # no part of the earlier job is left over
    assert json.loads((output / JOB_FILE).read_text())["npartitions"] == 1


def test_the_record_is_written_atomically(tmp_path, monkeypatch):
    """A write that fails half-way (a full disk) leaves the earlier record whole and no temporary file."""
    from dask_ocr.sinks import files

    output = tmp_path / "out"
    ddf = dd.from_pandas(pd.DataFrame({"n": range(4)}), npartitions=2)
    dask_ocr.write_parquet(ddf, str(output), progress=False)
    before = (output / JOB_FILE).read_bytes()

    def full_disk(record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.json, "dumps", lambda record, **kw: full_disk(record))
    with pytest.raises(OSError, match="No space"):
        dask_ocr.write_parquet(ddf, str(output), overwrite=True, progress=False)
    assert (output / JOB_FILE).read_bytes() == before
    assert sorted(p.name for p in output.iterdir() if p.name.startswith(".") and p.name != ".dask_ocr.lock") == []


_GATE = {"started": threading.Event(), "release": threading.Event()}


def _held(df):
    """Hold the partition until the test releases it."""
    _GATE["started"].set()
    _GATE["release"].wait(30)
    return df


def test_two_different_jobs_on_one_folder_the_second_is_refused(tmp_path):
    """While one job writes a folder, another job is refused in one line; the same job started twice waits
    and then finds every row written (each row once)."""
    output, started, release = tmp_path / "out", _GATE["started"], _GATE["release"]
    frame = pd.DataFrame({"n": range(8)})
    first = dd.from_pandas(frame, npartitions=2).map_partitions(_held, meta=frame.head(0))
    results = {}
    writer = threading.Thread(target=lambda: results.setdefault("first", dask_ocr.write_parquet(
        first, str(output), progress=False)))
    with dask.config.set(scheduler="synchronous"):
        writer.start()
        assert started.wait(30)
        other = dd.from_pandas(pd.DataFrame({"n": range(16)}), npartitions=2)
        with pytest.raises(FileExistsError, match="being written by another dask_ocr job") as caught:
            dask_ocr.write_parquet(other, str(output), overwrite=True, progress=False)
        assert "\n" not in str(caught.value)
        again = threading.Thread(target=lambda: results.setdefault("again", dask_ocr.write_parquet(
            first, str(output), resume=True, progress=False)))
        again.start()
        release.set()
        writer.join(60)
        again.join(60)
    assert results == {"first": 8, "again": 0}
    assert pd.read_parquet(output)["n"].tolist() == list(range(8))


class Scale:
    """A step of the user's own: instances print with a memory address."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, df):
        return df.assign(n=df["n"] * self.factor)


_JOB = """
import sys
import dask.dataframe as dd, pandas as pd
import dask_ocr
sys.path.insert(0, {tests!r})
from test_parquet import Scale
padding = [Scale(n) for n in range({padding})]  # another process: objects at other addresses
ddf = dd.from_pandas(pd.DataFrame({{"n": range(6)}}), npartitions=3).map_partitions(lambda df: df.assign(m=df["n"]))
ddf = ddf.map_partitions(Scale({factor}))  # the last step: dask names the job after its repr
print(dask_ocr.write_parquet(ddf, {output!r}, resume=True, progress=False))
"""


def test_the_same_job_built_in_a_new_process_resumes(tmp_path):
    import subprocess
    import sys

    output, tests = str(tmp_path / "out"), os.path.dirname(__file__)

    def run(factor, padding=0):
        code = _JOB.format(tests=tests, factor=factor, output=output, padding=padding)
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert run(2).stdout.split() == ["6"]
    os.remove(os.path.join(output, "part.000001.parquet"))
    assert run(2, padding=1000).stdout.split() == ["2"]         # only the missing partition
    assert pd.read_parquet(output)["n"].tolist() == [0, 2, 4, 6, 8, 10]
    changed = run(3)                                            # another parameter: another job
    assert changed.returncode != 0 and "different job" in changed.stderr
