"""Documents in, side by side in one run: a scanned PDF through a 2-worker cluster against a plain loop,
born-digital pages (text layer) against OCR, and worker memory against document length.

1. ``--pages`` (default 200) SROIE and FUNSD dev page images bound into one scanned PDF
   (:func:`dask_ocr.samples.images_to_pdf`): ``read_documents → detect → recognize`` on
   ``start_cluster(n_workers=2)`` vs a plain loop in one process (pypdfium2 renders each page at
   the same dpi, ``RapidOCR()`` reads it, onnxruntime on all cores).
2. The same number of born-digital pages (:func:`dask_ocr.samples.born_digital_pdf`) through the same
   cluster: read from their text layer, not OCR'd.
3. Peak worker RSS for a ``--small`` and a ``--large`` page scanned document (fresh workers each).
   The large document repeats the small one's pages, so the two differ in length only (not in the
   largest page or crop batch a worker meets, which also sets onnxruntime's memory arena).
4. The rendering dpi: word F1 (SROIE case-insensitive) and pages/s of ``--dpi-pages`` dev pages of
   each dataset, bound into a PDF at their scan's own resolution and rendered at each ``--dpis``.

Models are loaded on the workers (and in the loop's engine) before any clock starts.

    python benchmarks/documents.py --data ../shared/data --pages 200 --small 20 --large 400
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, load_manifest, write_results  # noqa: E402

DPI = 200


def scanned_pdf(data: Path, pages: int, folder: Path, name: str, distinct: int | None = None) -> Path:
    """A scanned PDF of ``pages`` dev page images: SROIE and FUNSD alternating, the first ``distinct``
    of them (default all) repeated as needed."""
    from dask_ocr.samples import images_to_pdf

    images = [r["content"] for pair in zip(load_manifest(data, "sroie"), load_manifest(data, "funsd")) for r in pair]
    images = images[:distinct]
    path = folder / name
    path.write_bytes(images_to_pdf([images[i % len(images)] for i in range(pages)], dpi=DPI))
    return path


def born_digital(pages: int, folder: Path) -> Path:
    """A born-digital PDF of ``pages`` pages, the generated sample texts written as a text layer."""
    from dask_ocr.samples import born_digital_pdf
    from dask_ocr.synthetic import make_sample_pages

    data, _ = born_digital_pdf([list(page.lines) for page in make_sample_pages(pages)])
    path = folder / "born_digital.pdf"
    path.write_bytes(data)
    return path


def ours(path: Path, dpi: float = DPI):
    """Seconds and the pages (``page``, ``text``) of read_documents → detect → recognize on the current client."""
    import dask_ocr

    start = time.perf_counter()
    out = dask_ocr.read_documents(str(path), dpi=dpi).ocr.detect().ocr.recognize()
    frame = out[["page", "text", "ocr_error"]].compute()
    seconds = time.perf_counter() - start
    assert frame["ocr_error"].isna().all(), frame["ocr_error"].dropna().head()
    return seconds, frame


def dpi_sweep(data: Path, pages: int, dpis: list[float], folder: Path) -> dict:
    """Per dpi: pages/s and word F1 per dataset of ``pages`` dev pages of SROIE and of FUNSD."""
    from dask_ocr.metrics import bag_of_words
    from dask_ocr.samples import images_to_pdf

    results = {}
    for name, ignore_case in (("sroie", True), ("funsd", False)):
        records = load_manifest(data, name, pages)
        path = folder / f"dpi_{name}.pdf"
        path.write_bytes(images_to_pdf([r["content"] for r in records], dpi=DPI))  # the scan's own resolution
        for dpi in dpis:
            seconds, frame = ours(path, dpi)
            f1 = bag_of_words([r["text"] for r in records], frame.sort_values("page")["text"].fillna("").tolist(),
                              ignore_case=ignore_case).f1
            entry = results.setdefault(str(dpi), {"seconds": 0.0, "pages": 0})
            entry[f"{name}_f1"] = f1
            entry["seconds"] += seconds
            entry["pages"] += len(frame)
    for entry in results.values():
        entry["pages_per_s"] = entry["pages"] / entry["seconds"]
    return results


def plain_loop(path: Path) -> tuple[float, int]:
    """Seconds and pages for pypdfium2 rendering + ``RapidOCR()`` in one process."""
    import numpy as np
    import pypdfium2 as pdfium
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error"})
    document = pdfium.PdfDocument(str(path))
    engine(np.asarray(document[0].render(scale=DPI / 72).to_pil().convert("RGB"))[:, :, ::-1].copy())  # warm up
    start = time.perf_counter()
    for page in document:
        image = np.asarray(page.render(scale=DPI / 72).to_pil().convert("RGB"))[:, :, ::-1].copy()
        engine(image)
    seconds = time.perf_counter() - start
    pages = len(document)
    document.close()
    return seconds, pages


def _peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_worker_rss(client, path: Path) -> float:
    """The highest peak RSS (MiB) of any worker over one job on fresh worker processes."""
    client.restart()  # fresh processes: the peak counts from here; the model plugin loads again
    ours(path)
    return max(client.run(_peak_rss_mib).values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--small", type=int, default=20)
    parser.add_argument("--large", type=int, default=400)
    parser.add_argument("--dpi-pages", type=int, default=20, help="dev pages per dataset in the dpi sweep")
    parser.add_argument("--dpis", type=float, nargs="+", default=[150, 200, 300])
    args = parser.parse_args()

    import dask_ocr

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        scanned = scanned_pdf(args.data, args.pages, folder, "scanned.pdf")
        digital = born_digital(args.pages, folder)
        with dask_ocr.start_cluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as client:
            ours(scanned_pdf(args.data, 4, folder, "warm.pdf"))  # models are loaded by the plugin; warm the path
            ours_s, scanned_frame = ours(scanned)
            digital_s, digital_frame = ours(digital)
            pages, digital_pages = len(scanned_frame), len(digital_frame)
            sweep = dpi_sweep(args.data, args.dpi_pages, args.dpis, folder)
            rss = {n: peak_worker_rss(client, scanned_pdf(args.data, n, folder, f"rss_{n}.pdf", distinct=args.small))
                   for n in (args.small, args.large)}
            client.cluster.close()
        loop_s, loop_pages = plain_loop(scanned)

    results = {"ours_scanned_pages_per_s": pages / ours_s, "loop_scanned_pages_per_s": loop_pages / loop_s,
               "born_digital_pages_per_s": digital_pages / digital_s, "peak_worker_rss_mib": rss, "dpi": sweep}
    ratio = results["ours_scanned_pages_per_s"] / results["loop_scanned_pages_per_s"]
    text_layer_ratio = results["born_digital_pages_per_s"] / results["ours_scanned_pages_per_s"]
    rss_ratio = rss[args.large] / rss[args.small]
    lines = ["| workload | variant | pages | pages/s |", "|---|---|---|---|",
             f"| scanned PDF | plain loop: pypdfium2 render + `RapidOCR()`, 1 process | {loop_pages} | "
             f"{results['loop_scanned_pages_per_s']:.2f} |",
             f"| scanned PDF | dask_ocr `read_documents → detect → recognize`, 2 workers | {pages} | "
             f"{results['ours_scanned_pages_per_s']:.2f} |",
             f"| born-digital PDF | dask_ocr, text layer, 2 workers | {digital_pages} | "
             f"{results['born_digital_pages_per_s']:.2f} |", "",
             f"Scanned: dask_ocr / plain loop **{ratio:.2f}x** (target >= 1.2). Born-digital / OCR pages/s "
             f"**{text_layer_ratio:.0f}x** (target >= 20). Peak worker RSS {rss[args.small]:.0f} MiB for "
             f"{args.small} pages, {rss[args.large]:.0f} MiB for {args.large}: **{rss_ratio:.2f}x** (target <= 1.3). "
             f"{DPI} dpi; the {args.large}-page document repeats the {args.small} pages of the other.", "",
             f"Rendering dpi, {args.dpi_pages} dev pages each of SROIE and FUNSD bound at {DPI} dpi, 2 workers:", "",
             "| dpi | SROIE word F1 | FUNSD word F1 | pages/s |", "|---|---|---|---|",
             *(f"| {float(dpi):.0f} | {e['sroie_f1']:.3f} | {e['funsd_f1']:.3f} | {e['pages_per_s']:.2f} |"
               for dpi, e in sweep.items())]
    write_results("documents", {"results": results, "ratios": {"scanned_vs_loop": ratio,
                                                               "text_layer_vs_ocr": text_layer_ratio,
                                                               "rss_large_vs_small": rss_ratio}}, "\n".join(lines))


if __name__ == "__main__":
    main()
