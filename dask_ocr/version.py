"""The installed version of dask_ocr."""

from __future__ import annotations

__all__ = ["package_version"]


def package_version() -> str:
    """The version of the installed ``dask_ocr`` distribution; ``"0.0.0"`` in a source tree that is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("dask_ocr")
    except PackageNotFoundError:
        return "0.0.0"
