"""The distributed runtime on a real LocalCluster: worker plugins, a killed worker, resume, faults."""

from __future__ import annotations

import os
import sys

import cloudpickle
import dask
import dask.dataframe as dd
import pandas as pd
import pytest

import dask_ocr
from dask_ocr import runtime
from dask_ocr.models.base import Recognition
from dask_ocr.scheduling import default_partition_count
from dask_ocr.schema import BINARY_DTYPE, STRING_DTYPE

from ocrdata import line_crops, load_manifest

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
LOADED_ONCE = {"ppocr:detect:1t": 1, "ppocr:recognize:1t": 1}


@pytest.fixture(scope="module")
def lines():
    crops, texts = line_crops(load_manifest("sroie", 1))
    frame = pd.DataFrame({"path": pd.Series([f"line-{i:03d}" for i in range(32)], dtype=STRING_DTYPE),
                          "content": pd.Series(crops[:32], dtype=BINARY_DTYPE)})
    return frame, frame.ocr.recognize(regions_col=None)["text"].tolist()


@pytest.fixture(scope="module")
def client():
    client = dask_ocr.start_cluster(n_workers=2, gpu=False, dashboard_address=None)
    yield client
    cluster = client.cluster
    client.close()
    cluster.close()


def test_each_model_loads_once_per_worker(client, lines):
    frame, expected = lines
    assert client.run(runtime.model_loads) == {address: LOADED_ONCE for address in client.scheduler_info()["workers"]}
    ddf = dd.from_pandas(frame, npartitions=16)
    out = ddf.ocr.detect().ocr.recognize(regions_col=None).compute()
    assert out["text"].tolist() == expected
    loads = client.run(runtime.model_loads)
    assert len(loads) == 2 and all(count == LOADED_ONCE for count in loads.values())
    assert default_partition_count(client) == 6                 # 3 per worker thread


def kill_worker_once(df, marker: str, partition_info=None):
    """Kill the worker process the first time partition 3 runs."""
    if partition_info and partition_info["number"] == 3:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return df
        os._exit(1)
    return df


def test_a_killed_worker_costs_a_retry_not_rows(client, lines, tmp_path):
    frame, expected = lines
    marker = tmp_path / "killed"
    ddf = dd.from_pandas(frame, npartitions=8)
    ddf = ddf.map_partitions(kill_worker_once, str(marker), meta=ddf._meta)
    out = ddf.ocr.recognize(regions_col=None).compute()
    assert marker.exists()                                       # a worker did die mid-job
    assert out["path"].tolist() == frame["path"].tolist() and out["text"].tolist() == expected
    assert out["ocr_error"].isna().all()


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
    assert dask_ocr.write_parquet(job, str(output), resume=False, progress=False) == len(frame)


class FailingRecognizer:
    """Raises on batches of more than one crop (``flaky``) or always."""

    def __init__(self, always: bool):
        self.always, self.calls = always, 0

    def recognize(self, crops, batch_size, decoding=None):
        self.calls += 1
        if self.always or len(crops) > 1:
            raise RuntimeError("model exploded")
        return [Recognition("ok", 0.99) for _ in crops]


@pytest.mark.parametrize("always", [False, True])
def test_a_failing_model_call_is_retried_then_marks_rows(lines, monkeypatch, always):
    frame, _ = lines
    model = FailingRecognizer(always)
    monkeypatch.setattr(runtime, "get_model", lambda key: model)
    with dask.config.set(scheduler="threads"):
        out = dd.from_pandas(frame.head(6), npartitions=2).ocr.recognize(regions_col=None).compute()
    assert len(out) == 6 and model.calls > 2                      # the batch failed, then row by row
    if always:
        assert out["text"].isna().all() and out["ocr_error"].str.contains("model exploded").all()
    else:
        assert (out["text"] == "ok").all() and out["ocr_error"].isna().all()


def test_gpu_cluster_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dask_ocr.distributed, "cuda_device_count", lambda: 0)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        dask_ocr.start_cluster(gpu=True)


def test_read_images_sizes_partitions_for_the_local_machine(tmp_path, monkeypatch):
    for i in range(40):
        (tmp_path / f"{i:02d}.png").write_bytes(b"x")
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert dask_ocr.read_images(str(tmp_path / "*.png")).npartitions == 6          # 3 per core
    assert dask_ocr.read_images(str(tmp_path / "*.png"), files_per_partition=10).npartitions == 4


@pytest.mark.parametrize("name", ["local_cpu", "local_gpu", "coiled_gpu", "quickstart"])
def test_examples_import_cleanly(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)                  # nothing runs: main() is behind __name__ == "__main__"
    assert callable(module.main) and module.__doc__


def test_plugin_models_serve_requests_for_any_device():
    from dask_ocr.distributed import model_keys

    detect_gpu, _ = model_keys("ppocr", use_gpu=True)
    detect_auto, recognize_auto = model_keys("ppocr")
    assert runtime._matches(detect_auto, detect_gpu)                 # use_gpu=None takes the GPU model
    assert not runtime._matches(recognize_auto, detect_gpu)          # another task
    assert not runtime._matches(model_keys("ppocr", use_gpu=False)[0], detect_gpu)
    assert runtime._matches(model_keys("ppocr", threads=2)[0], model_keys("ppocr")[0])   # threads: same model
    with pytest.raises(ValueError, match="unknown task"):
        model_keys("ppocr", tasks=("draw",))
