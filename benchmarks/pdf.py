"""Searchable PDFs side by side: dask_ocr's ``run --pdf`` against OCRmyPDF on the same scanned PDFs, in one run.

Sets (``--sets``; ``--pages`` dev pages each, the first of the split), built here from ``--data`` into a
temporary folder (``--keep DIR`` keeps it), one scanned page per PDF, no text layer:

* ``sroie``: SROIE receipt JPEGs embedded byte for byte (DCTDecode) by :func:`dask_ocr.samples.images_to_pdf`.
  SROIE's JPEGs are 400 to 2,450 px wide and their JFIF densities (none, 96, 150, 200) say nothing, so each
  page is placed at the dpi that makes it an 80 mm (3.15 in) till receipt: ``dpi = width / 3.15``.
* ``funsd``: FUNSD form PNGs (8-bit grey, 1,000 px high: RVL-CDIP pages scaled down) stored losslessly
  (FlateDecode) at ``dpi = height / 11`` (a US letter page, about 91 dpi).
* ``turned``: the ``sroie`` receipts turned 90, 180, 270 degrees counter-clockwise in turn (PIL transpose,
  re-encoded as JPEG with the source's own quantisation tables and subsampling), at the source's dpi.
* ``skewed``: the receipts turned by +2, -3, +4, -5, +6, -2.5, +3.5, -4.5, +5.5, -6 degrees in turn
  (counter-clockwise positive; bicubic, white corners, canvas grown to hold the page), JPEG as above.
* ``bilevel``: the ``funsd`` pages thresholded (Otsu) to 1 bit and stored CCITT group 4 (/CCITTFaxDecode,
  the strip Pillow's libtiff writes), a stand-in for 1-bit (JBIG2/G4) office scans.

Runs (each set's whole folder; wall clock end to end, process start and model loading included):

* ``ours``: ``python -m dask_ocr run IN -o OUT.parquet --pdf DIR --overwrite`` (in-process scheduler,
  the CLI's defaults: 200 dpi rendering, orientation and deskew on);
* ``ours_w2``: the same with ``--workers 2`` (a local cluster);
* ``ours_api`` (``--api``): ``read_documents → detect → recognize(positions_col="positions") → write_pdf``
  in this process, models already loaded (no process start);
* ``ocrmypdf``: ``ocrmypdf -j 2 --output-type pdfa IN OUT`` per file, ``--ocrmypdf-procs`` (2) files at a time
  (its documented way with many files: GNU parallel).  OCRmyPDF 17's default is ``--output-type auto``
  (PDF/A when its own PDF/A pass validates, else a plain PDF); ``pdfa`` refuses to start without
  Ghostscript (exit 3, "Could not find program 'gs'") even where it then skips it ("Speculative PDF/A
  conversion succeeded - skipping Ghostscript"), so install ``gs`` too;
* ``ocrmypdf_rotate`` (``turned`` only): the same plus ``--rotate-pages --rotate-pages-threshold T``
  (``--rotate-threshold``, default 0: turn whenever Tesseract's OSD names an orientation).  OCRmyPDF's own
  threshold, 14, turns no receipt: OSD's confidence on the first six dev receipts turned is 0.4 to 4.4, or
  no answer (``-v 1`` logs "confidence too low to rotate").  It keeps the scan and sets /Rotate;
* ``ocrmypdf_deskew`` (``skewed`` only): the same plus ``--deskew``, which rasterises every page (a new
  image, not the scan: its sizes and render differences are not those of the scan).  The two options are
  separate runs because ``--rotate-pages`` at threshold 0 also turned a skewed upright receipt the wrong way
  in the smoke test, and with ``--deskew`` a turn goes into the new image's pixels instead of /Rotate.

Metrics per set and run:

* text-layer word F1: ``pdftotext`` (its default reading order) of each output against the page's ground
  truth; bag of words (multiset), pooled over pages (:func:`dask_ocr.metrics.bag_of_words`), SROIE-based
  sets case-insensitive as in ``accuracy.py``, FUNSD-based sets case-sensitive;
* output bytes / input bytes per file (median, max) and the acceptance check
  ``out <= 1.05 * in + 50,000 bytes * pages``;
* render difference: input and output rendered at 100 dpi in grey by pypdfium2, each with its own /Rotate
  undone (``render(rotation=-/Rotate)``: the MediaBox as drawn, so an output turned upright by /Rotate
  is compared with its input as scanned); mean absolute difference (0-255) per page; acceptance < 0.5.
  Renders of different sizes (a page re-rendered at another size or turned in its pixels) are scaled to
  the input's size and counted as mismatched;
* pages/s, and the fixed cost: a one-page run (``ours``, ``ours_w2``, ``ocrmypdf``), median of ``--repeats``
  after one untimed warm-up run of each;
* ``qpdf --check``: outputs that pass (exit 0), pass with warnings (exit 3), fail;
* PDF/A: the part and conformance each output's XMP claims (``pdfaid``, via pikepdf).

Results go to ``benchmarks/results/pdf.{json,md}`` (``--quick``: 2 pages a set, one repeat, ``pdf_quick.*`` in
the system's temporary folder, never among the published results).
OCRmyPDF is a peer only, never a dependency: install it in a virtualenv of its own and pass ``--ocrmypdf``
(default ``/work/venvs/ocrmypdf/bin/ocrmypdf``, else ``ocrmypdf`` on PATH).  Needs ``pdftotext`` and ``qpdf``.

    python benchmarks/pdf.py --data ../shared/data --pages 30 --repeats 3 --api \
        --ocrmypdf /work/venvs/ocrmypdf/bin/ocrmypdf
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this tree's dask_ocr, as the CLI runs get it

from _common import DEFAULT_DATA, RESULTS, load_manifest, median, write_results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SETS = ("sroie", "funsd", "turned", "skewed", "bilevel")
SOURCE = {"sroie": "sroie", "turned": "sroie", "skewed": "sroie", "funsd": "funsd", "bilevel": "funsd"}
RECEIPT_WIDTH_IN = 80 / 25.4
FORM_HEIGHT_IN = 11.0
TURNS = (90, 180, 270)
SKEWS = (2.0, -3.0, 4.0, -5.0, 6.0, -2.5, 3.5, -4.5, 5.5, -6.0)
RENDER_DPI = 100
SIZE_FACTOR, SIZE_SLACK = 1.05, 50_000  # out <= 1.05 * in + 50 kB per page
RENDER_LIMIT = 0.5
DEFAULT_OCRMYPDF = Path("/work/venvs/ocrmypdf/bin/ocrmypdf")
OCRMYPDF_ARGS = ["-j", "2", "--output-type", "pdfa"]
#: OCRmyPDF runs for one set each: (set, extra arguments).
FIX_RUNS = {"ocrmypdf_rotate": ("turned", ["--rotate-pages", "--rotate-pages-threshold", "{threshold}"]),
            "ocrmypdf_deskew": ("skewed", ["--deskew"])}
CASE_NOTE = "sroie, turned and skewed compared case-insensitively, funsd and bilevel case-sensitively."
RUN_LABELS = {"ours": "ours", "ours_w2": "ours --workers 2", "ours_api": "ours API (warm)",
              "ocrmypdf": "OCRmyPDF", "ocrmypdf_rotate": "OCRmyPDF --rotate-pages",
              "ocrmypdf_deskew": "OCRmyPDF --deskew"}


# ----------------------------------------------------------------------------------------------------- the sets


@dataclass
class Page:
    """One input PDF (one page) and what its text layer should say."""

    name: str
    path: Path
    text: str
    ignore_case: bool
    dpi: float
    change: str = ""  # the turn or skew applied


def _jpeg(image, like) -> bytes:
    """``image`` as JPEG with the quantisation tables and chroma subsampling of the JPEG ``like``."""
    from PIL import JpegImagePlugin

    options = {"qtables": like.quantization}
    sampling = JpegImagePlugin.get_sampling(like)
    if sampling >= 0:
        options["subsampling"] = sampling
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def _otsu(grey) -> int:
    """Otsu's threshold of an 8-bit image."""
    import numpy as np

    histogram = np.bincount(np.asarray(grey).ravel(), minlength=256).astype(float)
    levels = np.arange(256)
    weight = np.cumsum(histogram)
    mean = np.cumsum(histogram * levels)
    total, total_mean = weight[-1], mean[-1]
    background = weight[:-1]
    foreground = total - background
    valid = (background > 0) & (foreground > 0)
    between = np.zeros(255)
    between[valid] = (total_mean * background[valid] / total - mean[:-1][valid]) ** 2 * total / (
        background[valid] * foreground[valid])
    return int(between.argmax()) + 1  # pixels >= this are white


def bilevel_pdf(data: bytes, dpi: float) -> bytes:
    """A one-page PDF of ``data`` thresholded to 1 bit, stored CCITT group 4 (K -1) as a scanner would."""
    import pikepdf
    from PIL import Image

    grey = Image.open(io.BytesIO(data)).convert("L")
    threshold = _otsu(grey)
    bits = grey.point(lambda v: 255 if v >= threshold else 0).convert("1")
    tiff = io.BytesIO()
    bits.save(tiff, format="TIFF", compression="group4", tiffinfo={278: bits.height})  # one strip
    with Image.open(io.BytesIO(tiff.getvalue())) as parsed:
        offsets, counts = parsed.tag_v2[273], parsed.tag_v2[279]
        assert len(offsets) == 1 and parsed.tag_v2.get(262) == 1, "expected one min-is-black strip"
    strip = tiff.getvalue()[offsets[0]:offsets[0] + counts[0]]
    pdf = pikepdf.new()
    width, height = bits.size
    image = pikepdf.Stream(pdf, strip, Type=pikepdf.Name.XObject, Subtype=pikepdf.Name.Image, Width=width,
                           Height=height, ColorSpace=pikepdf.Name.DeviceGray, BitsPerComponent=1,
                           Filter=pikepdf.Name.CCITTFaxDecode,
                           DecodeParms=pikepdf.Dictionary(K=-1, Columns=width, Rows=height, BlackIs1=True))
    width_pt, height_pt = width * 72 / dpi, height * 72 / dpi
    page = pdf.add_blank_page(page_size=(width_pt, height_pt))
    page.obj.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image))
    page.obj.Contents = pdf.make_stream(f"q {width_pt:.4f} 0 0 {height_pt:.4f} 0 0 cm /Im0 Do Q".encode())
    out = io.BytesIO()
    pdf.save(out, stream_decode_level=pikepdf.StreamDecodeLevel.none)
    return out.getvalue()


def build_set(name: str, records: list[dict], folder: Path) -> list[Page]:
    """Write the input PDFs of set ``name`` to ``folder`` (one page each)."""
    from PIL import Image

    from dask_ocr.samples import images_to_pdf

    folder.mkdir(parents=True, exist_ok=True)
    pages = []
    for i, record in enumerate(records):
        data = record["content"]
        image = Image.open(io.BytesIO(data))
        change = ""
        if SOURCE[name] == "sroie":
            dpi = round(image.width / RECEIPT_WIDTH_IN, 2)
        else:
            dpi = round(image.height / FORM_HEIGHT_IN, 2)
        if name == "turned":
            turn = TURNS[i % len(TURNS)]
            method = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
                      270: Image.Transpose.ROTATE_270}[turn]
            data, change = _jpeg(image.transpose(method), image), f"turned {turn}"
        elif name == "skewed":
            angle = SKEWS[i % len(SKEWS)]
            rotated = image.convert("RGB").rotate(angle, resample=Image.Resampling.BICUBIC, expand=True,
                                                  fillcolor="white")
            data, change = _jpeg(rotated, image), f"skewed {angle:+g}"
        path = folder / f"{name}-{i:03d}.pdf"
        path.write_bytes(bilevel_pdf(data, dpi) if name == "bilevel" else images_to_pdf([data], dpi=dpi))
        pages.append(Page(path.stem, path, record["text"], SOURCE[name] == "sroie", dpi, change))
    return pages


# --------------------------------------------------------------------------------------------------------- runs


@dataclass
class Outcome:
    """One run over one folder: its wall time and what went wrong."""

    seconds: float
    failures: list[str] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _tail(text: str, lines: int = 2) -> str:
    """The last ``lines`` non-empty lines of a program's output, on one line."""
    return " | ".join([line.strip() for line in text.splitlines() if line.strip()][-lines:])


def run_ours(in_dir: Path, out_dir: Path, work: Path, workers: int | None) -> Outcome:
    """The CLI in a fresh process (as a user runs it): OCR results to Parquet, searchable PDFs to ``out_dir``."""
    command = [sys.executable, "-m", "dask_ocr", "run", str(in_dir), "-o", str(work / f"{out_dir.name}.parquet"),
               "--pdf", str(out_dir), "--overwrite"]
    if workers:
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=work)
    outcome = Outcome(time.perf_counter() - start)
    if done.returncode:
        outcome.failures.append(f"exit {done.returncode}: {_tail(done.stderr)}")
    for line in done.stderr.splitlines():
        if "no searchable PDF" in line or "Error" in line or "Warning" in line:
            outcome.notes[line.strip()[:200]] += 1
    return outcome


def run_ours_api(in_dir: Path, out_dir: Path) -> Outcome:
    """The public API in this process (models loaded by an earlier call)."""
    import dask_ocr

    start = time.perf_counter()
    frame = dask_ocr.read_documents(str(in_dir)).ocr.detect().ocr.recognize(positions_col="positions")
    written = dask_ocr.write_pdf(frame, str(out_dir), overwrite=True, progress=False)
    outcome = Outcome(time.perf_counter() - start)
    outcome.failures += [f"{doc}: {reason}" for doc, reason in written.failed.items()]
    return outcome


def run_ocrmypdf(program: str, inputs: list[Path], out_dir: Path, extra: list[str], procs: int) -> Outcome:
    """``ocrmypdf`` once per file, ``procs`` files at a time."""
    out_dir.mkdir(parents=True, exist_ok=True)

    def one(path: Path):
        return subprocess.run([program, *OCRMYPDF_ARGS, *extra, str(path), str(out_dir / path.name)],
                              capture_output=True, text=True)

    start = time.perf_counter()
    with ThreadPoolExecutor(procs) as pool:
        done = list(pool.map(one, inputs))
    outcome = Outcome(time.perf_counter() - start)
    for path, result in zip(inputs, done, strict=True):
        if result.returncode:
            outcome.failures.append(f"{path.name}: exit {result.returncode}: {_tail(result.stderr)}")
        for line in result.stderr.splitlines():
            if any(word in line for word in ("PDF/A", "Ghostscript", "rasteri", "WARNING", "ERROR", "DPI", "dpi")):
                outcome.notes[line.strip()[:200]] += 1
    return outcome


# ------------------------------------------------------------------------------------------------------ metrics


def render(path: Path) -> list:
    """Each page in grey at RENDER_DPI, with the page's own /Rotate undone (the MediaBox as drawn)."""
    import numpy as np
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        images = []
        for page in document:
            rotation = (360 - page.get_rotation()) % 360
            bitmap = page.render(scale=RENDER_DPI / 72, grayscale=True, rotation=rotation)
            images.append(np.asarray(bitmap.to_pil().convert("L"), dtype=np.int16))
        return images
    finally:
        document.close()


def pixel_difference(reference, image) -> tuple[float, bool]:
    """Mean absolute difference and whether the sizes were off by more than 2 px (then ``image`` is scaled)."""
    import numpy as np
    from PIL import Image

    (h0, w0), (h1, w1) = reference.shape, image.shape
    if abs(h0 - h1) <= 2 and abs(w0 - w1) <= 2:
        h, w = min(h0, h1), min(w0, w1)
        return float(np.abs(reference[:h, :w] - image[:h, :w]).mean()), False
    scaled = Image.fromarray(image.astype(np.uint8)).resize((w0, h0), Image.Resampling.BILINEAR)
    return float(np.abs(reference - np.asarray(scaled, dtype=np.int16)).mean()), True


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          text=True).stdout


def qpdf_check(path: Path) -> int:
    return subprocess.run(["qpdf", "--check", str(path)], capture_output=True).returncode


def pdfa_claim(path: Path) -> str:
    """What the XMP claims, e.g. ``2B``, or ``""``."""
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            return pdf.open_metadata().pdfa_status or ""
    except Exception as error:  # noqa: BLE001  (a broken output is reported, not fatal)
        return f"unreadable: {type(error).__name__}"


def page_count(path: Path) -> int:
    import pikepdf

    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def measure(pages: list[Page], out_dir: Path, outcome: Outcome, input_renders: dict) -> dict:
    """All metrics of one run's outputs against its inputs."""
    from dask_ocr.metrics import bag_of_words

    rows, texts = [], []
    for page in pages:
        out = out_dir / f"{page.name}.pdf"
        row = {"page": page.name, "change": page.change, "dpi": page.dpi, "in_bytes": page.path.stat().st_size}
        if not out.exists():
            rows.append({**row, "missing": True})
            texts.append("")
            continue
        text = pdf_text(out)
        texts.append(text)
        in_pages = input_renders[page.name]
        out_pages = render(out)
        diffs = [pixel_difference(a, b) for a, b in zip(in_pages, out_pages)]
        row.update(out_bytes=out.stat().st_size, pages=len(in_pages), out_pages=len(out_pages),
                   f1=bag_of_words(page.text, text, ignore_case=page.ignore_case).f1,
                   render_diff=max(d for d, _ in diffs) if diffs else None,
                   render_mismatch=any(m for _, m in diffs) or len(in_pages) != len(out_pages),
                   qpdf=qpdf_check(out), pdfa=pdfa_claim(out))
        row["size_ratio"] = row["out_bytes"] / row["in_bytes"]
        row["size_ok"] = row["out_bytes"] <= SIZE_FACTOR * row["in_bytes"] + SIZE_SLACK * row["pages"]
        row["render_ok"] = row["render_diff"] is not None and row["render_diff"] < RENDER_LIMIT
        rows.append(row)
    present = [r for r in rows if not r.get("missing")]
    scores = bag_of_words([p.text for p in pages], texts, ignore_case=pages[0].ignore_case)
    ratios = [r["size_ratio"] for r in present]
    diffs = [r["render_diff"] for r in present if r["render_diff"] is not None]
    qpdf = Counter({0: "ok", 3: "warnings"}.get(r["qpdf"], "failed") for r in present)
    return {"pages": len(pages), "written": len(present), "seconds": outcome.seconds,
            "pages_per_s": len(pages) / outcome.seconds, "failures": outcome.failures,
            "notes": dict(outcome.notes.most_common(8)),
            "f1": scores.f1, "precision": scores.precision, "recall": scores.recall,
            "size_ratio_median": median(ratios) if ratios else None, "size_ratio_max": max(ratios, default=None),
            "size_ok": sum(r["size_ok"] for r in present),
            "render_diff_mean": sum(diffs) / len(diffs) if diffs else None, "render_diff_max": max(diffs, default=None),
            "render_ok": sum(r["render_ok"] for r in present),
            "render_mismatch": sum(r["render_mismatch"] for r in present),
            "qpdf_ok": qpdf["ok"], "qpdf_warnings": qpdf["warnings"], "qpdf_failed": qpdf["failed"],
            "pdfa": dict(Counter(r["pdfa"] or "none" for r in present)), "per_page": rows}


# ------------------------------------------------------------------------------------------------ environment


def find_ocrmypdf(given: str | None) -> str | None:
    candidates = [given] if given else [str(DEFAULT_OCRMYPDF), shutil.which("ocrmypdf")]
    for candidate in filter(None, candidates):
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
        if shutil.which(candidate):
            return shutil.which(candidate)
    return None


def _version(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "?"


def tools(ocrmypdf: str | None) -> dict:
    import pikepdf
    import pypdfium2.version

    found = {"ocrmypdf": _version([ocrmypdf, "--version"]) if ocrmypdf else "not found",
             "tesseract": _version(["tesseract", "--version"]), "ghostscript": _version(["gs", "--version"]),
             "qpdf": _version(["qpdf", "--version"]), "pdftotext": _version(["pdftotext", "-v"]),
             "pikepdf": pikepdf.__version__, "pypdfium2 (renders)": str(pypdfium2.version.PYPDFIUM_INFO)}
    try:
        import dask_ocr

        found["dask_ocr"] = dask_ocr.__version__
    except AttributeError:
        pass
    found["dask_ocr commit"] = _version(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    return found


def cpu() -> dict:
    """The CPU's model name and the vector extensions that matter to ONNX models, from /proc/cpuinfo."""
    info = {}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name" and "model" not in info:
            info["model"] = value.strip()
        if key.strip() == "flags" and "flags" not in info:
            wanted = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
            info["flags"] = [flag for flag in value.split() if flag in wanted]
    info["load_average"] = os.getloadavg()
    return info


# ------------------------------------------------------------------------------------------------------- report


def _fmt(value, spec: str = ".3f", missing: str = "–") -> str:
    return missing if value is None else format(value, spec)


def _ratio(a, b) -> str:
    return "–" if a is None or not b else f"{a / b:.2f}x"


def report(results: dict, fixed: dict, runs: list[str], meta: dict) -> str:
    """The Markdown: one table per metric, sets as rows, the runs side by side."""
    sets = list(results)
    header = "| set | pages | " + " | ".join(RUN_LABELS[r] for r in runs)

    def table(title: str, cell, ratio=None, note: str = "", ours: tuple[str, ...] = ("ours",)) -> list[str]:
        """Sets as rows, a column per run, and ``ratio(ours run, OCRmyPDF)`` per run of ``ours``."""
        pairs = [r for r in ours if r in runs and "ocrmypdf" in runs] if ratio else []
        extra = "".join(f" | {RUN_LABELS[r]} / OCRmyPDF" for r in pairs)
        lines = [f"### {title}", "", header + extra + " |", "|---|---|" + "---|" * (len(runs) + len(pairs))]
        for name in sets:
            entries = results[name]
            cells = [cell(entries[r]) if r in entries else "–" for r in runs]
            cells += [ratio(entries[r], entries["ocrmypdf"]) if "ocrmypdf" in entries else "–" for r in pairs]
            lines.append(f"| {name} | {next(iter(entries.values()))['pages']} | " + " | ".join(cells) + " |")
        return lines + ([""] + [note] if note else []) + [""]

    lines = [f"Searchable PDFs, dask_ocr against OCRmyPDF, {meta['date']}:", "",
             f"`{meta['command']}`", "",
             f"Machine: {meta['cpu'].get('model', '?')}, {os.cpu_count()} CPUs "
             f"(flags: {', '.join(meta['cpu'].get('flags', [])) or 'none of avx2/avx512/amx'}), "
             f"load average at start {', '.join(f'{v:.2f}' for v in meta['cpu'].get('load_average', ()))}; "
             f"{meta['platform']}.", "",
             "Tools: " + "; ".join(f"{k} {v}" for k, v in meta["tools"].items()) + ".", "",
             "Runs: " + "; ".join(f"**{RUN_LABELS[r]}**: `{meta['commands'][r]}`" for r in runs) + ".", "",
             "Sets (one scanned page per PDF, no text layer): " + "; ".join(meta["sets"][s] for s in sets) + ".",
             ""]
    lines += table("Text layer: word F1 (pdftotext vs ground truth, bag of words)", lambda e: f"{e['f1']:.3f}",
                   lambda a, b: _ratio(a["f1"], b["f1"]), f"Pooled over the pages; {CASE_NOTE}")
    lines += table("Size: output bytes / input bytes per file, median (max); files within 1.05 x in + 50 kB x pages",
                   lambda e: f"{_fmt(e['size_ratio_median'], '.2f')} ({_fmt(e['size_ratio_max'], '.2f')}); "
                             f"{e['size_ok']}/{e['pages']}",
                   lambda a, b: _ratio(a["size_ratio_median"], b["size_ratio_median"]),
                   "Ratio: of the medians.")
    lines += table(f"Render: mean absolute grey difference (0-255) input vs output at {RENDER_DPI} dpi, "
                   f"mean (max); pages < {RENDER_LIMIT}; size mismatches",
                   lambda e: f"{_fmt(e['render_diff_mean'], '.2f')} ({_fmt(e['render_diff_max'], '.2f')}); "
                             f"{e['render_ok']}/{e['pages']}; {e['render_mismatch']}",
                   note="Each page rendered with its own /Rotate undone. A size mismatch (output page of another "
                        "size, or its pixels turned) is scaled to the input's size first.")
    lines += table("Speed: pages/s, wall clock end to end (process start and model loading included)",
                   lambda e: f"{e['pages_per_s']:.2f}", lambda a, b: _ratio(a["pages_per_s"], b["pages_per_s"]),
                   "Ratios: pages/s over OCRmyPDF's (> 1: ours faster). ours API (warm) excludes process start and "
                   "model loading.", ours=("ours", "ours_w2"))
    lines += table("qpdf --check: pass; with warnings; failed", lambda e: f"{e['qpdf_ok']}; {e['qpdf_warnings']}; "
                                                                      f"{e['qpdf_failed']}")
    lines += table("PDF/A claimed in XMP (pdfaid part + conformance): files",
                   lambda e: ", ".join(f"{k}: {v}" for k, v in sorted(e["pdfa"].items())) or "–")
    lines += ["### Acceptance, all sets together", "",
              "| run | files within 1.05 x in + 50 kB x pages | pages rendering < 0.5 apart | qpdf --check clean |",
              "|---|---|---|---|"]
    for run in runs:
        entries = [results[s][run] for s in sets if run in results[s]]
        total = sum(e["pages"] for e in entries)
        lines.append(f"| {RUN_LABELS[run]} | {sum(e['size_ok'] for e in entries)}/{total} | "
                     f"{sum(e['render_ok'] for e in entries)}/{total} | {sum(e['qpdf_ok'] for e in entries)}/{total} |")
    lines.append("")
    missing = {(s, r): e for s in sets for r, e in results[s].items() if e["written"] < e["pages"] or e["failures"]}
    if missing:
        lines += ["### Failures", ""]
        for (name, run), e in missing.items():
            reasons = Counter(failure.split(": ", 1)[-1] for failure in e["failures"])
            lines.append(f"- {name}, {RUN_LABELS[run]}: {e['written']}/{e['pages']} written; "
                         + "; ".join(f"{count}x {reason}" for reason, count in reasons.most_common(3)))
        lines.append("")
    if fixed:
        lines += [f"### Fixed cost: a one-page PDF, wall clock, median of {meta['repeats']} (after a warm-up run)",
                  "",
                  "| run | seconds |", "|---|---|",
                  *(f"| {RUN_LABELS[r]} | {_fmt(median(t) if t else None, '.2f', 'failed')} |"
                    for r, t in fixed.items()), ""]
    notes = Counter()
    for name in sets:
        for run in ("ocrmypdf", *FIX_RUNS):
            notes.update(results[name].get(run, {}).get("notes", {}))
    if notes:
        lines += ["OCRmyPDF said (lines about PDF/A, Ghostscript, rasterising, dpi; times over all files):", "",
                  *(f"- {count}x `{line}`" for line, count in notes.most_common(10)), ""]
    return "\n".join(lines).rstrip()


# --------------------------------------------------------------------------------------------------------- main


SET_TEXT = {"sroie": "**sroie**: SROIE receipt JPEGs embedded unchanged, 80 mm wide",
            "funsd": "**funsd**: FUNSD grey PNG forms, lossless, US letter high (~91 dpi)",
            "turned": "**turned**: the receipts turned 90/180/270° in their pixels (JPEG, same tables)",
            "skewed": "**skewed**: the receipts skewed ±2 to 6° (JPEG, same tables)",
            "bilevel": "**bilevel**: the forms at 1 bit (Otsu), CCITT G4"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--pages", type=int, default=30, help="dev pages per set (one PDF each)")
    parser.add_argument("--repeats", type=int, default=3, help="one-page runs timed for the fixed cost")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 pages a set, 1 repeat, pdf_quick.* in the system's temporary folder")
    parser.add_argument("--workers", type=int, default=2, help="workers of the ours_w2 run (0: leave it out)")
    parser.add_argument("--api", action="store_true", help="also time the Python API in this process (ours_api)")
    parser.add_argument("--ocrmypdf", help=f"the ocrmypdf program (default {DEFAULT_OCRMYPDF}, else on PATH)")
    parser.add_argument("--ocrmypdf-procs", type=int, default=2, help="ocrmypdf processes at once")
    parser.add_argument("--rotate-threshold", type=float, default=0.0,
                        help="ocrmypdf --rotate-pages-threshold of the ocrmypdf_rotate run (OCRmyPDF's default: 14)")
    parser.add_argument("--no-ocrmypdf", action="store_true", help="run ours only")
    parser.add_argument("--no-fixed", action="store_true", help="leave out the one-page fixed-cost runs")
    parser.add_argument("--keep", type=Path, help="build and write in this folder and keep it")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default benchmarks/results)")
    args = parser.parse_args()
    if args.quick:
        args.pages, args.repeats = 2, 1
    args.out = args.out or (Path(tempfile.gettempdir()) if args.quick else RESULTS)
    fix_args = {run: [a.format(threshold=f"{args.rotate_threshold:g}") for a in extra]
                for run, (_, extra) in FIX_RUNS.items()}
    name = "pdf_quick" if args.quick else "pdf"

    for program in ("pdftotext", "qpdf"):
        if not shutil.which(program):
            parser.error(f"{program} is needed (poppler-utils, qpdf)")
    ocrmypdf = None if args.no_ocrmypdf else find_ocrmypdf(args.ocrmypdf)
    if not args.no_ocrmypdf and not ocrmypdf:
        parser.error(f"OCRmyPDF not found ({args.ocrmypdf or f'{DEFAULT_OCRMYPDF} nor ocrmypdf on PATH'}). Install it "
                     "in a virtualenv of its own (python -m venv /work/venvs/ocrmypdf && "
                     "/work/venvs/ocrmypdf/bin/pip install ocrmypdf) and pass --ocrmypdf PATH, or use --no-ocrmypdf")

    runs = ["ours"] + (["ours_w2"] if args.workers else []) + (["ours_api"] if args.api else [])
    if ocrmypdf:
        runs += ["ocrmypdf"] + [run for run, (set_name, _) in FIX_RUNS.items() if set_name in args.sets]
    commands = {"ours": "python -m dask_ocr run IN -o OUT.parquet --pdf DIR --overwrite",
                "ours_w2": f"python -m dask_ocr run IN -o OUT.parquet --pdf DIR --overwrite --workers {args.workers}",
                "ours_api": "read_documents(IN).ocr.detect().ocr.recognize(positions_col='positions'); "
                            "write_pdf(df, DIR)",
                "ocrmypdf": f"ocrmypdf {' '.join(OCRMYPDF_ARGS)} IN.pdf OUT.pdf, {args.ocrmypdf_procs} files at a time",
                **{run: f"ocrmypdf {' '.join(OCRMYPDF_ARGS + fix_args[run])} IN.pdf OUT.pdf, {set_name} only"
                   for run, (set_name, _) in FIX_RUNS.items()}}
    meta = {"date": datetime.date.today().isoformat(), "command": " ".join(["python", *sys.argv]),
            "cpu": cpu(), "platform": __import__("platform").platform(), "tools": tools(ocrmypdf),
            "commands": {r: commands[r] for r in runs}, "repeats": args.repeats,
            "sets": {s: SET_TEXT[s] for s in args.sets}}
    print(f"pdf benchmark: sets {', '.join(args.sets)}, {args.pages} page(s) each; runs {', '.join(runs)}",
          file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        records = {source: load_manifest(args.data, source, args.pages) for source in {SOURCE[s] for s in args.sets}}
        built = {s: build_set(s, records[SOURCE[s]], work / s / "input") for s in args.sets}

        fixed = {}
        if not args.no_fixed:
            one = work / "fixed" / "input"
            build_set("sroie", (records.get("sroie") or load_manifest(args.data, "sroie", 1))[:1], one)
            for run in [r for r in runs if r in ("ours", "ours_w2", "ocrmypdf")]:
                times = []
                for repeat in range(args.repeats + 1):  # the first is a warm-up (caches, first imports)
                    out_dir = work / "fixed" / f"{run}-{repeat}"
                    if run == "ocrmypdf":
                        outcome = run_ocrmypdf(ocrmypdf, [one / "sroie-000.pdf"], out_dir, [], 1)
                    else:
                        outcome = run_ours(one, out_dir, work / "fixed", args.workers if run == "ours_w2" else None)
                    if outcome.failures and run == "ocrmypdf":
                        sys.exit(f"OCRmyPDF fails on a one-page scan: {outcome.failures[0]}")
                    if outcome.failures:
                        print(f"fixed cost, {RUN_LABELS[run]} failed: {outcome.failures[0]}", file=sys.stderr)
                        break
                    if repeat:
                        times.append(outcome.seconds)
                fixed[run] = times
                print(f"fixed cost, {RUN_LABELS[run]}: {_fmt(median(times) if times else None, '.2f')} s",
                      file=sys.stderr)
        elif ocrmypdf:  # fail early, not after the first set
            probe = build_set("sroie", (records.get("sroie") or load_manifest(args.data, "sroie", 1))[:1],
                              work / "probe" / "input")[0]
            outcome = run_ocrmypdf(ocrmypdf, [probe.path], work / "probe" / "out", [], 1)
            if outcome.failures:
                sys.exit(f"OCRmyPDF fails on a one-page scan: {outcome.failures[0]}")

        if "ours_api" in runs:  # load the models before the clock starts
            run_ours_api(work / "fixed" / "input" if fixed else work / args.sets[0] / "input", work / "api-warm")

        results = {}
        for set_name, pages in built.items():
            in_dir = work / set_name / "input"
            input_renders = {page.name: render(page.path) for page in pages}
            results[set_name] = {}
            for run in runs:
                if run in FIX_RUNS and FIX_RUNS[run][0] != set_name:
                    continue
                out_dir = work / set_name / run
                if run == "ours":
                    outcome = run_ours(in_dir, out_dir, work / set_name, None)
                elif run == "ours_w2":
                    outcome = run_ours(in_dir, out_dir, work / set_name, args.workers)
                elif run == "ours_api":
                    outcome = run_ours_api(in_dir, out_dir)
                else:
                    extra = fix_args.get(run, [])
                    outcome = run_ocrmypdf(ocrmypdf, [p.path for p in pages], out_dir, extra, args.ocrmypdf_procs)
                entry = measure(pages, out_dir, outcome, input_renders)
                results[set_name][run] = entry
                print(f"{set_name}, {RUN_LABELS[run]}: {entry['pages_per_s']:.2f} pages/s, F1 {entry['f1']:.3f}, "
                      f"size x{_fmt(entry['size_ratio_median'], '.2f')}, "
                      f"render {_fmt(entry['render_diff_mean'], '.2f')}"
                      + (f", FAILURES {entry['failures'][:2]}" if entry["failures"] else ""), file=sys.stderr)

    markdown = report(results, fixed, runs, meta)
    payload = {"meta": meta, "fixed_cost_s": fixed, "results": results,
               "sets": {s: [{"page": p.name, "dpi": p.dpi, "change": p.change} for p in pages]
                        for s, pages in built.items()}}
    write_results(name, json.loads(json.dumps(payload, default=str)), markdown, args.out)


if __name__ == "__main__":
    main()
