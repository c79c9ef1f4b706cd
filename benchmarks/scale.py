"""Scaling of the distributed runtime, side by side in one run.

    python benchmarks/scale.py --data ../shared/data [--small 200] [--large 2000] [--workers-images 600]

Images: SROIE dev line crops written as PNG files and repeated to the sizes asked for; each job is
``read_images → recognize(regions_col=None) → write_parquet`` on a fresh CPU ``start_cluster``
(worker processes, one thread each, models loaded by the plugin before the clock starts).

Each cluster first runs 16 other images untimed (worker imports, first inference), as the raw
loop's model is loaded before its clock starts; the warm-up time is recorded too.

* small vs large job on 2 workers: wall time ratio, and peak worker memory (RSS of the worker
  processes, sampled every 0.2 s) ratio;
* 1 vs 2 workers on the same images: throughput ratio;
* the Dask pipeline vs a raw engine loop in this process (read, decode, one batched
  ``PPOCRRecognizer`` call with onnxruntime on all cores) on the same images: overhead.

Results go to ``benchmarks/results/scale.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, line_crops, load_manifest, write_results  # noqa: E402


def write_images(folder: Path, crops: list[bytes], count: int) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{i:06d}.png").write_bytes(crops[i % len(crops)])
    return str(folder / "*.png")


class PeakMemory:
    """Samples the RSS of every worker process from here (psutil, no Dask messages) in a thread;
    ``peak`` is the largest worker seen."""

    def __init__(self, client, interval: float = 0.2):
        import os

        import psutil

        self.processes = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        self.interval, self.peak = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max([self.peak, *(process.memory_info().rss for process in self.processes)])
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_job(pattern: str, output: Path) -> tuple[int, int]:
    import dask_ocr

    ddf = dask_ocr.read_images(pattern)
    job = ddf.ocr.recognize(regions_col=None)[["path", "text", "ocr_error"]]
    return dask_ocr.write_parquet(job, str(output), resume=False, progress=False), ddf.npartitions


def dask_job(pattern: str, workers: int, output: Path, warm_up: str) -> dict:
    """Wall time and peak worker memory of one job on a fresh cluster of ``workers`` processes.

    As the raw loop's model is loaded before its clock starts, the cluster first loads the model
    (plugin) and runs a few images (``warm_up``: worker imports, first inference), untimed.
    """
    import dask_ocr

    with dask_ocr.start_cluster(n_workers=workers, gpu=False, dashboard_address=None,
                                models=None) as client:
        dask_ocr.register_models(client, "ppocr", tasks=("recognize",))
        start = time.perf_counter()
        run_job(warm_up, output)
        warm_up_seconds = time.perf_counter() - start
        with PeakMemory(client) as memory:
            start = time.perf_counter()
            rows, partitions = run_job(pattern, output)
            seconds = time.perf_counter() - start
        client.cluster.close()
    return {"images": rows, "workers": workers, "partitions": partitions, "seconds": seconds,
            "images_per_s": rows / seconds, "peak_worker_rss_mb": memory.peak / 2 ** 20,
            "warm_up_seconds": warm_up_seconds}


def raw_loop(pattern: str) -> dict:
    """The engine alone, in this process: read, decode, one batched recognizer call."""
    import glob
    import os

    from dask_ocr.decode import decode_image
    from dask_ocr.models.ppocr import PPOCRRecognizer

    recognizer = PPOCRRecognizer(threads=os.cpu_count() or 1)
    start = time.perf_counter()
    images = [decode_image(Path(path).read_bytes()) for path in sorted(glob.glob(pattern))]
    readings = recognizer.recognize(images, batch_size=32)
    seconds = time.perf_counter() - start
    return {"images": len(readings), "seconds": seconds, "images_per_s": len(readings) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--small", type=int, default=200)
    parser.add_argument("--large", type=int, default=2000)
    parser.add_argument("--workers-images", type=int, default=600, help="images for the 1 vs 2 workers run")
    args = parser.parse_args()

    crops, _ = line_crops(load_manifest(args.data, "sroie", 20))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = write_images(tmp / "small", crops, args.small)
        large = write_images(tmp / "large", crops, args.large)
        medium = write_images(tmp / "medium", crops, args.workers_images)
        warm_up = write_images(tmp / "warm_up", crops[::7], 16)
        runs = {
            "small": dask_job(small, 2, tmp / "out_small", warm_up),
            "large": dask_job(large, 2, tmp / "out_large", warm_up),
            "one_worker": dask_job(medium, 1, tmp / "out_one", warm_up),
            "two_workers": dask_job(medium, 2, tmp / "out_two", warm_up),
            "raw_loop": raw_loop(medium),
        }
    for name, run in runs.items():
        print(name, run, flush=True)
    ratios = {
        "time_large_over_small": runs["large"]["seconds"] / runs["small"]["seconds"],
        "memory_large_over_small": runs["large"]["peak_worker_rss_mb"] / runs["small"]["peak_worker_rss_mb"],
        "speedup_two_workers": runs["two_workers"]["images_per_s"] / runs["one_worker"]["images_per_s"],
        "dask_overhead_vs_raw": runs["two_workers"]["seconds"] / runs["raw_loop"]["seconds"] - 1,
    }
    size = args.large / args.small
    rows = [
        f"| {args.small} vs {args.large} images, 2 workers | wall time ratio | {ratios['time_large_over_small']:.2f}× "
        f"({runs['small']['seconds']:.1f} s → {runs['large']['seconds']:.1f} s) | ≤ {1.1 * size:.0f}× |",
        f"| {args.small} vs {args.large} images, 2 workers | peak worker memory ratio | "
        f"{ratios['memory_large_over_small']:.2f}× ({runs['small']['peak_worker_rss_mb']:.0f} MB → "
        f"{runs['large']['peak_worker_rss_mb']:.0f} MB) | ≤ 1.5× |",
        f"| {args.workers_images} images, 1 vs 2 workers | throughput ratio | {ratios['speedup_two_workers']:.2f}× "
        f"({runs['one_worker']['images_per_s']:.1f} → {runs['two_workers']['images_per_s']:.1f} images/s) | ≥ 1.6× |",
        f"| {args.workers_images} images, Dask (2 workers) vs raw engine loop | overhead | "
        f"{100 * ratios['dask_overhead_vs_raw']:+.1f} % ({runs['raw_loop']['seconds']:.1f} s raw, "
        f"{runs['two_workers']['seconds']:.1f} s Dask) | ≤ +10 % |",
    ]
    markdown = "\n".join([
        "SROIE dev line crops repeated; `read_images → recognize(regions_col=None) → write_parquet`, "
        "fresh CPU `start_cluster` per job (worker processes, 1 thread each).", "",
        "| comparison | measure | result | target |", "|---|---|---|---|", *rows])
    write_results("scale", {"runs": runs, "ratios": ratios}, markdown)


if __name__ == "__main__":
    main()
