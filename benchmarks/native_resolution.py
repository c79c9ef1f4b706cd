"""The resolution scanned PDF pages are read at: each scan's own pixels (with a floor) against fixed-dpi rendering.

``--pages`` SROIE and FUNSD dev pages, each bound into a one-page scanned PDF at a plausible resolution of its
own (as ``benchmarks/pdf.py`` builds them: a SROIE receipt is 80 mm wide, ``dpi = width / 3.15``, 127 to 780
dpi; a FUNSD form is a US letter page, ``dpi = height / 11``, about 91 dpi), read by
``read_documents → detect → recognize`` in this process (threads, models loaded before the clock starts) with:

* ``fixed D``: every page rendered at D dpi (``read_documents(dpi=D)``, the rule before native reading);
* ``native F``: a scan rendered at its image's own resolution, or at F dpi where it is coarser
  (``dask_ocr.defaults.NATIVE_MIN_DPI = F``; ``native 0``: always its own pixels).

Reported per set and rule: word F1 (bag of words pooled over pages, SROIE case-insensitive as in
``accuracy.py``) and seconds per page.

    python benchmarks/native_resolution.py --data ../shared/data --pages 20
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, load_manifest, write_results  # noqa: E402

RULES = [("fixed", 200.0), ("native", 0.0), ("native", 100.0), ("native", 150.0)]


def scans(data: Path, name: str, pages: int, folder: Path) -> tuple[Path, dict[str, str]]:
    """One scanned PDF per dev page of ``name`` in ``folder/name``; the ground truth per PDF path."""
    from PIL import Image

    from dask_ocr.samples import images_to_pdf

    target = folder / name
    target.mkdir()
    truth = {}
    for number, record in enumerate(load_manifest(data, name)[:pages]):
        width, height = Image.open(io.BytesIO(record["content"])).size
        dpi = width / 3.15 if name == "sroie" else height / 11
        path = target / f"{number:03d}.pdf"
        path.write_bytes(images_to_pdf([record["content"]], dpi=dpi))
        truth[str(path)] = record["text"]
    return target, truth


def read(folder: Path, rule: str, value: float):
    """Seconds and the recognised frame of ``folder`` read under one rule."""
    import dask_ocr
    from dask_ocr import defaults

    defaults.NATIVE_MIN_DPI = value
    start = time.perf_counter()
    frame = dask_ocr.read_documents(str(folder), dpi=value if rule == "fixed" else None).ocr.detect().ocr.recognize()
    frame = frame.compute()
    return time.perf_counter() - start, frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pages", type=int, default=20)
    args = parser.parse_args()

    from dask_ocr.metrics import bag_of_words

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        sets = {name: scans(args.data, name, args.pages, Path(tmp)) for name in ("sroie", "funsd")}
        read(sets["sroie"][0], "fixed", 200.0)  # load the models
        for name, (folder, truth) in sets.items():
            for rule, value in RULES:
                seconds, frame = read(folder, rule, value)
                fold = str.lower if name == "sroie" else (lambda text: text)
                expected = "\n".join(fold(truth[path]) for path in frame["path"])
                found = "\n".join(fold(text or "") for text in frame["text"])
                results.setdefault(f"{rule} {value:g}", {})[name] = {
                    "f1": bag_of_words(expected, found).f1, "seconds_per_page": seconds / len(frame),
                    "median_dpi": float(frame["dpi"].median())}
                print(name, rule, value, results[f"{rule} {value:g}"][name], flush=True)
    lines = [f"Reading resolution of scanned PDFs, {args.pages} dev pages each (SROIE at 80 mm wide, FUNSD at "
             "letter height), in-process threads:", "",
             "| rule | SROIE word F1 | SROIE s/page | SROIE median dpi | FUNSD word F1 | FUNSD s/page | "
             "FUNSD median dpi |", "|---|---|---|---|---|---|---|"]
    for key, entry in results.items():
        s, f = entry["sroie"], entry["funsd"]
        lines.append(f"| {key} | {s['f1']:.3f} | {s['seconds_per_page']:.2f} | {s['median_dpi']:.0f} | "
                     f"{f['f1']:.3f} | {f['seconds_per_page']:.2f} | {f['median_dpi']:.0f} |")
    write_results("native_resolution", {"pages": args.pages, "rules": results}, "\n".join(lines))


if __name__ == "__main__":
    main()
