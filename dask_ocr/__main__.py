"""``python -m dask_ocr`` is the ``dask-ocr`` command."""

from .cli import command

command()
