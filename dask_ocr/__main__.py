"""``python -m dask_ocr`` is the ``dask-ocr`` command."""

import sys

from .cli import main

sys.exit(main())
