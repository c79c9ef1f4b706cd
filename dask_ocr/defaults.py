"""Every default of the public API, in one place.

The accessor's signatures, the partition configs and the command line all read their defaults
here, so that a default changed once is changed everywhere.
"""

from __future__ import annotations

#: The engine for ``detect`` and ``recognize``.
MODEL = "ppocr"
#: Pixels between the vertical centres of two regions that still share a line (``0`` = estimate).
LINE_TOLERANCE = 15.0
#: Pixels added around each region before cropping.
BORDER_WIDTH = 0.0
#: The widest joined crop (width / height) with ``group_images``.
MAX_IMAGE_RATIO = 11.25
#: Who runs the ONNX models (``"auto"``, ``"onnxruntime"``, ``"openvino"``) and in what arithmetic (``"auto"``,
#: ``"f32"``, ``"bf16"``): ``"auto"`` takes, per model, the first choice measured fastest at the accuracy of the
#: fp32 model that this machine can run (``dask_ocr.models.ppocr.DETECTOR_RUNTIMES`` / ``RECOGNIZER_RUNTIMES``).
RUNTIME = "auto"
PRECISION = "auto"
#: Crops per model call.
BATCH_SIZE = 32
#: Decompression-bomb guard (Pillow itself refuses anything above ~179 MP).
MAX_PIXELS = 150_000_000
#: TrOCR decoding: the most tokens per line (the longest line of the dev data, IAM's, is 76 characters, and a token
#: of Latin text spans at least one; the library default of 20 cuts lines), beams, key/value cache.
MAX_NEW_TOKENS = 128
NUM_BEAMS = 1
USE_CACHING = True
#: What ``recognize`` writes to its output column.
OUTPUT_FORMAT = "text"
#: Space between joined word crops (``group_images``), in crop heights: wide enough to read as a space.
JOIN_GAP = 1.5
#: Page geometry in ``detect``: find and undo quarter turns (``orientation``) and skew (``deskew``).  ``None``
#: turns them on for document pages (frames from ``read_documents``: scans come turned) and off for other
#: images.  Measured on upright dev pages (SROIE, FUNSD, FONDUE; 2026-12-03, int8 detector, 2 cores): 1.05x CPU
#: time, 1.03x wall time (``benchmarks/orientation.py --timing-only``), with the same text on upright pages.
ORIENTATION = None
DESKEW = None
#: Skew beyond this many degrees is not undone (it is taken for a wrong estimate).
MAX_SKEW = 20.0
#: The least skew (degrees) undone at all: ``recognize`` groups lines with it undone.  Below it the skew is
#: no larger than the estimate's own error (at most 1.2° on the dev pages) and the page is read as it lies.
DESKEW_MIN_ANGLE = 2.0
#: The least skew (degrees) that ``detect`` undoes before detecting again (below it a second detection
#: measured no gain).
REDETECT_MIN_ANGLE = 4.0
#: A region at least this many times longer than wide tells which way the text lines run.
LINE_ASPECT = 2.0
#: Lines read both ways to tell upright text from upside-down text, and the most of each read (in heights).
ORIENTATION_LINES = 4
ORIENTATION_WINDOW = 6.0
#: Region readings less confident than this are left out of the text (a model's spec may say otherwise).
MIN_CONFIDENCE = 0.5
#: Sample lines reading this confidently along the text axis are taken as upright without reading them turned.
UPRIGHT_CONFIDENCE = 0.9

#: Documents (``read_documents``): the resolution PDF pages are rasterised at (dpi).
DPI = 200
#: A scanned PDF page (one image covering it) is read at its image's own resolution, but never below this dpi
#: (a coarser scan is upsampled to it).  Measured on 20 dev pages each, 2026-12-03
#: (``benchmarks/native_resolution.py``): against rendering at 200 dpi, word F1 SROIE 0.896 -> 0.901 and FUNSD
#: (91-dpi scans) 0.805 -> 0.801 at 2.1x the pages/s; a floor of 150 gave FUNSD 0.809 at the speed of 200 dpi.
NATIVE_MIN_DPI = 100.0
#: An enormous page is rendered at the highest dpi whose image has at most this many pixels.
MAX_PAGE_PIXELS = 60_000_000
#: A PDF page whose text layer has at least this many non-space characters is read from it, not OCR'd.
MIN_TEXT_CHARS = 10
#: ... unless more than this share of them are unmapped glyphs (private-use characters, U+FFFD): then it is OCR'd.
MAX_UNMAPPED_SHARE = 0.3
#: The resolution assumed for an image or TIFF whose file gives none, or one outside ``PLAUSIBLE_DPI`` (a TIFF
#: without resolution tags reads as 1 dpi): 72, the convention of PDF and Pillow (one pixel per point).
ASSUMED_DPI = 72.0
PLAUSIBLE_DPI = (30.0, 6000.0)
#: The most pages of one document per partition: a worker holds a partition's pages at once.  Measured
#: (2 workers, a 120-page document of 20 pages repeated): peak worker RSS 1.27 GB at 4 pages per partition,
#: 1.36 GB at 8, and no slower (81 s against 86 s).
MAX_PAGES_PER_PARTITION = 4
