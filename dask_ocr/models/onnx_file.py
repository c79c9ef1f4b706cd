"""What an ONNX file says of itself — its metadata, the size of its output — read from its protobuf fields.

Loading a model to start reading pages needs its metadata (a PP-OCR recognizer's dictionary) and the number of
classes it scores; ``import onnx`` alone takes 0.5 s here (its ``ml_dtypes`` extension), a third of a one-page
job.  These fields are found by walking the protobuf wire format of the file (memory-mapped: the weights are
skipped, never read), following the field numbers of ``onnx.proto``:

* ``ModelProto``: ``graph`` = 7, ``metadata_props`` = 14 (``StringStringEntryProto``: ``key`` = 1, ``value`` = 2);
* ``GraphProto``: ``output`` = 12 (``ValueInfoProto``: ``type`` = 2);
* ``TypeProto``: ``tensor_type`` = 1 (``shape`` = 2: ``TensorShapeProto``, ``dim`` = 1: ``dim_value`` = 1).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from pathlib import Path

__all__ = ["model_metadata", "output_classes"]

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5


def model_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of the ONNX file at ``path`` (its ``metadata_props``)."""
    with _mapped(path) as data:
        entries = [value for number, value in _fields(data, (0, len(data))) if number == 14]
        return dict(_entry(data, span) for span in entries)


def output_classes(path: str | Path) -> int | None:
    """The last dimension of the first output of the ONNX model at ``path``; None where it is not fixed."""
    with _mapped(path) as data:
        span = (0, len(data))
        for number in (7, 12, 2, 1, 2):  # graph, its first output, its type, tensor type, shape
            span = _first(data, span, number)
            if span is None:
                return None
        dims = [value for number, value in _fields(data, span) if number == 1]
        value = _first(data, dims[-1], 1) if dims else None
        return value or None


def _mapped(path: str | Path) -> mmap.mmap:
    with open(path, "rb") as handle:
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _entry(data, span: tuple[int, int]) -> tuple[str, str]:
    text = {number: bytes(data[start:end]).decode("utf-8") for number, (start, end) in _fields(data, span)
            if number in (1, 2)}
    return text.get(1, ""), text.get(2, "")


def _first(data, span: tuple[int, int], wanted: int):
    """The value of the first field numbered ``wanted`` of the message at ``span``, or None."""
    return next((value for number, value in _fields(data, span) if number == wanted), None)


def _fields(data, span: tuple[int, int]) -> Iterator[tuple[int, int | tuple[int, int] | None]]:
    """``(field number, value)`` of the protobuf message at ``span`` of ``data``: an int for a varint, the
    ``(start, end)`` of a length-delimited field's bytes (not read), None for a fixed-size one."""
    position, end = span
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, position = _varint(data, position)
        elif wire == _LENGTH:
            length, position = _varint(data, position)
            value, position = (position, position + length), position + length
        elif wire in (_FIXED64, _FIXED32):
            value, position = None, position + (8 if wire == _FIXED64 else 4)
        else:
            raise ValueError(f"not an ONNX model: protobuf wire type {wire} at byte {position}")
        if position > end:
            raise ValueError("not an ONNX model: a protobuf field runs past its message")
        yield number, value


def _varint(data, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7
