"""dask_ocr.readers: listing files on the client and reading their bytes inside the tasks."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

import dask_ocr
from dask_ocr.decode import decode_image
from dask_ocr.readers import list_files


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def gradient(width=40, height=30) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    return Image.fromarray(np.stack([np.tile(x, (height, 1))] * 3, axis=2))


def test_read_images_lists_and_partitions(tmp_path):
    for i in range(5):
        (tmp_path / f"p{i}.png").write_bytes(encode(gradient()))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "q.png").write_bytes(encode(gradient()))
    ddf = dask_ocr.read_images(str(tmp_path / "**" / "*.png"), files_per_partition=2)
    assert ddf.npartitions == 3
    frame = ddf.compute()
    assert len(frame) == 6 and frame["path"].tolist() == sorted(frame["path"].tolist())
    assert str(frame["content"].dtype) == "binary[pyarrow]"
    assert all(decode_image(c).shape == (30, 40, 3) for c in frame["content"])
    with pytest.raises(FileNotFoundError):
        dask_ocr.read_images(str(tmp_path / "*.tif"))


def test_read_images_sizes_partitions_for_the_local_machine(tmp_path, monkeypatch):
    for i in range(40):
        (tmp_path / f"{i:02d}.png").write_bytes(b"x")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert dask_ocr.read_images(str(tmp_path / "*.png")).npartitions == 6          # 3 per core
    assert dask_ocr.read_images(str(tmp_path / "*.png"), files_per_partition=10).npartitions == 4


def test_list_files_expands_directories_globs_and_literal_names(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt", "scan[1].png"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(b"x")
    _, files = list_files(str(tmp_path))
    assert [os.path.basename(f) for f in files] == ["a.JPG", "b.png", "scan[1].png"]     # by suffix, sorted
    _, deep = list_files(str(tmp_path), recursive=True)
    assert sorted(os.path.basename(f) for f in deep) == ["a.JPG", "b.png", "c.png", "scan[1].png"]
    _, literal = list_files(str(tmp_path / "scan[1].png"))                              # not read as a glob
    assert [os.path.basename(f) for f in literal] == ["scan[1].png"]
    _, both = list_files([str(tmp_path / "b.png"), str(tmp_path / "*.png")])           # duplicates dropped
    assert [os.path.basename(f) for f in both] == ["b.png", "scan[1].png"]


def test_list_files_says_why_nothing_was_found(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.png").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match="recursive=True"):
        list_files(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="glob that matches nothing"):
        list_files(str(tmp_path / "*.tif"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        list_files(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match="at least one"):
        list_files([])


def test_index_is_unique_and_unreadable_files_become_row_errors(tmp_path):
    for i in range(5):
        (tmp_path / f"p{i}.png").write_bytes(encode(gradient()))
    ddf = dask_ocr.read_images(str(tmp_path), files_per_partition=2)
    (tmp_path / "p3.png").unlink()                        # removed between listing and reading
    frame = ddf.compute(scheduler="sync")
    assert frame.index.tolist() == [0, 1, 2, 3, 4] and ddf.divisions == (0, 2, 4, 4)
    assert frame["content"].isna().tolist() == [False, False, False, True, False]
    assert frame["ocr_error"].iloc[3].startswith("cannot read") and frame["ocr_error"].drop(3).isna().all()
    with pytest.raises(ValueError, match="files_per_partition"):
        dask_ocr.read_images(str(tmp_path), files_per_partition=-1)


def test_a_few_files_stay_in_one_partition_and_head_shows_them(tmp_path):
    import warnings

    for i in range(2):
        (tmp_path / f"{i}.png").write_bytes(b"x")
    ddf = dask_ocr.read_images(str(tmp_path))
    assert ddf.npartitions == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                     # no "insufficient elements" warning
        assert ddf.head().index.tolist() == [0, 1]
