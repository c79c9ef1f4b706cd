"""Listing documents: ``read_documents`` over a folder of ``--files`` small PDFs (one and three pages,
alternating), which lists the files and counts their pages on the client, and builds the frame.

Twice: on the local disk as it is, and behind ``--latency`` seconds per file opened (a filesystem that waits
that long before each open, as an object store's round trip would).  The best of ``--rounds`` calls is kept.

    python benchmarks/listing.py --files 10000 --latency 0.005 --rounds 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fsspec  # noqa: E402

from _common import LatencyFileSystem, timed, write_results  # noqa: E402


def write_documents(folder: Path, files: int) -> int:
    """``files`` PDFs of one and three pages alternating; their pages in all."""
    from dask_ocr.samples import born_digital_pdf

    one, _ = born_digital_pdf([["A one-page letter"]])
    three, _ = born_digital_pdf([["Page one"], ["Page two"], ["Page three"]])
    for number in range(files):
        (folder / f"document_{number:05d}.pdf").write_bytes(three if number % 2 else one)
    return sum(3 if number % 2 else 1 for number in range(files))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds per file opened, the second run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--name", default="listing", help="result file name in benchmarks/results/")
    args = parser.parse_args()

    import dask_ocr

    LatencyFileSystem.latency = args.latency
    fsspec.register_implementation("latency", LatencyFileSystem, clobber=True)
    with tempfile.TemporaryDirectory(prefix="dask_ocr_listing_") as tmp:
        pages = write_documents(Path(tmp), args.files)
        results = {}
        for label, path in (("local disk", tmp), (f"{args.latency * 1e3:g} ms per open", f"latency://{tmp}")):
            times, ddf = timed(lambda path=path: dask_ocr.read_documents(path), args.rounds)
            assert ddf.divisions[-1] + 1 == pages, (ddf.divisions[-1] + 1, pages)   # one row per page, none read
            results[label] = min(times)
    rows = [f"| {label} | {seconds:.2f} | {args.files / seconds:,.0f} |" for label, seconds in results.items()]
    markdown = "\n".join([f"`read_documents` over {args.files:,} PDFs ({pages:,} pages), best of {args.rounds}:", "",
                          "| files | seconds | files/s |", "|---|---:|---:|", *rows])
    write_results(args.name, {"files": args.files, "pages": pages, "latency_s": args.latency, "rounds": args.rounds,
                              "seconds": results}, markdown)


if __name__ == "__main__":
    main()
