"""Throughput of the dask_ocr pipeline against raw RapidOCR, side by side in one run.

Two workloads from ``../shared/data/sroie``:

1. line crops: ``recognize(regions_col=None)`` through a Dask DataFrame (``ppocr`` on its default
   runtime, on onnxruntime — the previous default — and ``ppocr_fast``) vs a raw
   ``RapidOCR()(crop, use_det=False)`` loop and RapidOCR's own batched ``TextRecognizer`` given every
   crop in one list, on onnxruntime and on OpenVINO (``engine_type``);
2. pages: ``detect`` + ``recognize`` through a Dask DataFrame (the same three) vs a raw
   ``RapidOCR()(image)`` loop on onnxruntime and on OpenVINO.

Models are loaded before timing.  The raw engine uses its defaults (all cores; OpenVINO's CPU
default precision, bf16 on CPUs with native bfloat16 — as ``runtime="auto"`` picks here); dask_ocr
runs one model thread per Dask worker thread, one worker thread per core, so both keep all cores
busy without oversubscription.  Pages per core-hour = pages/s x 3600 / cores.  The variants take
turns, ``--repeats`` rounds (the machine is shared and timings drift: turns keep the comparison fair); medians and
ratios are
reported and written to ``benchmarks/results/throughput.{json,md}``.

    python benchmarks/throughput.py --data ../shared/data --pages 60 --line-pages 20 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import time  # noqa: E402

from _common import DEFAULT_DATA, line_crops, load_manifest, median, write_results  # noqa: E402

#: Variant → (workload, label in the table).
LABELS = {
    "raw_lines": ("SROIE line crops", "raw `RapidOCR()(crop, use_det=False)` loop", "onnxruntime"),
    "raw_batched_lines": ("SROIE line crops", "raw RapidOCR `TextRecognizer`, one list (its batch 6)", "onnxruntime"),
    "raw_ov_batched_lines": ("SROIE line crops", "raw RapidOCR `TextRecognizer`, one list (its batch 6)",
                             "OpenVINO (its default precision)"),
    "ours_lines": ("SROIE line crops", "dask_ocr `ppocr` `recognize(regions_col=None)`, Dask", "auto"),
    "ours_ort_lines": ("SROIE line crops", "dask_ocr `ppocr` `recognize(regions_col=None)`, Dask",
                       "onnxruntime (the previous default)"),
    "fast_lines": ("SROIE line crops", "dask_ocr `ppocr_fast` `recognize(regions_col=None)`, Dask", "auto"),
    "raw_pages": ("SROIE pages", "raw `RapidOCR()(image)` loop", "onnxruntime"),
    "raw_ov_pages": ("SROIE pages", "raw `RapidOCR()(image)` loop", "OpenVINO (its default precision)"),
    "ours_pages": ("SROIE pages", "dask_ocr `ppocr` `detect` + `recognize`, Dask", "auto"),
    "ours_ort_pages": ("SROIE pages", "dask_ocr `ppocr` `detect` + `recognize`, Dask",
                       "onnxruntime, int8 detector (the previous default)"),
    "fast_pages": ("SROIE pages", "dask_ocr `ppocr_fast` `detect` + `recognize`, Dask", "auto"),
}
#: Acceptance ratios: (numerator, denominator, target).
TARGETS = {"pages vs the previous default (onnxruntime)": ("ours_pages", "ours_ort_pages", 2.0),
           "pages vs raw RapidOCR loop on OpenVINO": ("ours_pages", "raw_ov_pages", 1.3),
           "line crops vs the previous default (onnxruntime)": ("ours_lines", "ours_ort_lines", 1.5),
           "pages vs raw loop (onnxruntime)": ("ours_pages", "raw_pages", 1.8),
           "line crops vs raw per-crop loop": ("ours_lines", "raw_lines", 3.0),
           "line crops vs raw batched TextRecognizer": ("ours_lines", "raw_batched_lines", 1.5),
           "ppocr_fast pages vs ppocr pages": ("fast_pages", "ours_pages", 4.0)}
#: SROIE pages per core-hour to reach with the defaults.
PAGES_PER_CORE_HOUR = 5000


def raw_variants(records, crop_arrays) -> dict:
    """The raw RapidOCR callables, models loaded."""
    from rapidocr import EngineType, RapidOCR
    from rapidocr.ch_ppocr_rec import TextRecInput

    openvino = {f"{part}.engine_type": EngineType.OPENVINO for part in ("Det", "Cls", "Rec")}
    # RapidOCR keeps per-call flags such as use_det=False for later calls: one engine per workload.
    line_engine = RapidOCR(params={"Global.log_level": "error"})
    page_engine = RapidOCR(params={"Global.log_level": "error"})
    ov_line_engine = RapidOCR(params={"Global.log_level": "error", **openvino})
    ov_page_engine = RapidOCR(params={"Global.log_level": "error", **openvino})
    for engine in (line_engine, ov_line_engine):
        engine(crop_arrays[0], use_det=False, use_cls=True, use_rec=True)
    for engine in (page_engine, ov_page_engine):
        engine(records[0]["content"])

    def pages(engine):
        return ["\n".join(engine(r["content"], use_det=True, use_cls=True, use_rec=True).txts or ()) for r in records]

    return {
        "raw_lines": lambda: [(line_engine(a, use_det=False, use_cls=True, use_rec=True).txts or ("",))[0]
                              for a in crop_arrays],
        "raw_batched_lines": lambda: list(line_engine.text_rec(TextRecInput(img=crop_arrays)).txts),
        "raw_ov_batched_lines": lambda: list(ov_line_engine.text_rec(TextRecInput(img=crop_arrays)).txts),
        "raw_pages": lambda: pages(page_engine),
        "raw_ov_pages": lambda: pages(ov_page_engine),
    }


def our_variants(records, crops, cores: int) -> dict:
    """The dask_ocr callables (``ppocr`` and ``ppocr_fast``), models loaded."""
    import dask.dataframe as dd
    import pandas as pd

    from dask_ocr.schema import BINARY_DTYPE

    def frame(contents):
        return dd.from_pandas(pd.DataFrame({"content": pd.Series(contents, dtype=BINARY_DTYPE)}),
                              npartitions=3 * cores)

    lines, pages = frame(crops), frame([r["content"] for r in records])
    warm = dd.from_pandas(pd.DataFrame({"content": pd.Series([records[0]["content"]], dtype=BINARY_DTYPE)}), 1)
    variants = {}
    for prefix, model, runtime in (("ours", "ppocr", "auto"), ("ours_ort", "ppocr", "onnxruntime"),
                                   ("fast", "ppocr_fast", "auto")):
        engine = {"model": model, "runtime": runtime}
        warm.ocr.detect(**engine).ocr.recognize(**engine).compute()           # load the models
        variants[f"{prefix}_lines"] = (lambda e=engine: lines.ocr.recognize(regions_col=None, **e)["text"]
                                       .compute().tolist())
        variants[f"{prefix}_pages"] = (lambda e=engine: pages.ocr.detect(**e).ocr.recognize(**e)["text"]
                                       .compute().tolist())
    return variants


def in_turns(variants: dict, repeats: int) -> dict:
    """Run every variant once per round, ``repeats`` rounds: times and the last output of each."""
    results = {name: {"times_s": []} for name in variants}
    for round_number in range(repeats):
        for name, function in variants.items():
            start = time.perf_counter()
            results[name]["output"] = function()
            results[name]["times_s"].append(time.perf_counter() - start)
            print(f"round {round_number + 1}: {name} {results[name]['times_s'][-1]:.2f}s", flush=True)
    return results


def score(results: dict, counts: dict, line_texts, records) -> None:
    """Add items/s and accuracy (CER for lines, word F1 for pages; case-insensitive) to each result."""
    from dask_ocr.metrics import bag_of_words, cer

    for name, value in results.items():
        output = [t or "" for t in value.pop("output")]
        value.update(items=counts[name], median_s=median(value["times_s"]))
        value["per_s"] = value["items"] / value["median_s"]
        if name.endswith("lines"):
            value["cer"] = cer(line_texts, output, ignore_case=True)
        else:
            value["word_f1"] = bag_of_words([r["text"] for r in records], output, ignore_case=True).f1


def report(results: dict, repeats: int, cores: int, runtimes: dict) -> tuple[str, dict]:
    lines = ["| workload | variant | runtime | items | median s | items/s | per core-hour | accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for name, (workload, label, runtime) in LABELS.items():
        value = results[name]
        accuracy = f"CER {value['cer']:.2%}" if "cer" in value else f"word F1 {value['word_f1']:.3f}"
        runtime = runtimes.get(runtime, runtime)
        lines.append(f"| {workload} | {label} | {runtime} | {value['items']} | {value['median_s']:.2f} | "
                     f"{value['per_s']:.2f} | {value['per_s'] * 3600 / cores:,.0f} | {accuracy} |")
    ratios = {goal: results[a]["per_s"] / results[b]["per_s"] for goal, (a, b, _) in TARGETS.items()}
    ratios["SROIE pages per core-hour"] = results["ours_pages"]["per_s"] * 3600 / cores
    lines += ["", "| ratio | measured | target | met |", "|---|---|---|---|"]
    lines += [f"| {goal} | **{ratios[goal]:.2f}x** | >= {target}x | {'yes' if ratios[goal] >= target else 'no'} |"
              for goal, (_, _, target) in TARGETS.items()]
    per_hour = ratios["SROIE pages per core-hour"]
    lines.append(f"| SROIE pages per core-hour (defaults) | **{per_hour:,.0f}** | >= {PAGES_PER_CORE_HOUR:,} | "
                 f"{'yes' if per_hour >= PAGES_PER_CORE_HOUR else 'no'} |")
    lines += ["", f"Medians of {repeats} rounds (variants in turn), {cores} cores, one run; the machine is shared, "
                  "so absolute times drift and the ratios are what compare."]
    return "\n".join(lines), ratios


def auto_runtimes() -> str:
    """What ``runtime="auto"`` runs the default detector and recognizer on, here."""
    from dask_ocr.models.onnx import resolve_runtime
    from dask_ocr.models.ppocr import DETECTOR_RUNTIMES, RECOGNIZER_RUNTIMES

    (det, det_p), (rec, rec_p) = (resolve_runtime("auto", "auto", False, p)
                                  for p in (DETECTOR_RUNTIMES, RECOGNIZER_RUNTIMES))
    return f"auto: detector {det} {det_p}, recognizer {rec} {rec_p}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pages", type=int, default=60, help="SROIE pages to use (lines come from the same pages)")
    parser.add_argument("--line-pages", type=int, default=20, help="pages whose line crops form the line workload")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import dask

    from dask_ocr.decode import decode_image

    cores = os.cpu_count() or 1
    records = load_manifest(args.data, "sroie", args.pages)
    crops, line_texts = line_crops(records[: args.line_pages])
    crop_arrays = [decode_image(c)[:, :, ::-1].copy() for c in crops]  # RapidOCR takes BGR arrays
    with dask.config.set(scheduler="threads", num_workers=cores):
        variants = {**raw_variants(records, crop_arrays), **our_variants(records, crops, cores)}
        results = in_turns({name: variants[name] for name in LABELS}, args.repeats)
    score(results, {name: len(crops) if name.endswith("lines") else len(records) for name in results},
          line_texts, records)
    markdown, ratios = report(results, args.repeats, cores, {"auto": auto_runtimes()})
    write_results("throughput", {"results": results, "ratios": ratios}, markdown)


if __name__ == "__main__":
    main()
