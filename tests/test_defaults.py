"""dask_ocr.defaults: one place for each default, read alike by the accessor, the partition configs,
the backends' decoding options and the command line."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

import dask_ocr
from dask_ocr import defaults
from dask_ocr.cli import build_parser
from dask_ocr.models.base import DecodingOptions
from dask_ocr.partition import DetectConfig, DrawConfig, RecognizeConfig

#: recognize() parameter -> the defaults constant it must equal.
RECOGNIZE_DEFAULTS = {
    "model": "MODEL", "output_format": "OUTPUT_FORMAT", "line_tolerance": "LINE_TOLERANCE",
    "border_width": "BORDER_WIDTH", "max_image_ratio": "MAX_IMAGE_RATIO", "batch_size": "BATCH_SIZE",
    "use_caching": "USE_CACHING", "num_beams": "NUM_BEAMS", "max_new_tokens": "MAX_NEW_TOKENS",
    "max_pixels": "MAX_PIXELS",
}
#: command-line option (its dest) -> recognize() parameter.
CLI_OPTIONS = {"batch_size": "batch_size", "line_tolerance": "line_tolerance", "border_width": "border_width",
               "model": "model", "detector": "model", "format": "output_format"}


def signature_defaults(function) -> dict:
    return {name: p.default for name, p in inspect.signature(function).parameters.items()
            if p.default is not inspect.Parameter.empty}


def field_defaults(config) -> dict:
    return {f.name: f.default for f in dataclasses.fields(config) if f.default is not dataclasses.MISSING}


def test_the_accessor_signature_reads_the_defaults_module():
    recognize = signature_defaults(dask_ocr.recognize)
    for parameter, constant in RECOGNIZE_DEFAULTS.items():
        assert recognize[parameter] == getattr(defaults, constant), parameter
    assert signature_defaults(dask_ocr.detect)["model"] == defaults.MODEL
    for function in (dask_ocr.detect, dask_ocr.draw_regions):
        assert signature_defaults(function)["max_pixels"] == defaults.MAX_PIXELS
    # the accessor methods share the functions' signatures
    assert signature_defaults(dask_ocr.accessor.OcrAccessor.recognize) == recognize


def test_the_command_line_defaults_are_the_accessor_defaults():
    args = build_parser().parse_args(["run", "scans/*.png", "-o", "out.parquet"])
    recognize = signature_defaults(dask_ocr.recognize)
    for option, parameter in CLI_OPTIONS.items():
        assert getattr(args, option) == recognize[parameter], option
    assert (args.batch_size, args.line_tolerance, args.border_width, args.model, args.format) == (
        defaults.BATCH_SIZE, defaults.LINE_TOLERANCE, defaults.BORDER_WIDTH, defaults.MODEL, defaults.OUTPUT_FORMAT)


def test_the_partition_configs_and_decoding_options_read_the_defaults_module():
    recognize = signature_defaults(dask_ocr.recognize)
    config = field_defaults(RecognizeConfig)
    for name in ("output_format", "line_tolerance", "border_width", "max_image_ratio", "batch_size", "max_pixels"):
        assert config[name] == recognize[name], name
    assert config["group_images"] is recognize["group_images"] is False
    assert field_defaults(DetectConfig)["max_pixels"] == field_defaults(DrawConfig)["max_pixels"] == defaults.MAX_PIXELS
    decoding = DecodingOptions()
    assert (decoding.max_new_tokens, decoding.num_beams, decoding.use_caching) == (
        recognize["max_new_tokens"], recognize["num_beams"], recognize["use_caching"])
    assert config["decoding"] == decoding and decoding.is_default()


def test_defaults_are_sane():
    assert defaults.MODEL in dask_ocr.available_models()
    assert defaults.OUTPUT_FORMAT in dask_ocr.formats.OUTPUT_FORMATS
    assert defaults.BATCH_SIZE >= 1 and defaults.NUM_BEAMS >= 1 and defaults.LINE_TOLERANCE >= 0
    assert defaults.MAX_NEW_TOKENS >= 70                 # SROIE's longest dev line, in characters
    with pytest.raises(ValueError, match=">= 1"):
        DecodingOptions(max_new_tokens=0)
