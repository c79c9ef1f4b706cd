"""Throughput of the dask_ocr pipeline against a raw RapidOCR loop, side by side in one run.

Two workloads from ``../shared/data/sroie``:

1. line crops: ``recognize(regions_col=None)`` through a Dask DataFrame vs a raw
   ``RapidOCR()(crop, use_det=False)`` loop (and RapidOCR's own batched recogniser, for reference);
2. pages: ``detect`` + ``recognize`` through a Dask DataFrame vs a raw ``RapidOCR()(image)`` loop.

Models are loaded before timing.  The raw engine uses its defaults (onnxruntime threads = all cores);
dask_ocr runs one onnxruntime thread per Dask worker thread, one worker thread per core, so both
keep all cores busy without oversubscription.  Each variant runs ``--repeats`` times; medians and
ratios are reported and written to ``benchmarks/results/throughput.{json,md}``.

    python benchmarks/throughput.py --data ../shared/data --pages 60 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, line_crops, load_manifest, median, timed, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pages", type=int, default=60, help="SROIE pages to use (lines come from the same pages)")
    parser.add_argument("--line-pages", type=int, default=20, help="pages whose line crops form the line workload")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import dask
    import dask.dataframe as dd
    import pandas as pd
    from rapidocr import RapidOCR

    from dask_ocr.io import decode_image
    from dask_ocr.metrics import bag_of_words, cer
    from dask_ocr.schema import BINARY_DTYPE

    cores = os.cpu_count() or 1
    records = load_manifest(args.data, "sroie", args.pages)
    crops, line_texts = line_crops(records[: args.line_pages])
    crop_arrays = [decode_image(c)[:, :, ::-1].copy() for c in crops]  # RapidOCR takes BGR arrays

    # RapidOCR keeps per-call flags such as use_det=False for later calls: one engine per workload.
    line_engine = RapidOCR(params={"Global.log_level": "error"})
    page_engine = RapidOCR(params={"Global.log_level": "error"})
    line_engine(crop_arrays[0], use_det=False, use_cls=True, use_rec=True)  # load the models before timing
    page_engine(records[0]["content"])

    def raw_lines():
        return [(line_engine(a, use_det=False, use_cls=True, use_rec=True).txts or ("",))[0] for a in crop_arrays]

    recognizer = line_engine.text_rec

    def raw_batched_lines():
        from rapidocr.ch_ppocr_rec import TextRecInput

        return list(recognizer(TextRecInput(img=crop_arrays)).txts)

    def raw_pages():
        return ["\n".join(page_engine(r["content"], use_det=True, use_cls=True, use_rec=True).txts or ())
                for r in records]

    line_frame = pd.DataFrame({"content": pd.Series(crops, dtype=BINARY_DTYPE)})
    page_frame = pd.DataFrame({"content": pd.Series([r["content"] for r in records], dtype=BINARY_DTYPE)})
    line_ddf = dd.from_pandas(line_frame, npartitions=3 * cores)
    page_ddf = dd.from_pandas(page_frame, npartitions=3 * cores)

    def ours_lines():
        return line_ddf.ocr.recognize(regions_col=None)["text"].compute().tolist()

    def ours_pages():
        return page_ddf.ocr.detect().ocr.recognize()["text"].compute().tolist()

    with dask.config.set(scheduler="threads", num_workers=cores):
        dd.from_pandas(page_frame.head(2), npartitions=1).ocr.detect().ocr.recognize().compute()  # warm-up: load models
        results = {}
        variants = [("raw_lines", raw_lines, len(crops)), ("raw_batched_lines", raw_batched_lines, len(crops)),
                    ("ours_lines", ours_lines, len(crops)),
                    ("raw_pages", raw_pages, len(records)), ("ours_pages", ours_pages, len(records))]
        for name, function, count in variants:
            times, output = timed(function, args.repeats)
            results[name] = {"items": count, "times_s": times, "median_s": median(times),
                             "per_s": count / median(times), "output": output}
            print(f"{name}: median {median(times):.2f}s over {args.repeats} runs, {count / median(times):.2f} items/s",
                  flush=True)

    ignore = True  # SROIE transcripts are upper-case
    for key in ("raw_lines", "raw_batched_lines", "ours_lines"):
        results[key]["cer"] = cer(line_texts, [t or "" for t in results[key]["output"]], ignore_case=ignore)
    for key in ("raw_pages", "ours_pages"):
        results[key]["word_f1"] = bag_of_words([r["text"] for r in records], [t or "" for t in results[key]["output"]],
                                               ignore_case=ignore).f1
    for value in results.values():
        value.pop("output")
    line_ratio = results["ours_lines"]["per_s"] / results["raw_lines"]["per_s"]
    page_ratio = results["ours_pages"]["per_s"] / results["raw_pages"]["per_s"]
    rows = [
        ("SROIE line crops", "raw `RapidOCR()(crop, use_det=False)` loop", results["raw_lines"], "cer"),
        ("SROIE line crops", "raw RapidOCR `TextRecognizer`, one list (batch 6)", results["raw_batched_lines"], "cer"),
        ("SROIE line crops", "dask_ocr `recognize(regions_col=None)`, Dask", results["ours_lines"], "cer"),
        ("SROIE pages", "raw `RapidOCR()(image)` loop", results["raw_pages"], "word_f1"),
        ("SROIE pages", "dask_ocr `detect` + `recognize`, Dask", results["ours_pages"], "word_f1"),
    ]
    lines = ["| workload | variant | items | median s | items/s | accuracy |", "|---|---|---|---|---|---|"]
    for workload, variant, value, metric in rows:
        accuracy = f"CER {value[metric]:.2%}" if metric == "cer" else f"word F1 {value[metric]:.3f}"
        lines.append(f"| {workload} | {variant} | {value['items']} | {value['median_s']:.2f} | "
                     f"{value['per_s']:.2f} | {accuracy} |")
    lines += ["", f"Ratio dask_ocr / raw loop: line crops **{line_ratio:.2f}x** (target >= 0.9), "
                  f"pages **{page_ratio:.2f}x** (target >= 1.0); medians of {args.repeats} runs, {cores} cores."]
    ratios = {"lines": line_ratio, "pages": page_ratio}
    write_results("throughput", {"results": results, "ratios": ratios}, "\n".join(lines))


if __name__ == "__main__":
    main()
