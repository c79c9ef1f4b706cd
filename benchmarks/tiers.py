"""Model tiers and model levers, each measured for speed and accuracy on the dev split in one run.

    python benchmarks/tiers.py --data ../shared/data [--limit N] [--variants a,b,...]

Workloads (all through a Dask DataFrame on the threaded scheduler, 2 threads, one model thread each):
SROIE and FUNSD pages (``detect`` + ``recognize``; word F1, SROIE case-insensitive), SROIE lines
(the manifest boxes as regions, border 4 px; CER, case-insensitive) and IAM lines (whole images,
``regions_col=None``; CER).  Variants: the tiers (``ppocr``, ``ppocr_fast``; ``ppocr_medium`` is
fetched on first use and cannot be measured here, without internet) and the levers of the
default engine, one at a time: the detector not quantized (fp32, the previous default; the
default detector is static int8, calibrated on generated pages), the memory arena off, int8
quantization of the detector (dynamic) and of the recognizer (dynamic, and static calibrated on
12 generated pages, the 4 FONDUE pages and 40 Hooker lines, none of them evaluation data), and
the detection resolution.

Variants run one after the other (models loaded before the clock, one variant's sessions in memory
at a time), each through all four workloads; the machine is shared and timings drift, so read
the speed columns as ratios to ``ppocr`` in the same table, and repeat a close call.  A lever may
become a default only if every accuracy stays within 0.005 F1 and 0.1 point CER of the defaults.
Results go to ``benchmarks/results/tiers.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, load_manifest, write_results  # noqa: E402

#: Variant → (engine, detector options, recognizer options, int8 models to build: {"det"|"rec": "dynamic"|"static"}).
_ORT, _OV_F32, _OV_BF16 = ({"runtime": "onnxruntime"}, {"runtime": "openvino", "precision": "f32"},
                            {"runtime": "openvino", "precision": "bf16"})
VARIANTS = {
    "ppocr": ("ppocr", {}, {}, {}),
    "ppocr_fast": ("ppocr_fast", {}, {}, {}),
    "onnxruntime with int8 detector (the previous default)": ("ppocr", _ORT, _ORT, {}),
    "onnxruntime fp32": ("ppocr", {**_ORT, "quantize": False}, _ORT, {}),
    "openvino f32": ("ppocr", _OV_F32, _OV_F32, {}),
    "openvino bf16": ("ppocr", _OV_BF16, _OV_BF16, {}),
    "openvino bf16 detector + onnxruntime recognizer": ("ppocr", _OV_BF16, _ORT, {}),
    "openvino f32 detector + onnxruntime recognizer": ("ppocr", _OV_F32, _ORT, {}),
    "ppocr_fast on onnxruntime": ("ppocr_fast", _ORT, _ORT, {}),
    "detector not quantized (fp32 on onnxruntime)": ("ppocr", {**_ORT, "quantize": False}, {}, {}),
    "detection at 640 px (limit_side_len)": ("ppocr", {"limit_side_len": 640}, {}, {}),
    "detection at 544 px (limit_side_len)": ("ppocr", {"limit_side_len": 544}, {}, {}),
    "recognizer int8 static": ("ppocr", {}, {}, {"rec": "static"}),
    "memory arena off": ("ppocr", {"session_options": (("arena", False),)}, {"session_options": (("arena", False),)},
                         {}),
    "detector int8 dynamic": ("ppocr", {"quantize": False}, {}, {"det": "dynamic"}),
    "recognizer int8 dynamic": ("ppocr", {}, {}, {"rec": "dynamic"}),
}
METRICS = ("SROIE pages F1", "FUNSD pages F1", "SROIE lines CER", "IAM lines CER")
#: Largest accuracy loss a lever may cost to become a default (F1, and CER as a fraction).
F1_TOLERANCE, CER_TOLERANCE = 0.005, 0.001


def recognizer_calibration(data: Path) -> list:
    """Recognizer inputs to calibrate static int8 on: lines of generated pages, FONDUE pages and Hooker lines (no
    evaluation data)."""
    from dask_ocr.batching import padded_width, plan_batches
    from dask_ocr.decode import decode_image
    from dask_ocr.geometry import crop_region
    from dask_ocr.models.ppocr import PPOCRDetector, recognition_input, resized_width
    from dask_ocr.synthetic import make_sample_pages

    pages = [decode_image(p.content) for p in make_sample_pages(12, seed=7)]
    pages += [decode_image(r["content"]) for r in load_manifest(data, "fondue_en_print")]
    crops = [crop_region(page, region) for page, regions in zip(pages, PPOCRDetector().detect(pages))
             for region in regions]
    crops += [decode_image(r["content"]) for r in load_manifest(data, "hooker_lines", 40)]
    widths = [padded_width(resized_width(c), 64, 64) for c in crops]
    return [recognition_input([crops[i] for i in batch], widths[batch[0]]) for batch in plan_batches(widths, 32)]


def int8_models(data: Path, folder: Path, variants: list[str]) -> dict[tuple[str, str], str]:
    """Build the int8 models the ``variants`` use: ``(kind, method) → path`` (static: the recognizer only; the
    detector's static copy is the engine's default)."""
    from dask_ocr.models.onnx import quantize_model
    from dask_ocr.models.ppocr import bundled_model_path

    wanted = {(kind, method) for variant in variants for kind, method in VARIANTS[variant][3].items()}
    if ("det", "static") in wanted:
        raise ValueError("the static int8 detector is the engine's default: use the 'ppocr' variant")
    paths = {}
    for kind, method in sorted(wanted):
        start = time.perf_counter()
        calibration = recognizer_calibration(data) if method == "static" else None
        paths[kind, method] = str(quantize_model(bundled_model_path(kind), folder / f"{kind}_{method}.onnx",
                                                 calibration, per_channel=method == "static"))
        print(f"int8 {kind} {method}: {time.perf_counter() - start:.0f}s", flush=True)
    return paths


def spec_for(variant: str, int8: dict):
    from dask_ocr.models.registry import resolve_model

    engine, detector, recognizer, quantized = VARIANTS[variant]
    spec = resolve_model(engine).with_detector_options(**detector).with_recognizer_options(**recognizer)
    if "det" in quantized:
        spec = spec.with_detector_options(model_path=int8["det", quantized["det"]])
    if "rec" in quantized:
        spec = spec.with_recognizer_options(model_path=int8["rec", quantized["rec"]])
    return spec


def frame(contents, **columns):
    import pandas as pd

    from dask_ocr.schema import BINARY_DTYPE

    return pd.DataFrame({"content": pd.Series(contents, dtype=BINARY_DTYPE), **columns})


def timed_texts(ddf, spec, detect: bool, **arguments) -> tuple[list[str], float]:
    start = time.perf_counter()
    if detect:
        ddf = ddf.ocr.detect(model=spec)
    texts = ddf.ocr.recognize(model=spec, **arguments)["text"].compute().fillna("").tolist()
    return texts, time.perf_counter() - start


def workloads(data: Path, limit: int | None) -> dict:
    """Metric → (callable(spec) → (value, seconds), items)."""
    import dask.dataframe as dd
    import pandas as pd

    import dask_ocr
    from dask_ocr.metrics import bag_of_words, cer

    sets = {name: load_manifest(data, name, limit) for name in ("sroie", "funsd", "iam_lines")}

    def pages(name: str, ignore_case: bool):
        records = sets[name]
        ddf = dd.from_pandas(frame([r["content"] for r in records]), npartitions=min(len(records), 12))

        def run(spec):
            texts, seconds = timed_texts(ddf, spec, True)
            return bag_of_words([r["text"] for r in records], texts, ignore_case=ignore_case).f1, seconds
        return run, len(records)

    sroie = sets["sroie"]
    boxes = [[{"box": g["box"]}] for r in sroie for g in r["regions"]]
    lines = dd.from_pandas(frame([r["content"] for r in sroie for _ in r["regions"]],
                                 regions=pd.Series(boxes, dtype=dask_ocr.REGIONS_DTYPE)), npartitions=12)
    line_texts = [g["text"] for r in sroie for g in r["regions"]]
    iam = dd.from_pandas(frame([r["content"] for r in sets["iam_lines"]]), npartitions=12)

    def sroie_lines(spec):
        texts, seconds = timed_texts(lines, spec, False, border_width=4)
        return cer(line_texts, texts, ignore_case=True), seconds

    def iam_lines(spec):
        texts, seconds = timed_texts(iam, spec, False, regions_col=None)
        return cer([r["text"] for r in sets["iam_lines"]], texts), seconds

    return {"SROIE pages F1": pages("sroie", True), "FUNSD pages F1": pages("funsd", False),
            "SROIE lines CER": (sroie_lines, len(line_texts)), "IAM lines CER": (iam_lines, len(sets["iam_lines"]))}


def unload_models() -> None:
    """Drop this process's loaded models (each session holds its memory arena)."""
    import gc

    from dask_ocr.cluster import models as model_cache

    model_cache._MODELS.clear()
    gc.collect()


def verdict(scores: dict, base: dict) -> str:
    """Whether a lever keeps every accuracy within the tolerances of the defaults."""
    for metric, (value, _) in scores.items():
        loss = base[metric][0] - value if "F1" in metric else value - base[metric][0]
        if loss > (F1_TOLERANCE if "F1" in metric else CER_TOLERANCE):
            return f"no ({metric})"
    return "yes"


def table(rows: dict, items: dict) -> list[str]:
    """One Markdown row per variant: accuracy, items/s and speed relative to ``ppocr`` per workload."""
    base_name = "ppocr" if "ppocr" in rows else next(iter(rows))  # the default, else the first run
    base = rows[base_name]
    header = "| variant | " + " | ".join(f"{m} | {m.split()[0]} {m.split()[1]}/s" for m in METRICS)
    lines = [header + f" | pages speed vs {base_name} | within accuracy rule |",
             "|---" * (2 * len(METRICS) + 3) + "|"]
    for variant, scores in rows.items():
        cells = []
        for metric in METRICS:
            value, seconds = scores[metric]
            ratio = base[metric][1] / seconds
            cells.append(f"{value:.3f}" if "F1" in metric else f"{value:.2%}")
            cells.append(f"{items[metric] / seconds:.2f} ({ratio:.2f}x)")
        page_speed = sum(base[m][1] for m in METRICS[:2]) / sum(scores[m][1] for m in METRICS[:2])
        rule = "–" if scores is base or variant.startswith("ppocr") else verdict(scores, base)
        lines.append(f"| {variant} | " + " | ".join(cells) + f" | {page_speed:.2f}x | {rule} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="records per dataset (default: all)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    parser.add_argument("--output", default="tiers", help="results file name in benchmarks/results")
    args = parser.parse_args()

    import dask

    variants = args.variants.split(",")
    rows = {variant: {} for variant in variants}
    with tempfile.TemporaryDirectory() as folder, dask.config.set(scheduler="threads", num_workers=2):
        int8 = int8_models(args.data, Path(folder), variants)
        specs = {variant: spec_for(variant, int8) for variant in variants}
        jobs = workloads(args.data, args.limit)
        warm = workloads(args.data, 2)["SROIE pages F1"][0]
        for variant, spec in specs.items():
            unload_models()                                              # one variant's sessions in memory at a time
            warm(spec)                                                   # its models loaded before the clock
            for metric, (run, _) in jobs.items():
                rows[variant][metric] = run(spec)
                print(f"{variant} | {metric}: {rows[variant][metric][0]:.4f} in {rows[variant][metric][1]:.1f}s",
                      flush=True)
            write_table({v: r for v, r in rows.items() if r}, {m: count for m, (_, count) in jobs.items()}, args)


def write_table(rows: dict, items: dict, args) -> None:
    """Write the results so far (after every variant: a long run stopped early keeps what it measured)."""
    lines = table(rows, items)
    lines += ["", f"Dev split ({args.limit or 'all'} records per set), Dask threads x2, one run (shared machine: "
                  "read the ratios). `ppocr_medium` (the PP-OCRv6 medium recognizer, fetched on first use) is not "
                  "measured: this machine has no internet."]
    payload = {"rows": {v: {m: {"value": s[0], "seconds": s[1]} for m, s in r.items()} for v, r in rows.items()},
               "items": items, "limit": args.limit}
    write_results(args.output, payload, "\n".join(lines))


if __name__ == "__main__":
    main()
