"""Shared fixtures: offline settings and pages from the evaluation data."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import dask_ocr  # noqa: E402,F401  (registers the accessor)

from ocrdata import load_manifest  # noqa: E402


@pytest.fixture(scope="session")
def sroie_pages():
    return load_manifest("sroie", 6)


@pytest.fixture(scope="session")
def funsd_pages():
    return load_manifest("funsd", 4)
