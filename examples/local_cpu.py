"""OCR a folder of scans on a CPU LocalCluster, resumably, into Parquet.

    python examples/local_cpu.py "scans/**/*.jpg" results/ [--workers N]

Without arguments it OCRs generated sample pages.  One worker process per core, one thread each;
the models load once per worker (``ModelPlugin``).  Interrupt it and run it again: partitions
already written are skipped.
"""

import argparse
import tempfile
from pathlib import Path

import dask_ocr
from dask_ocr.synthetic import make_sample_pages


def sample_scans(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for page in make_sample_pages(8):
        (folder / page.name).write_bytes(page.content)
    return str(folder / "*.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="?", help="files, globs or fsspec URLs (default: generated pages)")
    parser.add_argument("output", nargs="?", default=str(Path(tempfile.gettempdir()) / "dask_ocr_results"))
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    args = parser.parse_args()

    inputs = args.inputs or sample_scans(Path(tempfile.gettempdir()) / "dask_ocr_scans")
    with dask_ocr.start_cluster(n_workers=args.workers, gpu=False) as client:
        print(f"dashboard: {client.dashboard_link}")
        ddf = dask_ocr.read_images(inputs)                # partitions sized for this cluster
        out = ddf.ocr.detect().ocr.recognize(line_tolerance=0, positions_col="positions")
        rows = dask_ocr.write_parquet(out.drop(columns="content"), args.output, resume=True)
        client.cluster.close()
    print(f"{rows} new row(s) in {args.output}")


if __name__ == "__main__":
    main()
