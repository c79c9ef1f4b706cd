"""dask_ocr: high-throughput OCR on pandas and Dask DataFrames.

Importing the package registers the ``ocr`` accessor on pandas and Dask DataFrames::

    import dask_ocr
    ddf = dask_ocr.read_images("scans/*.jpg")
    out = ddf.ocr.detect().ocr.recognize()
"""

from .accessor import detect, draw_regions, recognize, register_accessors
from .display import display_images
from .distributed import ModelPlugin, register_models, start_cluster, write_parquet
from .errors import ImageDecodeError, ModelNotFoundError, RegionError, RowError
from .io import decode_image, read_images
from .models.registry import available_models
from .schema import POSITIONS_DTYPE, REGIONS_DTYPE

__all__ = [
    "read_images", "decode_image", "detect", "recognize", "draw_regions", "display_images",
    "start_cluster", "register_models", "ModelPlugin", "write_parquet",
    "available_models", "REGIONS_DTYPE", "POSITIONS_DTYPE", "RowError", "ImageDecodeError", "RegionError",
    "ModelNotFoundError",
]

try:
    from importlib.metadata import version as _version

    __version__ = _version("dask_ocr")
except Exception:  # running from a source tree that is not installed
    __version__ = "0.0.0"

register_accessors()
