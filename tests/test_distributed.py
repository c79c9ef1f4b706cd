"""dask_ocr.cluster.plugins on real LocalClusters: ModelPlugin, register_models, start_cluster, a killed worker.

The lines are generated images (no data needed); the expected texts are what pandas reads.
"""

from __future__ import annotations

import os
import sys

import cloudpickle
import dask.dataframe as dd
import pandas as pd
import pytest

import dask_ocr
from dask_ocr.cluster import models as model_cache
from dask_ocr.cluster.plugins import ModelPlugin, model_keys, register_models
from dask_ocr.cluster.scheduling import default_partition_count
from dask_ocr.schema import BINARY_DTYPE
from dask_ocr.testing import save_trocr

from ocrdata import line_frame, noise_crops, png

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
LOADED_ONCE = {"ppocr:detect:1t": 1, "ppocr:recognize:1t": 1}


@pytest.fixture(scope="module")
def lines():
    frame = line_frame(16)
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
    workers = client.scheduler_info()["workers"]
    assert client.run(model_cache.model_loads) == {address: LOADED_ONCE for address in workers}
    detected = dd.from_pandas(frame.head(4), npartitions=4).ocr.detect().compute()   # (detection is slow)
    assert detected["regions"].map(len).gt(0).all() and detected["ocr_error"].isna().all()
    out = dd.from_pandas(frame, npartitions=16).ocr.recognize(regions_col=None).compute()
    assert out["text"].tolist() == expected
    loads = client.run(model_cache.model_loads)
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


def test_gpu_cluster_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dask_ocr.cluster.plugins, "cuda_device_count", lambda: 0)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        dask_ocr.start_cluster(gpu=True)


@pytest.mark.parametrize("name", ["local_cpu", "local_gpu", "coiled_gpu", "quickstart"])
def test_examples_import_cleanly(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)                  # nothing runs: main() is behind __name__ == "__main__"
    assert callable(module.main) and module.__doc__


def test_registering_the_same_models_again_loads_nothing(client):
    before = client.run(model_cache.model_loads)
    plugin = register_models(client, "ppocr")
    assert plugin.name == ModelPlugin(model_keys("ppocr")).name            # named by its models
    assert plugin.name != ModelPlugin(model_keys("ppocr", tasks=("detect",))).name
    assert ModelPlugin.idempotent and client.run(model_cache.model_loads) == before


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return str(save_trocr(tmp_path_factory.mktemp("trocr") / "tiny", "tiny", init_std=0.5))


def test_the_plugin_trocr_serves_every_decoding_setting(tiny):
    from distributed import Client, LocalCluster

    frame = pd.DataFrame({"content": pd.Series([png(crop) for crop in noise_crops(6)], dtype=BINARY_DTYPE)})
    settings = [{"max_new_tokens": 4}, {"max_new_tokens": 8}, {"max_new_tokens": 8, "num_beams": 2}]
    expected = [frame.ocr.recognize(model=tiny, regions_col=None, min_confidence=0, **s)["text"].tolist()
                for s in settings]
    assert expected[0] != expected[1]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        register_models(client, tiny)
        label = f"{tiny}:recognize:1t"
        assert list(client.run(model_cache.model_loads).values()) == [{label: 1}]
        ddf = dd.from_pandas(frame, npartitions=2)
        for setting, texts in zip(settings, expected):
            out = ddf.ocr.recognize(model=tiny, regions_col=None, min_confidence=0, **setting).compute()
            assert out["text"].tolist() == texts and out["ocr_error"].isna().all()
        assert list(client.run(model_cache.model_loads).values()) == [{label: 1}]     # the plugin's model, always
        assert list(client.run(model_cache.loaded_models).values()) == [[]]          # nothing in the process cache
