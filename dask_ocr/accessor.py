"""The ``ocr`` accessor on pandas and Dask DataFrames.

Each public function validates its arguments eagerly, builds a frozen config, and then either calls
the partition function directly (pandas) or makes exactly one ``map_partitions`` call with an
explicit ``meta`` (Dask): nothing is computed and no model is run to build the graph.
"""

from __future__ import annotations

import functools
import os

import pandas as pd
import pyarrow as pa
from PIL import ImageColor

from . import defaults
from . import partition as part
from .cluster.models import ModelKey
from .formats import OUTPUT_FORMATS
from .models.base import DecodingOptions
from .models.registry import resolve_model
from .orientation import ORIENTATION_COL, SKEW_COL
from .schema import ERROR_COL, TEXT_LAYER_COL

__all__ = ["detect", "recognize", "draw_regions", "OcrAccessor"]


def _is_dask(df) -> bool:
    return not isinstance(df, pd.DataFrame)


def _require_columns(df, image_col: str, regions_col: str | None = None):
    """Say what to do when a column is missing, not just that it is."""
    if image_col not in df.columns:
        hint = ("; the frame has only paths: read the files with dask_ocr.read_images(paths), or pass "
                "image_col= naming the column of image bytes") if "path" in df.columns else \
            "; pass image_col= naming the column of image bytes"
        raise KeyError(f"image column {image_col!r} not found in {list(df.columns)}{hint}")
    if regions_col is not None and regions_col not in df.columns:
        raise KeyError(f"regions column {regions_col!r} not found in {list(df.columns)}: call .ocr.detect() first, "
                       "pass regions_col= naming your regions, or regions_col=None to read each whole image as one "
                       "line of text")
    _check_image_dtype(df, image_col)
    _check_regions_dtype(df, regions_col)


def _is_text_dtype(dtype) -> bool:
    if isinstance(dtype, pd.ArrowDtype):
        return pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    return isinstance(dtype, pd.StringDtype)


def _check_image_dtype(df, image_col: str) -> None:
    """Image bytes must stay bytes: Dask turns object columns into (broken) strings."""
    if _is_text_dtype(df[image_col].dtype):
        raise TypeError(
            f"image column {image_col!r} holds strings, not bytes. Keep image bytes in an Arrow binary column: "
            "pd.Series(data, dtype=pd.ArrowDtype(pa.binary())) before dd.from_pandas, or use dask_ocr.read_images")


def _check_regions_dtype(df, regions_col: str | None) -> None:
    """Catch a regions column that Dask turned into strings (its ``dataframe.convert-string``)."""
    if regions_col is not None and _is_text_dtype(df[regions_col].dtype):
        raise TypeError(
            f"regions column {regions_col!r} holds strings, not lists of regions. Dask converts object "
            "columns of a pandas frame to strings; build the column with dtype=dask_ocr.REGIONS_DTYPE, "
            "e.g. pd.Series(cells, dtype=dask_ocr.REGIONS_DTYPE), before dd.from_pandas")


def _model_key(df, model, task: str, task_parallelism: int | None, use_gpu: bool | None,
               runtime: str = defaults.RUNTIME, precision: str = defaults.PRECISION) -> ModelKey:
    if task_parallelism is not None and task_parallelism < 1:
        raise ValueError(f"task_parallelism must be >= 1, got {task_parallelism}")
    # In Dask every worker thread runs its own partition, so one model thread each avoids
    # oversubscribing cores; a plain pandas call has the whole machine to itself.
    default_threads = 1 if _is_dask(df) else (os.cpu_count() or 1)
    spec = _with_runtime(resolve_model(model, task), task, runtime, precision)
    return ModelKey(spec, task, task_parallelism or default_threads, use_gpu)


def _with_runtime(spec, task: str, runtime: str, precision: str):
    """``spec`` running on ``runtime`` in ``precision`` (ONNX models); the spec as it is for ``"auto"``."""
    from .models.onnx import PRECISIONS, RUNTIMES

    if runtime not in RUNTIMES or precision not in PRECISIONS:
        raise ValueError(f"runtime must be one of {RUNTIMES} and precision one of {PRECISIONS}, "
                         f"got {runtime!r} and {precision!r}")
    if (runtime, precision) == ("auto", "auto"):
        return spec
    if spec.family != "ppocr":
        raise ValueError(f"runtime and precision choose how ONNX models run; {spec.name!r} is not one")
    options = {"runtime": runtime, "precision": precision}
    return spec.with_detector_options(**options) if task == "detect" else spec.with_recognizer_options(**options)


def _decoding_options(spec, use_caching: bool, num_beams: int, max_new_tokens: int) -> DecodingOptions:
    """TrOCR decoding settings, passed with each call; other engines have none to take."""
    decoding = DecodingOptions(max_new_tokens=int(max_new_tokens), num_beams=int(num_beams),
                               use_caching=bool(use_caching))
    if spec.family != "trocr" and not decoding.is_default():
        raise ValueError(f"use_caching, num_beams and max_new_tokens apply to TrOCR models, not {spec.name!r}")
    return decoding


def _uses_text_layer(df) -> bool:
    """Document pages from :func:`dask_ocr.read_documents`: their text-layer rows skip the models."""
    if TEXT_LAYER_COL not in df.columns:
        return False
    missing = [name for name in ("width", "height") if name not in df.columns]
    if missing:
        raise KeyError(f"a {TEXT_LAYER_COL!r} column needs the page size columns {missing} (read_documents "
                       f"gives them); drop {TEXT_LAYER_COL!r} to OCR every page")
    return True


def _apply(df, function, config, *columns):
    if not _is_dask(df):
        return function(df, config)
    layer = [TEXT_LAYER_COL, "width", "height"] if getattr(config, "text_layer", False) else []
    needed = [c for c in dict.fromkeys([*columns, *layer, ERROR_COL]) if c in df.columns]
    return df.map_partitions(function, config, meta=part.output_meta(df._meta, config),
                             enforce_metadata=False, required_columns=needed)


def _reader_key(df, key: ModelKey, orientation: bool) -> ModelKey | None:
    """The recognizer that tells upright lines from upside-down ones: the detector's own engine, else the default."""
    if not orientation:
        return None
    model = key.spec if key.spec.supports("recognize") else defaults.MODEL
    return _model_key(df, model, "recognize", key.threads, key.use_gpu)


def detect(df, image_col: str = "content", output_col: str = "regions", model: str = defaults.MODEL,
           task_parallelism: int | None = None, use_gpu: bool | None = None,
           max_pixels: int = defaults.MAX_PIXELS, orientation: bool | None = defaults.ORIENTATION,
           deskew: bool | None = defaults.DESKEW, runtime: str = defaults.RUNTIME,
           precision: str = defaults.PRECISION):
    """Find text regions in each image.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
        A frame with a column of encoded image bytes.
    image_col : str
        The column holding the image bytes.
    output_col : str
        The new column: per row, a list of ``{box: [x0, y0, x1, y1], polygon: [[x, y], ...],
        score}`` structs in original-image pixels.
    model : str
        A detector from :func:`dask_ocr.available_models` (default ``"ppocr"``).
    task_parallelism : int, optional
        Model threads per task; default 1 per Dask worker thread, all cores for pandas.
    use_gpu : bool, optional
        ``None`` uses a GPU when the engine sees one.
    max_pixels : int
        Larger images are refused (decompression-bomb guard).
    runtime, precision : str
        Who runs an ONNX model — ``"auto"`` (default), ``"onnxruntime"`` or ``"openvino"`` — and in what
        arithmetic — ``"auto"``, ``"f32"`` or ``"bf16"`` (OpenVINO on a CPU with native bfloat16); ``"auto"``
        is what was measured fastest at the fp32 model's accuracy on this kind of machine (see
        :func:`dask_ocr.models.onnx.resolve_runtime`).
    orientation : bool, optional
        Find pages turned by 90, 180 or 270 degrees and detect on them turned upright; the
        clockwise turn found goes to an ``orientation`` column (int degrees).  The axis of the
        text lines comes from the regions found; which way they read, from the recognizer of
        ``model`` reading a few lines both ways.  ``None`` (default): on for document pages (a
        frame from :func:`read_documents`, which has a ``text_layer`` column), off for other images.
    deskew : bool, optional
        Find how far the text lines are turned from the nearest axis (up to 20 degrees) and
        detect again on the straightened page if it is by 4 degrees or more; the clockwise skew
        goes to a ``skew`` column (float degrees), and :func:`recognize` groups the lines of pages
        skewed by 2 degrees or more with the skew undone.  ``None`` (default): as ``orientation``.

    Returns
    -------
    Same type as ``df``
        All input rows in order, plus ``output_col``, ``orientation`` / ``skew`` (with those
        options; null where not estimated: text-layer pages, failed rows) and ``ocr_error``
        (null unless the row failed).  Regions are in the pixels of the original image, however
        the page was turned; :func:`recognize` reads the geometry columns and reads pages upright.
    """
    _require_columns(df, image_col)
    pages = _uses_text_layer(df)  # document pages, from read_documents
    orientation = pages if orientation is None else bool(orientation)
    deskew = pages if deskew is None else bool(deskew)
    key = _model_key(df, model, "detect", task_parallelism, use_gpu, runtime, precision)
    config = part.DetectConfig(image_col=image_col, output_col=output_col, max_pixels=int(max_pixels), model=key,
                               text_layer=_uses_text_layer(df), orientation=bool(orientation), deskew=bool(deskew),
                               reader=_reader_key(df, key, bool(orientation)))
    return _apply(df, part.detect_partition, config, image_col)


def recognize(df, image_col: str = "content", regions_col: str | None = "regions", output_col: str = "text",
              model: str = defaults.MODEL, output_format: str = defaults.OUTPUT_FORMAT,
              positions_col: str | None = None, line_tolerance: float = defaults.LINE_TOLERANCE,
              border_width: float = defaults.BORDER_WIDTH, group_images: bool = False,
              max_image_ratio: float = defaults.MAX_IMAGE_RATIO, batch_size: int = defaults.BATCH_SIZE,
              confidence_col: str | None = None, min_confidence: float | None = None,
              task_parallelism: int | None = None, use_gpu: bool | None = None,
              use_caching: bool = defaults.USE_CACHING, num_beams: int = defaults.NUM_BEAMS,
              max_new_tokens: int = defaults.MAX_NEW_TOKENS, max_pixels: int = defaults.MAX_PIXELS,
              runtime: str = defaults.RUNTIME, precision: str = defaults.PRECISION):
    """Read the text of each image, region by region, in reading order.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
    image_col : str
        The column holding the image bytes.
    regions_col : str or None
        Regions per row, from :func:`detect` or any source: a list of ``{box}`` and/or
        ``{polygon}`` mappings (or bare ``[x0, y0, x1, y1]`` boxes).  ``None`` reads each whole
        image as one text chunk (an image of a line or a word).
    output_col : str
        The new text column.
    model : str
        ``"ppocr"`` (default), a TrOCR alias (``"ocr_base_printed"``, ``"ocr_small_handwritten_v2"``,
        ...), a Hugging Face TrOCR id (``"microsoft/trocr-base-printed"``) or a local directory
        holding a ``VisionEncoderDecoderModel`` checkpoint.
    output_format : {"text", "formatted_text", "hocr", "alto", "positions"}
        What ``output_col`` holds:

        - ``"text"``: lines in reading order, words separated by a space, lines by a newline;
        - ``"formatted_text"``: plain text that keeps the layout — words at the column of their
          left edge, blank lines for large vertical gaps;
        - ``"hocr"``: an hOCR (XHTML) document per row (``ocr_page``, ``ocr_line``, ``ocrx_word``
          with ``bbox`` and ``x_wconf``);
        - ``"alto"``: an ALTO v4 XML document per row, with word confidences (``WC``, ``CC``);
        - ``"positions"``: plain text in ``output_col`` and the page matrix in ``positions_col``.
    positions_col : str, optional
        A column for the page matrix: per word its ``text``, ``x``, ``y``, ``width``, ``height``
        (image pixels), ``confidence``, ``line`` and ``region`` indices, and ``chars`` (the same
        per character, where the engine gives positions).  Default ``"positions"`` when
        ``output_format="positions"``, else no such column.
    line_tolerance : float
        Regions whose vertical centres differ by at most this many pixels share a line;
        ``0`` estimates it per image from the region heights.
    border_width : float
        Pixels added around each region before cropping.
    group_images : bool
        Read the regions of one line (e.g. word boxes) as joined crops, each at most
        ``max_image_ratio`` wide, and share the text back out to the regions by character
        position (by token count for engines without positions).  Short words get context, but
        characters can cross word boundaries: with ``ppocr`` on FUNSD word boxes it is neither
        more accurate nor faster (``benchmarks/grouping.py``), so it is off by default.
    max_image_ratio : float
        The widest joined crop, as width / height (``group_images`` only).
    batch_size : int
        Crops per model call.  Crops of all images of a partition are pooled and batched by width.
    confidence_col : str, optional
        Column for the character-weighted mean confidence; default ``f"{output_col}_confidence"``.
    min_confidence : float, optional
        Region texts with a lower recognition confidence are left out of the text (they are mostly
        stains and graphics found by a detector).  Default: 0 with ``regions_col=None``, where each
        image is known to be text; else the model's own (0.5 for ``ppocr`` and TrOCR; 0 for
        ``tesseract``, whose word confidences are not probabilities).
    task_parallelism, use_gpu, max_pixels, runtime, precision
        As for :func:`detect`.  Pages with ``orientation`` / ``skew`` columns (from
        ``detect(orientation=True, deskew=True)``) are cropped turned upright and their lines grouped
        with the skew undone; the text reads in the upright page's order, while positions, hOCR and
        ALTO boxes are in the pixels of the original image.
    use_caching, num_beams, max_new_tokens
        TrOCR decoding: the decoder's key/value cache, beam width (1 = greedy, with finished lines
        leaving the batch), and the most tokens per line (a full text line by default).  They are
        settings of the call: every setting shares the one loaded model.

    Returns
    -------
    Same type as ``df``
        All input rows in order, plus ``output_col``, ``confidence_col``, ``f"{output_col}_dropped"``
        (regions left out of the text: nothing read — text in other scripts with ``charset="latin"``,
        stains — or below ``min_confidence``), ``positions_col`` (if any) and ``ocr_error``.
        Rows that failed earlier (non-null ``ocr_error``) are passed through with null outputs.
    """
    _require_columns(df, image_col, regions_col)
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}, got {output_format!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if line_tolerance < 0 or border_width < 0:
        raise ValueError("line_tolerance and border_width must be >= 0")
    if max_image_ratio <= 0:
        raise ValueError(f"max_image_ratio must be > 0, got {max_image_ratio}")
    if positions_col is None and output_format == "positions":
        positions_col = "positions"
    confidence_col = confidence_col or f"{output_col}_confidence"
    outputs = [output_col, confidence_col, f"{output_col}_dropped"] + ([positions_col] if positions_col else [])
    if len(set(outputs)) < len(outputs):
        raise ValueError(f"output_col, confidence_col and positions_col must differ, got {outputs}")
    key = _model_key(df, model, "recognize", task_parallelism, use_gpu, runtime, precision)
    config = part.RecognizeConfig(
        image_col=image_col, regions_col=regions_col, output_col=output_col, confidence_col=confidence_col,
        dropped_col=f"{output_col}_dropped",
        model=key, output_format=output_format, positions_col=positions_col, line_tolerance=float(line_tolerance),
        border_width=float(border_width), group_images=bool(group_images), max_image_ratio=float(max_image_ratio),
        batch_size=int(batch_size), min_confidence=_min_confidence(min_confidence, key.spec, regions_col),
        max_pixels=int(max_pixels), decoding=_decoding_options(key.spec, use_caching, num_beams, max_new_tokens),
        text_layer=_uses_text_layer(df), orientation_col=ORIENTATION_COL if ORIENTATION_COL in df.columns else None,
        skew_col=SKEW_COL if SKEW_COL in df.columns else None)
    return _apply(df, part.recognize_partition, config, image_col, regions_col, config.orientation_col,
                  config.skew_col)


def _min_confidence(value: float | None, spec, regions_col: str | None) -> float:
    if value is not None:
        return float(value)
    return 0.0 if regions_col is None else spec.min_confidence


def draw_regions(df, image_col: str = "content", regions_col: str = "regions",
                 output_col: str = "image_with_regions", color: str = "red", line_width: int = 2,
                 filled: bool = False, rotated: bool = True, label: str | None = None, font_size: int = 12,
                 max_pixels: int = defaults.MAX_PIXELS):
    """Draw each row's regions over its image; PNG bytes in ``output_col``.

    Parameters
    ----------
    df : pandas.DataFrame or dask.dataframe.DataFrame
    image_col : str
        Image bytes.
    regions_col : str
        Regions as for :func:`recognize` (e.g. from :func:`detect`), or a ``positions`` column of
        :func:`recognize` to draw its words.
    output_col : str
        The new column of PNG bytes.
    color : str
        Any Pillow colour (name, ``#rrggbb``).
    line_width : int
        Outline width in pixels.
    filled : bool
        Also fill regions with a translucent ``color``.
    rotated : bool
        Draw each region's polygon (rotated quads as they are); ``False`` draws axis-aligned boxes.
    label : {None, "score", "text"}
        Write each region's detection score (``confidence`` for words), or its ``text`` (regions
        from a ``positions`` column, or any regions carrying a ``text`` field), above it.
    font_size : int
        Label size in pixels.
    """
    _require_columns(df, image_col, regions_col)
    try:
        ImageColor.getrgb(color)
    except ValueError:
        raise ValueError(f"color must be a Pillow colour name or #rrggbb, got {color!r}") from None
    if label not in (None, "score", "text"):
        raise ValueError(f"label must be None, 'score' or 'text', got {label!r}")
    if line_width < 0 or font_size < 1:
        raise ValueError("line_width must be >= 0 and font_size >= 1")
    config = part.DrawConfig(image_col=image_col, regions_col=regions_col, output_col=output_col, color=color,
                             line_width=int(line_width), filled=bool(filled), rotated=bool(rotated), label=label,
                             font_size=int(font_size), max_pixels=int(max_pixels))
    return _apply(df, part.draw_partition, config, image_col, regions_col)


def _delegate(function):
    """A method that calls ``function(self._df, *args, **kwargs)`` and shares its name and docstring."""

    @functools.wraps(function)
    def method(self, *args, **kwargs):
        return function(self._df, *args, **kwargs)

    return method


class OcrAccessor:
    """``df.ocr``: OCR methods on a pandas or Dask DataFrame (stateless; built on every access)."""

    def __init__(self, df):
        self._df = df

    detect = _delegate(detect)
    recognize = _delegate(recognize)
    draw_regions = _delegate(draw_regions)


def register_accessors() -> None:
    """Register ``.ocr`` on pandas and Dask DataFrames (done on ``import dask_ocr``).

    Registering it again over our own (a reload of this module) is silent; over another package's ``ocr``
    accessor, pandas' and Dask's warning about the clash is left to show.
    """
    import warnings

    import dask.dataframe as dd

    for frame, register in ((pd.DataFrame, pd.api.extensions.register_dataframe_accessor),
                            (dd.DataFrame, dd.extensions.register_dataframe_accessor)):
        with warnings.catch_warnings():
            if _is_ours(getattr(frame, "ocr", None)):
                warnings.filterwarnings("ignore", "registration of accessor", UserWarning)
            register("ocr")(OcrAccessor)


def _is_ours(accessor) -> bool:
    """Whether ``accessor`` is :class:`OcrAccessor`, from this module or an earlier load of it."""
    return (getattr(accessor, "__module__", None), getattr(accessor, "__qualname__", None)) == (
        OcrAccessor.__module__, OcrAccessor.__qualname__)
