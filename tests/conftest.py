"""Shared fixtures: offline settings, a fresh model cache, an instant fake model, and pages from the evaluation
data."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The run's own model cache (the int8 detector is built in it on first use), inherited by cluster workers.
os.environ["DASK_OCR_CACHE"] = _CACHE = tempfile.mkdtemp(prefix="dask_ocr_test_cache_")

import dask_ocr  # noqa: E402,F401  (registers the accessor)

from ocrdata import FakeModel, load_manifest  # noqa: E402


@pytest.fixture
def fake(monkeypatch):
    """One :class:`~ocrdata.FakeModel` served for every model key (``fake.keys``: the keys asked for, in order)."""
    from dask_ocr.cluster import models as model_cache

    model = FakeModel()

    def get_model(key):
        model.keys.append(key)
        return model

    monkeypatch.setattr(model_cache, "get_model", get_model)
    return model


@pytest.fixture(scope="session")
def sroie_pages():
    return load_manifest("sroie", 6)


@pytest.fixture(scope="session")
def funsd_pages():
    return load_manifest("funsd", 4)


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_CACHE, ignore_errors=True)
