"""The pages the int8 PP-OCR detector is calibrated on, and the tag its cached copy is named by.

The calibration pages are generated scans (:func:`dask_ocr.synthetic.make_sample_pages`), never evaluation data.
The tag holds a fingerprint of their bytes, of the package version and of the detector's input settings, so a
changed calibration (other pages, another version of the code that prepares them) builds a new copy instead of
reusing the one in the model cache.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence

from ..version import package_version

__all__ = ["CALIBRATION_PAGES", "calibration_pages", "calibration_tag"]

#: How many generated pages the int8 detector is calibrated on.
CALIBRATION_PAGES = 12


@functools.cache
def calibration_pages() -> tuple[bytes, ...]:
    """The encoded (JPEG) calibration pages, generated once per process."""
    from ..synthetic import make_sample_pages

    return tuple(page.content for page in make_sample_pages(CALIBRATION_PAGES))


def calibration_tag(pages: Sequence[bytes], *settings) -> str:
    """``pages<N>-<settings>-<fingerprint>``: the fingerprint a SHA-256 of the package version, ``settings`` and every
    page's bytes (each with its length, so that no two page lists share one)."""
    digest = hashlib.sha256(package_version().encode())
    for setting in settings:
        digest.update(f"\0{setting}".encode())
    for page in pages:
        digest.update(len(page).to_bytes(8, "little"))
        digest.update(page)
    named = "-".join(str(setting) for setting in settings)
    return f"pages{len(pages)}-{named}-{digest.hexdigest()[:16]}"
