"""Accuracy and throughput of every engine on every dataset of ``../shared/data``, in one run.

    python benchmarks/accuracy.py --data ../shared/data [--pages N] [--crops N] [--trocr PATH] [--no-peers]

Workloads, per dataset:

* **crops**: the manifest's line or word boxes cut from the page with a 4 px margin (SROIE lines,
  FUNSD words, FONDUE lines), or the line images themselves (IAM, Hooker); CER.
* **pages** (SROIE, FUNSD, FONDUE): the whole page; bag-of-words precision / recall / F1, plus CER
  where the transcript has a reading order (SROIE, FONDUE; FUNSD's page text is a heuristic order).

Engines: the dask_ocr pipeline (a Dask DataFrame, threads scheduler) with ``ppocr``, with
``tesseract`` when the program is installed, and with a TrOCR checkpoint given by ``--trocr``
(pages: PP-OCR detection feeds TrOCR).  Peers, unless ``--no-peers``: a raw ``RapidOCR()`` loop
and a ``tesseract`` command-line loop (one process per image, as ``pytesseract`` does).  Models
load before the clock starts.  SROIE is compared case-insensitively (DESIGN §7).

Writes ``accuracy.{json,md,png}`` to ``--out`` (default ``benchmarks/results``): the PNG plots
accuracy against throughput, one point per engine and dataset.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, RESULTS, line_crops, load_manifest, machine, write_results  # noqa: E402

DATASETS = ("sroie", "funsd", "iam_lines", "hooker_lines", "fondue_en_print")
IGNORE_CASE = {"sroie"}
ORDERED_PAGES = {"sroie", "fondue_en_print"}
CROP_MARGIN = 4


@dataclass
class Workload:
    """Images of one dataset and task, with their reference texts."""

    dataset: str
    task: str  # "crops" or "pages"
    images: list[bytes]
    references: list[str]


def workloads(data: Path, pages: int | None, crops: int | None) -> list[Workload]:
    """The crop workload of every dataset, and the page workload of those with pages."""
    found = []
    for dataset in DATASETS:
        records = load_manifest(data, dataset)
        if records[0]["kind"] == "line":
            images, texts = [r["content"] for r in records], [r["text"] for r in records]
        else:
            images, texts = line_crops(records, margin=CROP_MARGIN)
        found.append(Workload(dataset, "crops", images[:crops], texts[:crops]))
        if records[0]["kind"] == "page":
            found.append(Workload(dataset, "pages", [r["content"] for r in records[:pages]],
                                  [r["text"] for r in records[:pages]]))
    return found


def pipeline_reader(detector: str, recognizer: str):
    """The dask_ocr pipeline on a Dask DataFrame; pages are detected first, crops read whole."""
    import dask.dataframe as dd
    import pandas as pd

    import dask_ocr  # noqa: F401  (registers the accessor)
    from dask_ocr.schema import BINARY_DTYPE

    def read(images: list[bytes], task: str) -> list[str]:
        frame = pd.DataFrame({"content": pd.Series(images, dtype=BINARY_DTYPE)})
        ddf = dd.from_pandas(frame, npartitions=max(1, min(len(frame), 12)))
        if task == "pages":
            out = ddf.ocr.detect(model=detector).ocr.recognize(model=recognizer, line_tolerance=0)
        else:
            out = ddf.ocr.recognize(model=recognizer, regions_col=None)
        out = out[["text", "ocr_error"]].compute()
        errors = out["ocr_error"].dropna()
        if len(errors):
            print(f"  {len(errors)} rows failed, e.g. {errors.iloc[0]}", flush=True)
        return out["text"].fillna("").tolist()

    return read


def rapidocr_reader():
    """A raw ``RapidOCR()`` loop: one call per image (``use_det=False`` for crops)."""
    from rapidocr import RapidOCR

    engines = {task: RapidOCR(params={"Global.log_level": "error"}) for task in ("crops", "pages")}

    def read(images: list[bytes], task: str) -> list[str]:
        if task == "pages":
            return ["\n".join(engines[task](image).txts or ()) for image in images]
        return [" ".join(engines[task](image, use_det=False, use_cls=True, use_rec=True).txts or ())
                for image in images]

    return read


def tesseract_cli_reader():
    """A raw ``tesseract`` loop: one process per image, ``--psm 7`` for crops, the default for pages."""

    def read(images: list[bytes], task: str) -> list[str]:
        options = ["--psm", "7"] if task == "crops" else []
        return [subprocess.run(["tesseract", "stdin", "stdout", *options], input=image, capture_output=True,
                               check=True).stdout.decode().strip() for image in images]

    return read


def engines(trocr: str | None, peers: bool) -> dict[str, object]:
    """Name → reader; Tesseract only when its program is on ``PATH``."""
    found = {"dask_ocr ppocr": pipeline_reader("ppocr", "ppocr")}
    has_tesseract = shutil.which("tesseract") is not None
    if has_tesseract:
        found["dask_ocr tesseract"] = pipeline_reader("tesseract", "tesseract")
    else:
        print("tesseract is not installed: its rows are skipped (apt-get install tesseract-ocr tesseract-ocr-eng)")
    if trocr:
        found["dask_ocr trocr"] = pipeline_reader("ppocr", trocr)
    if peers:
        found["raw RapidOCR loop"] = rapidocr_reader()
        if has_tesseract:
            found["raw tesseract CLI loop"] = tesseract_cli_reader()
    return found


def score(workload: Workload, texts: list[str]) -> dict:
    """CER for crops; word P/R/F1 (and CER where ordered) for pages."""
    from dask_ocr.metrics import bag_of_words, cer

    ignore = workload.dataset in IGNORE_CASE
    if workload.task == "crops":
        return {"cer": cer(workload.references, texts, ignore_case=ignore)}
    words = bag_of_words(workload.references, texts, ignore_case=ignore)
    scores = {"precision": words.precision, "recall": words.recall, "f1": words.f1}
    if workload.dataset in ORDERED_PAGES:
        scores["cer"] = cer(workload.references, texts, ignore_case=ignore)
    return scores


def measure(readers: dict, loads: list[Workload]) -> list[dict]:
    """Warm each engine on one image of each task, then time and score every workload."""
    rows = []
    for name, read in readers.items():
        for task in ("crops", "pages"):
            sample = next(w for w in loads if w.task == task)
            read(sample.images[:1], task)
        for workload in loads:
            start = time.perf_counter()
            texts = read(workload.images, workload.task)
            seconds = time.perf_counter() - start
            row = {"engine": name, "dataset": workload.dataset, "task": workload.task, "items": len(texts),
                   "seconds": seconds, "per_s": len(texts) / seconds, **score(workload, texts)}
            rows.append(row)
            print({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    return rows


def markdown(rows: list[dict], command: str, described: str) -> str:
    """The crop table (CER, lines/s) and the page table (P/R/F1, CER, pages/s)."""
    baseline = {(r["dataset"], r["task"]): r["per_s"] for r in rows if r["engine"] == "dask_ocr ppocr"}
    crops = ["| dataset | engine | crops | CER | crops/s | speed vs dask_ocr ppocr |", "|---|---|---|---|---|---|"]
    pages = ["| dataset | engine | pages | word P | word R | word F1 | page CER | pages/s | speed vs dask_ocr ppocr |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (DATASETS.index(r["dataset"]), r["engine"] != "dask_ocr ppocr", r["engine"])):
        ratio = f"{r['per_s'] / baseline[r['dataset'], r['task']]:.2f}×"
        head = f"| {r['dataset']} | {r['engine']} | {r['items']} |"
        if r["task"] == "crops":
            crops.append(f"{head} {r['cer']:.2%} | {r['per_s']:.1f} | {ratio} |")
        else:
            page_cer = f"{r['cer']:.2%}" if "cer" in r else "–"
            pages.append(f"{head} {r['precision']:.3f} | {r['recall']:.3f} | **{r['f1']:.3f}** | {page_cer} | "
                         f"{r['per_s']:.2f} | {ratio} |")
    return "\n".join([f"`{command}` on {described}.", "", "Crops (lines or words):", "", *crops, "",
                      "Pages:", "", *pages])


def plot(rows: list[dict], path: Path) -> None:
    """Accuracy against throughput: crop CER and page word F1, one point per engine and dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    names = sorted({r["engine"] for r in rows})
    markers = dict(zip(names, "osD^vP*X"))
    colours = dict(zip(DATASETS, plt.get_cmap("tab10").colors))
    figure, axes = plt.subplots(1, 2, figsize=(13, 5), constrained_layout=True)
    for axis, task, metric, label in [(axes[0], "crops", "cer", "CER, crops (axis inverted: up is better)"),
                                      (axes[1], "pages", "f1", "word F1, pages")]:
        for r in (r for r in rows if r["task"] == task):
            axis.scatter(r["per_s"], r[metric], marker=markers[r["engine"]], color=colours[r["dataset"]], s=60)
        axis.set_xscale("log")
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel(f"{task}/s (log scale)")
        axis.set_ylabel(label)
        axis.grid(True, alpha=0.3)
    axes[0].invert_yaxis()
    axes[0].yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:.0%}"))
    handles = [plt.Line2D([], [], marker=markers[n], color="grey", linestyle="", label=n) for n in names]
    handles += [plt.Line2D([], [], marker="o", color=colours[d], linestyle="", label=d) for d in DATASETS]
    figure.legend(handles=handles, loc="outside right center", fontsize=8)
    figure.suptitle("Accuracy against throughput (up and right is better)")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pages", type=int, default=None, help="pages per dataset (default: all)")
    parser.add_argument("--crops", type=int, default=None, help="crops per dataset (default: all)")
    parser.add_argument("--trocr", help="a local TrOCR checkpoint directory (or Hub id) to add as an engine")
    parser.add_argument("--no-peers", dest="peers", action="store_false", help="skip the raw RapidOCR and CLI loops")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for accuracy.{json,md,png}")
    args = parser.parse_args()

    import dask

    with dask.config.set(scheduler="threads"):
        rows = measure(engines(args.trocr, args.peers), workloads(args.data, args.pages, args.crops))
    info = machine()
    described = f"{info['processor']}, {info['cpus']} cores, {info['platform']}"
    command = " ".join(["python", *sys.argv])
    args.out.mkdir(parents=True, exist_ok=True)
    plot(rows, args.out / "accuracy.png")
    write_results("accuracy", {"rows": rows}, markdown(rows, command, described) + "\n\n![accuracy](accuracy.png)",
                  folder=args.out)


if __name__ == "__main__":
    main()
