"""Tesseract (LSTM engine) through its command-line program, many images per process.

One ``tesseract`` process per image spends most of its time starting up and loading the language
model.  Tesseract also reads a *list file* of image paths and treats each image as one page of a
single run, so here one process reads a whole batch; its TSV output (``page_num``, word boxes and
word confidences) is split back per image.  The program comes from the system
(``apt-get install tesseract-ocr tesseract-ocr-eng``), not from Python packages.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from .. import defaults
from ..batching import run_batched
from ..geometry import Region
from .base import DecodingOptions, Recognition

__all__ = ["tesseract_executable", "TesseractDetector", "TesseractRecognizer", "parse_tsv"]

INSTALL_HINT = "install it with: apt-get install tesseract-ocr tesseract-ocr-eng (or brew install tesseract)"


def tesseract_executable(executable: str = "tesseract") -> str:
    """Full path of the ``tesseract`` program.

    Raises
    ------
    FileNotFoundError
        When it is not on ``PATH``; the message says how to install it.
    """
    found = shutil.which(executable)
    if found is None:
        raise FileNotFoundError(f"the 'tesseract' engine needs the {executable!r} program; {INSTALL_HINT}")
    return found


def parse_tsv(tsv: str) -> dict[int, list[dict]]:
    """Words of Tesseract's TSV output, per page (``0``-based image index).

    Each word is ``{"line": (block, paragraph, line), "box": (x0, y0, x1, y1), "conf": 0..1,
    "text": str}``; words with empty text are dropped.
    """
    pages: dict[int, list[dict]] = defaultdict(list)
    rows = csv.DictReader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    for row in rows:
        text = (row.get("text") or "").strip()
        if row["level"] != "5" or not text:
            continue
        left, top, width, height = (int(row[k]) for k in ("left", "top", "width", "height"))
        pages[int(row["page_num"]) - 1].append({
            "line": (int(row["block_num"]), int(row["par_num"]), int(row["line_num"])),
            "box": (left, top, left + width, top + height),
            "conf": max(0.0, float(row["conf"])) / 100,
            "text": text,
        })
    return pages


class _TesseractRunner:
    """Runs one ``tesseract`` process over a list of images and returns the words per image."""

    def __init__(self, psm: int, lang: str, threads: int, executable: str, timeout: float | None,
                 use_gpu: bool | None):
        if use_gpu:
            raise ValueError("the 'tesseract' engine runs on CPU only; pass use_gpu=None or False")
        self.executable = tesseract_executable(executable)
        self.psm, self.lang, self.timeout = psm, lang, timeout
        self.env = {**os.environ, "OMP_THREAD_LIMIT": str(max(1, threads))}

    def words(self, images: Sequence[np.ndarray]) -> list[list[dict]]:
        if not images:
            return []
        with tempfile.TemporaryDirectory(prefix="dask_ocr_tess_") as folder:
            paths = []
            for index, image in enumerate(images):
                path = Path(folder) / f"{index:06d}.pnm"  # uncompressed: no time spent encoding
                cv2.imwrite(str(path), np.ascontiguousarray(image[:, :, ::-1]))
                paths.append(str(path))
            listing = Path(folder) / "images.txt"
            listing.write_text("\n".join(paths) + "\n")
            command = [self.executable, str(listing), "stdout", "--psm", str(self.psm), "-l", self.lang, "tsv"]
            done = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=self.timeout)
        if done.returncode != 0:
            message = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
            raise RuntimeError(f"tesseract failed: {message[0]}")
        pages = parse_tsv(done.stdout)
        return [pages.get(index, []) for index in range(len(images))]


class TesseractDetector:
    """Tesseract's page layout analysis: one region per text line it finds.

    Parameters
    ----------
    psm : int
        Page segmentation mode; 3 (automatic) suits pages, 11 (sparse text) suits forms.
    lang : str
        Tesseract language(s), e.g. ``"eng"`` or ``"eng+deu"``.
    threads : int
        OpenMP threads of each process (``OMP_THREAD_LIMIT``).
    executable : str
        The program's name or path.
    timeout : float, optional
        Seconds one batch may take.
    batch_size : int
        Images per process.
    padding : float
        Each line box grows by this many line heights on every side (Tesseract's boxes are tight,
        and its recognizer needs background around the text).
    """

    def __init__(self, psm: int = 3, lang: str = "eng", threads: int = 1, use_gpu: bool | None = None,
                 executable: str = "tesseract", timeout: float | None = 600, batch_size: int = 16,
                 padding: float = 0.1):
        self.runner = _TesseractRunner(psm, lang, threads, executable, timeout, use_gpu)
        self.batch_size, self.padding = batch_size, padding

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Region]]:
        """Line regions per image; a line's score is the mean confidence of its words."""
        return run_batched(list(images), self.batch_size, self._detect_batch)

    def _detect_batch(self, images: list[np.ndarray], _shape) -> list[list[Region]]:
        return [_line_regions(words, self.padding, image.shape[1], image.shape[0])
                for image, words in zip(images, self.runner.words(images), strict=True)]


def _line_regions(words: list[dict], padding: float, width: int, height: int) -> list[Region]:
    lines: dict[tuple, list[dict]] = defaultdict(list)
    for word in words:
        lines[word["line"]].append(word)
    regions = []
    for members in lines.values():
        boxes = np.array([word["box"] for word in members], dtype=np.float64)
        x0, y0 = boxes[:, :2].min(axis=0)
        x1, y1 = boxes[:, 2:].max(axis=0)
        pad = padding * (y1 - y0)
        x0, y0, x1, y1 = max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)
        polygon = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        regions.append(Region(polygon, float(np.mean([word["conf"] for word in members]))))
    return regions


class TesseractRecognizer:
    """Tesseract reading crops as single text lines (``--psm 7``), a batch per process.

    Parameters
    ----------
    psm : int
        Page segmentation mode for a crop; 7 is one text line, 6 a block of lines.
    lang, threads, executable, timeout
        As for :class:`TesseractDetector`.
    min_height : int
        Crops lower than this many pixels are scaled up to it first.

    Notes
    -----
    Tesseract needs a little background around the text: ``recognize(border_width=...)`` adds it
    from the page itself.  A synthetic margin (the crop's edge colour) read worse on SROIE lines.
    """

    def __init__(self, psm: int = 7, lang: str = "eng", threads: int = 1, use_gpu: bool | None = None,
                 executable: str = "tesseract", timeout: float | None = 600, min_height: int = 32):
        self.runner = _TesseractRunner(psm, lang, threads, executable, timeout, use_gpu)
        self.min_height = min_height

    def recognize(self, crops: Sequence[np.ndarray], batch_size: int = defaults.BATCH_SIZE,
                  decoding: DecodingOptions | None = None) -> list[Recognition]:
        """Read each crop (RGB ``uint8``), a batch per process; results in input order."""
        return run_batched(list(crops), batch_size, self._read_batch, order=[crop.shape[1] for crop in crops])

    def _read_batch(self, crops: list[np.ndarray], _shape) -> list[Recognition]:
        readings = []
        for words in self.runner.words([self._upscaled(crop) for crop in crops]):
            text = " ".join(word["text"] for word in sorted(words, key=lambda w: (w["line"], w["box"][0])))
            confidence = float(np.mean([word["conf"] for word in words])) if words else 0.0
            readings.append(Recognition(text, confidence))
        return readings

    def _upscaled(self, crop: np.ndarray) -> np.ndarray:
        height, width = crop.shape[:2]
        if height >= self.min_height:
            return crop
        size = (max(1, round(width * self.min_height / height)), self.min_height)
        return cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC)
