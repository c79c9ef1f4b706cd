"""dask_ocr: high-throughput OCR on pandas and Dask DataFrames.

Importing the package registers the ``ocr`` accessor on pandas and Dask DataFrames::

    import dask_ocr
    ddf = dask_ocr.read_images("scans/*.jpg")
    out = ddf.ocr.detect().ocr.recognize()

:func:`finetune` trains the recognizer on labelled pages (torch loads on its first call).  The cluster
helpers (:func:`start_cluster`, :func:`register_models`, :class:`ModelPlugin`) load ``distributed`` on first
use, so plain pandas use never imports it.
"""

from . import cluster
from .accessor import detect, draw_regions, recognize, register_accessors
from .assemble import gather_documents
from .decode import decode_image
from .display import display_images
from .errors import ImageDecodeError, ModelNotFoundError, RegionError, RowError
from .models.registry import available_models
from .readers import read_documents, read_images
from .schema import POSITIONS_DTYPE, REGIONS_DTYPE
from .sinks import to_portable_parquet, write_parquet, write_pdf
from .training import finetune, read_manifest  # torch loads on the first call of finetune
from .version import package_version as _package_version

__all__ = [
    "read_images", "read_documents", "decode_image", "detect", "recognize", "draw_regions", "display_images",
    "start_cluster", "register_models", "ModelPlugin", "write_parquet", "to_portable_parquet", "write_pdf",
    "gather_documents", "available_models", "REGIONS_DTYPE", "POSITIONS_DTYPE", "RowError", "ImageDecodeError",
    "RegionError", "ModelNotFoundError", "finetune", "read_manifest",
]

_CLUSTER_NAMES = set(cluster.__all__)  # resolved on first use: importing them imports distributed


def __getattr__(name: str):
    if name in _CLUSTER_NAMES:
        return getattr(cluster, name)
    raise AttributeError(f"module 'dask_ocr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_CLUSTER_NAMES})


__version__ = _package_version()

register_accessors()
