"""Exceptions whose messages end up, per row, in the ``ocr_error`` column."""

from __future__ import annotations

__all__ = ["RowError", "ImageDecodeError", "RegionError", "ModelNotFoundError"]


class RowError(ValueError):
    """A problem confined to one input row: the row gets nulls and this message, the rest go on."""


class ImageDecodeError(RowError):
    """The bytes of a row are not a decodable image within the configured limits."""


class RegionError(RowError):
    """The regions of a row cannot be turned into crops."""


class ModelNotFoundError(LookupError):
    """A model name or path that the registry cannot resolve."""
