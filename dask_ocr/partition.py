"""Partition functions: a pandas frame in, the same rows with OCR columns added out.

These are the only functions that build output columns, and :func:`output_meta` derives the
Dask ``meta`` from the very same column specs, so the two cannot drift apart.  Each takes a small
frozen config (never a model object) and fetches its model through :func:`dask_ocr.cluster.models.get_model`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from . import defaults
from .cluster import models as model_cache
from .decode import decode_image, is_missing
from .draw import draw_regions_png
from .errors import RegionError, RowError
from .formats import page_positions, render
from .geometry import (
    Region,
    affine_region,
    clip_region,
    crop_quad,
    crop_region,
    join_crops,
    parse_region,
    region_record,
)
from .layout import build_page, group_lines, plan_groups, split_reading
from .models.base import DecodingOptions, Recognition
from .orientation import ORIENTATION_COL, SKEW_COL, PageAngle, detect_upright, map_page, upright_frame
from .schema import (
    BINARY_DTYPE,
    ERROR_COL,
    FLOAT_DTYPE,
    INT_DTYPE,
    POSITIONS_DTYPE,
    REGIONS_DTYPE,
    STRING_DTYPE,
    TEXT_LAYER_COL,
    TEXT_SOURCE_COL,
    empty_column,
    make_column,
)

__all__ = ["DetectConfig", "RecognizeConfig", "DrawConfig", "detect_partition", "recognize_partition",
           "draw_partition", "output_meta"]


@dataclass(frozen=True)
class DetectConfig:
    """Arguments of :func:`detect_partition`."""

    image_col: str
    output_col: str
    model: model_cache.ModelKey
    max_pixels: int = defaults.MAX_PIXELS
    text_layer: bool = False
    orientation: bool = False
    deskew: bool = False
    reader: model_cache.ModelKey | None = None  # the recognizer that tells upright from upside-down lines

    def columns(self) -> dict[str, pd.ArrowDtype]:
        columns = {self.output_col: REGIONS_DTYPE}
        if self.orientation:
            columns[ORIENTATION_COL] = INT_DTYPE
        if self.deskew:
            columns[SKEW_COL] = FLOAT_DTYPE
        return {**columns, ERROR_COL: STRING_DTYPE}


@dataclass(frozen=True)
class RecognizeConfig:
    """Arguments of :func:`recognize_partition` (see :meth:`dask_ocr.accessor.OcrAccessor.recognize`)."""

    image_col: str
    regions_col: str | None
    output_col: str
    confidence_col: str
    model: model_cache.ModelKey
    output_format: str = defaults.OUTPUT_FORMAT
    positions_col: str | None = None
    line_tolerance: float = defaults.LINE_TOLERANCE
    border_width: float = defaults.BORDER_WIDTH
    group_images: bool = False
    max_image_ratio: float = defaults.MAX_IMAGE_RATIO
    batch_size: int = defaults.BATCH_SIZE
    min_confidence: float = defaults.MIN_CONFIDENCE
    max_pixels: int = defaults.MAX_PIXELS
    decoding: DecodingOptions = DecodingOptions()
    text_layer: bool = False
    dropped_col: str = "text_dropped"  # regions left out of the text: nothing read, or below min_confidence
    orientation_col: str | None = None  # page geometry found by ``detect``: pages are read upright
    skew_col: str | None = None

    def columns(self) -> dict[str, pd.ArrowDtype]:
        columns = {self.output_col: STRING_DTYPE, self.confidence_col: FLOAT_DTYPE, self.dropped_col: INT_DTYPE}
        if self.positions_col:
            columns[self.positions_col] = POSITIONS_DTYPE
        if self.text_layer:
            columns[TEXT_SOURCE_COL] = STRING_DTYPE
        return {**columns, ERROR_COL: STRING_DTYPE}


@dataclass(frozen=True)
class DrawConfig:
    """Arguments of :func:`draw_partition`."""

    image_col: str
    regions_col: str
    output_col: str
    color: str = "red"
    line_width: int = 2
    filled: bool = False
    rotated: bool = True
    label: str | None = None
    font_size: int = 12
    max_pixels: int = defaults.MAX_PIXELS

    def columns(self) -> dict[str, pd.ArrowDtype]:
        return {self.output_col: BINARY_DTYPE, ERROR_COL: STRING_DTYPE}


def output_meta(meta: pd.DataFrame, config) -> pd.DataFrame:
    """The empty frame a partition function returns for ``meta``: input columns plus outputs."""
    return meta.assign(**{name: empty_column(dtype, meta.index) for name, dtype in config.columns().items()})


def _previous_errors(df: pd.DataFrame) -> list:
    """Messages of rows that failed earlier; only non-empty strings count (a user's own column of,
    say, zeros under the same name marks nothing)."""
    if ERROR_COL not in df.columns:
        return [None] * len(df)
    return [e if isinstance(e, str) and e else None for e in df[ERROR_COL].tolist()]


def _with_outputs(df: pd.DataFrame, config, values: dict[str, list]) -> pd.DataFrame:
    return df.assign(**{name: make_column(values[name], dtype, df.index) for name, dtype in config.columns().items()})


def _for_each_row(df: pd.DataFrame, errors: list, work: Callable[[int, Any], Any]) -> list:
    """Apply ``work(position, image_cell)`` to rows without an error.

    Whatever goes wrong with one row (its bytes, its regions, cropping, the model on it) becomes
    that row's message; the other rows go on.
    """
    results: list = [None] * len(df)
    for position, cell in enumerate(df.iloc[:, 0].tolist()):
        if errors[position] is not None:
            continue
        try:
            results[position] = work(position, cell)
        except RowError as exc:
            errors[position] = str(exc)
        except Exception as exc:
            errors[position] = f"{type(exc).__name__}: {exc}"
    return results


def _text_layers(df: pd.DataFrame, enabled: bool) -> list:
    """Per row, the words of its PDF text layer (``None``: the page is to be OCR'd)."""
    if not enabled or TEXT_LAYER_COL not in df.columns:
        return [None] * len(df)
    return [None if is_missing(cell) else list(cell)
            for cell in df[TEXT_LAYER_COL].tolist()]


def _layer_regions(words: list) -> list[Region]:
    """A text layer's words as regions (their boxes, score 1)."""
    boxes = [(w["x"], w["y"], w["x"] + w["width"], w["y"] + w["height"]) for w in words]
    return [Region(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64), 1.0)
            for x0, y0, x1, y1 in boxes]


def _page_size(df: pd.DataFrame, position: int) -> tuple[int, int]:
    """A document page's ``(width, height)`` from its columns (text-layer rows have no image)."""
    return int(df["width"].iloc[position]), int(df["height"].iloc[position])


def detect_partition(df: pd.DataFrame, config: DetectConfig) -> pd.DataFrame:
    """Find text regions in every image of ``df[config.image_col]``; text-layer pages give their word boxes."""
    errors = _previous_errors(df)
    if len(df) == 0:
        return output_meta(df, config)
    layers = _text_layers(df, config.text_layer)
    detector = model_cache.get_model(config.model) if any(layer is None for layer in layers) else None
    reader = model_cache.get_model(config.reader) if detector is not None and config.orientation else None
    angles: list[PageAngle | None] = [None] * len(df)

    def detect_row(position, cell):
        if layers[position] is not None:
            width, height = _page_size(df, position)
            return [region_record(r, width, height) for r in _layer_regions(layers[position])]
        image = decode_image(cell, config.max_pixels)
        try:
            if config.orientation or config.deskew:
                regions, angles[position] = detect_upright(image, detector, reader, config.orientation, config.deskew)
            else:
                regions = detector.detect([image])[0]
        except Exception as exc:
            raise RowError(f"detection failed: {type(exc).__name__}: {exc}") from None
        height, width = image.shape[:2]
        return [region_record(r, width, height) for r in regions]

    regions = _for_each_row(df[[config.image_col]], errors, detect_row)
    values = {config.output_col: regions, ERROR_COL: errors,
              ORIENTATION_COL: [a and a.orientation for a in angles], SKEW_COL: [a and a.skew for a in angles]}
    return _with_outputs(df, config, values)


def _row_regions(cell, width: int, height: int) -> tuple[list[int], list[Region], str | None]:
    """Parse and clip a regions cell: the indices and regions kept, and a note on those dropped."""
    if is_missing(cell):
        raise RegionError("regions cell is null (run detect first, or pass regions_col=None)")
    if isinstance(cell, (str, bytes, dict)):
        raise RegionError(f"regions cell must be a list of regions, got {type(cell).__name__}")
    try:
        parsed = [parse_region(value) for value in cell]
    except TypeError:
        raise RegionError(f"regions cell must be a list of regions, got {type(cell).__name__}") from None
    except (ValueError, KeyError) as exc:
        raise RegionError(f"malformed region in regions cell: {type(exc).__name__}: {exc}") from None
    clipped = [clip_region(region, width, height) for region in parsed]
    kept = [number for number, region in enumerate(clipped) if region is not None]
    dropped = [number for number, region in enumerate(clipped) if region is None]
    note = None
    if dropped:
        note = (f"skipped {len(dropped)} of {len(parsed)} regions (indices {dropped[:10]}) lying outside "
                f"the {width}x{height} image or smaller than 1 pixel")
    return kept, [clipped[number] for number in kept], note


@dataclass
class _RowCrops:
    """What one row sends to the recognizer: its regions, and the crops read (one per group)."""

    size: tuple[int, int]
    ids: list[int]
    regions: list[Region]
    quads: list[np.ndarray]
    groups: list[list[int]]
    crops: list[np.ndarray]
    segments: list[list[tuple[float, float]]]
    known: list[Recognition] | None = None  # text-layer pages: the readings are the layer's words
    frame: tuple[np.ndarray, tuple[int, int]] | None = None  # a turned page: its map back, the original size


def _layer_row(words: list, size: tuple[int, int]) -> _RowCrops:
    """A text-layer page as if its words had been read: nothing for the recognizer to do."""
    regions = _layer_regions(words)
    return _RowCrops(size, list(range(len(regions))), regions, [r.polygon for r in regions],
                     [[i] for i in range(len(regions))], [], [[(0.0, 1.0)]] * len(regions),
                     [Recognition(str(w["text"]), 1.0) for w in words])


def _crop_row(image: np.ndarray, ids: list[int], regions: list[Region], config: RecognizeConfig,
              line_regions: list[Region] | None = None) -> _RowCrops:
    """Crop every region; with ``group_images``, join the crops of neighbouring regions on a line.

    ``line_regions``: the same regions in the frame where lines are grouped (default: ``regions``).
    """
    crops = [crop_region(image, r, config.border_width) for r in regions]
    groups = [[i] for i in range(len(regions))]
    line_regions = regions if line_regions is None else line_regions
    if config.group_images and len(regions) > 1:
        lines = group_lines([r.box for r in line_regions], config.line_tolerance, [r.height for r in line_regions])
        groups = plan_groups(lines, [c.shape[1] / c.shape[0] for c in crops], config.max_image_ratio,
                             defaults.JOIN_GAP)
    joined = [join_crops([crops[i] for i in g], defaults.JOIN_GAP) if len(g) > 1 else (crops[g[0]], [(0.0, 1.0)])
              for g in groups]
    height, width = image.shape[:2]
    return _RowCrops((width, height), ids, line_regions, [crop_quad(r, config.border_width) for r in regions], groups,
                     [crop for crop, _ in joined], [segments for _, segments in joined])


def _row_angle(orientation, skew) -> PageAngle | None:
    """A row's page geometry from its ``orientation`` and ``skew`` cells (null = 0); ``None`` if upright.

    A skew under ``defaults.DESKEW_MIN_ANGLE`` is read as none: the page is read as it lies.
    """
    orientation = 0 if is_missing(orientation) else orientation
    skew = 0.0 if is_missing(skew) else float(skew)
    if float(orientation) % 90 or not np.isfinite(skew):
        raise RowError(f"orientation must be a multiple of 90 degrees and skew finite, got {orientation!r}, {skew!r}")
    angle = PageAngle(int(orientation) % 360, skew if abs(skew) >= defaults.DESKEW_MIN_ANGLE else 0.0)
    return angle if angle.total else None


def _crop_turned(image: np.ndarray, ids: list[int], regions: list[Region], angle: PageAngle,
                 config: RecognizeConfig) -> _RowCrops:
    """Crop a turned page's regions from the page turned upright, and group its lines with the skew undone."""
    turned, frame = upright_frame(image, angle)
    in_turned = [affine_region(r, frame.to_turned) for r in regions]
    row = _crop_row(turned, ids, in_turned, config, [affine_region(r, frame.to_upright) for r in in_turned])
    height, width = image.shape[:2]
    row.frame = (frame.back, (width, height))
    return row


def _geometry_cells(df: pd.DataFrame, config: RecognizeConfig) -> list[tuple]:
    """Per row, its ``(orientation, skew)`` cells (``None`` where the frame has no such column)."""
    def cells(column):
        return df[column].tolist() if column else [None] * len(df)

    return list(zip(cells(config.orientation_col), cells(config.skew_col), strict=True))


def recognize_partition(df: pd.DataFrame, config: RecognizeConfig) -> pd.DataFrame:
    """Read the text of every row, batching the crops of all rows through one recognizer."""
    errors = _previous_errors(df)
    if len(df) == 0:
        return output_meta(df, config)
    layers = _text_layers(df, config.text_layer)
    recognizer = model_cache.get_model(config.model) if any(layer is None for layer in layers) else None
    columns = [config.image_col] + ([config.regions_col] if config.regions_col else [])
    region_cells = df[config.regions_col].tolist() if config.regions_col else None
    geometry = _geometry_cells(df, config)
    notes: list = [None] * len(df)

    def crop_row(position, cell):
        if layers[position] is not None:
            return _layer_row(layers[position], _page_size(df, position))
        image = decode_image(cell, config.max_pixels)
        height, width = image.shape[:2]
        if region_cells is None:
            ids, regions = [0], [Region(np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float))]
        else:
            ids, regions, notes[position] = _row_regions(region_cells[position], width, height)
        angle = _row_angle(*geometry[position])
        if angle is not None:
            return _crop_turned(image, ids, regions, angle, config)
        return _crop_row(image, ids, regions, config)

    cropped = _for_each_row(df[columns], errors, crop_row)
    readings = _recognize_rows(recognizer, [row and row.crops for row in cropped], errors, config)
    outputs: dict[str, list] = {name: [None] * len(df) for name in config.columns()}
    for position, row in enumerate(cropped):
        if errors[position] is None and row is not None:
            try:
                text, confidence, positions, dropped = _page_outputs(
                    row, readings[position] if row.known is None else row.known, config)
            except Exception as exc:  # layout or rendering of this row's readings
                errors[position] = f"building the page failed: {type(exc).__name__}: {exc}"
                continue
            outputs[config.output_col][position] = text
            outputs[config.confidence_col][position] = confidence
            outputs[config.dropped_col][position] = dropped
            if config.positions_col:
                outputs[config.positions_col][position] = positions
            if config.text_layer:
                outputs[TEXT_SOURCE_COL][position] = "ocr" if row.known is None else "text_layer"
        errors[position] = errors[position] or notes[position]
    outputs[ERROR_COL] = errors
    return _with_outputs(df, config, outputs)


def _recognize_rows(recognizer, crops: list, errors: list, config: RecognizeConfig) -> list:
    """Recognise all crops of all rows in one call; if that fails, row by row to isolate the culprit."""
    rows = [i for i, row in enumerate(crops) if row is not None and errors[i] is None]
    readings: list = [None] * len(crops)
    flat = [crop for i in rows for crop in crops[i]]
    if not flat:  # nothing to read (no regions, or text-layer pages only)
        return [[] if row is not None else None for row in crops]
    try:
        results = iter(recognizer.recognize(flat, config.batch_size, config.decoding))
        for i in rows:
            readings[i] = [next(results) for _ in crops[i]]
    except Exception:
        for i in rows:
            try:
                readings[i] = recognizer.recognize(crops[i], config.batch_size, config.decoding)
            except Exception as exc:
                errors[i] = f"recognition failed: {type(exc).__name__}: {exc}"
    return readings


def _page_outputs(row: _RowCrops, group_readings: list[Recognition],
                  config: RecognizeConfig) -> tuple[str, float | None, list[dict] | None, int]:
    """The rendered page, the character-weighted mean confidence of the text kept, the positions, and how
    many regions were left out (nothing read — e.g. other scripts with ``charset="latin"`` — or too unsure).

    A turned page is laid out upright; its text is rendered from there, its boxes (positions, hOCR,
    ALTO) from the page mapped back to the original image.
    """
    readings: list[Recognition] = [None] * len(row.regions)
    for group, segments, reading in zip(row.groups, row.segments, group_readings, strict=True):
        for index, part in zip(group, split_reading(reading, segments) if len(group) > 1 else [reading], strict=True):
            readings[index] = part
    kept = [i for i, r in enumerate(readings) if r.text.strip() and r.confidence >= config.min_confidence]
    page = build_page([row.regions[i] for i in kept], [row.quads[i] for i in kept], [readings[i] for i in kept],
                      [row.ids[i] for i in kept], config.line_tolerance, *row.size,
                      with_chars=bool(config.positions_col) or config.output_format == "alto")
    upright = page
    if row.frame is not None:
        page = map_page(page, row.frame[0], *row.frame[1])
    confidence = None
    if kept:
        weights = np.array([len(readings[i].text) for i in kept], dtype=np.float64)
        confidence = float(np.average([readings[i].confidence for i in kept], weights=weights))
    text_page = upright if config.output_format in ("text", "formatted_text") else page
    positions = page_positions(page) if config.positions_col else None
    return render(text_page, config.output_format), confidence, positions, len(row.regions) - len(kept)


def draw_partition(df: pd.DataFrame, config: DrawConfig) -> pd.DataFrame:
    """Render each image with its regions outlined, as PNG bytes."""
    errors = _previous_errors(df)
    region_cells = df[config.regions_col].tolist()

    def draw_row(position, cell):
        image = decode_image(cell, config.max_pixels)
        height, width = image.shape[:2]
        kept, regions, _ = _row_regions(region_cells[position], width, height)
        labels = None
        if config.label == "score":
            labels = [f"{region.score:.2f}" for region in regions]
        elif config.label == "text":
            cell = region_cells[position]
            labels = [str(cell[i].get("text") or "") if isinstance(cell[i], dict) else "" for i in kept]
        return draw_regions_png(image, regions, config.color, config.line_width, config.filled, config.rotated,
                                labels, config.font_size)

    images = _for_each_row(df[[config.image_col]], errors, draw_row)
    return _with_outputs(df, config, {config.output_col: images, ERROR_COL: errors})
