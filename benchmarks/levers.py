"""Accuracy levers of the default engine, each switched on its own against the defaults (an ablation).

    python benchmarks/levers.py --data ../shared/data [--pages 20] [--crops 1000]

Each lever is a change of one detector or recognizer option of ``ppocr`` (a :class:`ModelSpec`),
or of one ``recognize`` argument.  Workloads, on the dev split: SROIE, FUNSD and FONDUE pages
(``detect`` + ``recognize``, word F1), and SROIE line boxes and FUNSD word boxes from the manifests
passed as regions (border 4 and 0 px; ``min_confidence=0``, as every box holds text; CER).  The
mean change over the workloads decides; a lever must also stay within 1.5x the defaults' time.
Writes ``benchmarks/results/levers.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, load_manifest, write_results  # noqa: E402

# name → (detector options, recognizer options, recognize() arguments), each against the defaults
LEVERS = {
    "defaults": ({}, {}, {}),
    "whole dictionary (charset=None)": ({}, {"charset": None}, {}),
    "angle classifier on": ({}, {"use_angle_cls": True}, {}),
    "no space boost (space_boost=1)": ({}, {"space_boost": 1.0}, {}),
    "stronger space boost (space_boost=6)": ({}, {"space_boost": 6.0}, {}),
    "detection at 960 px (limit_side_len)": ({"limit_side_len": 960}, {}, {}),
    "detection box_thresh 0.4": ({"box_thresh": 0.4}, {}, {}),
    "detection unclip_ratio 2.0": ({"unclip_ratio": 2.0}, {}, {}),
    "crop border 8 px (pages)": ({}, {}, {"border_width": 8}),
    "low-confidence text kept on pages (min_confidence=0.3)": ({}, {}, {"min_confidence": 0.3}),
}
PAGES = ("sroie", "funsd", "fondue_en_print")
# manifest boxes read as regions: workload name and border (as benchmarks/parity.py and grouping.py)
BOXES = {"sroie": ("SROIE lines", 4), "funsd": ("FUNSD words", 0)}


def spec_for(detector: dict, recognizer: dict):
    from dask_ocr.models.registry import resolve_model

    return resolve_model("ppocr").with_detector_options(**detector).with_recognizer_options(**recognizer)


def run_lever(records: dict, detector: dict, recognizer: dict, arguments: dict) -> dict:
    """Scores and seconds of one configuration on every workload."""
    import dask.dataframe as dd
    import pandas as pd

    import dask_ocr
    from dask_ocr.metrics import bag_of_words, cer
    from dask_ocr.schema import BINARY_DTYPE

    spec = spec_for(detector, recognizer)
    results = {}
    for name, recs in records.items():
        ignore = name == "sroie"
        frame = pd.DataFrame({"content": pd.Series([r["content"] for r in recs], dtype=BINARY_DTYPE)})
        ddf = dd.from_pandas(frame, npartitions=max(1, min(len(frame), 12)))
        start = time.perf_counter()
        texts = (ddf.ocr.detect(model=spec).ocr.recognize(model=spec, line_tolerance=0, **arguments)["text"]
                 .compute().fillna("").tolist())
        results[f"{name} pages F1"] = (bag_of_words([r["text"] for r in recs], texts, ignore_case=ignore).f1,
                                       time.perf_counter() - start)
        if name in BOXES and not arguments:
            regions = [[{"box": g["box"]}] for r in recs for g in r["regions"]]
            boxes = pd.DataFrame({
                "content": pd.Series([r["content"] for r in recs for _ in r["regions"]], dtype=BINARY_DTYPE),
                "regions": pd.Series(regions, dtype=dask_ocr.REGIONS_DTYPE)})
            start = time.perf_counter()
            label, border = BOXES[name]
            out = dd.from_pandas(boxes, npartitions=12).ocr.recognize(model=spec, border_width=border, min_confidence=0)
            texts = out["text"].compute().fillna("").tolist()
            references = [g["text"] for r in recs for g in r["regions"]]
            results[f"{label} CER"] = (cer(references, texts, ignore_case=ignore), time.perf_counter() - start)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pages", type=int, default=20, help="pages per dataset (their boxes are the crops)")
    args = parser.parse_args()

    import dask

    records = {name: load_manifest(args.data, name, args.pages) for name in PAGES}
    rows = {}
    with dask.config.set(scheduler="threads"):
        run_lever({"fondue_en_print": records["fondue_en_print"][:1]}, {}, {}, {})  # load the models
        for lever, (detector, recognizer, arguments) in LEVERS.items():
            rows[lever] = run_lever(records, detector, recognizer, arguments)
            print(lever, {k: round(v[0], 4) for k, v in rows[lever].items()}, flush=True)

    metrics = list(rows["defaults"])
    base = rows["defaults"]
    header = "| lever | " + " | ".join(metrics) + " | mean change | time vs defaults |"
    lines = [header, "|" + "---|" * (len(metrics) + 3)]
    for lever, scores in rows.items():
        cells, changes = [], []
        for metric in metrics:
            if metric not in scores:
                cells.append("–")
                continue
            value = scores[metric][0]
            better = value - base[metric][0] if "F1" in metric else base[metric][0] - value
            changes.append(better)
            cells.append(f"{value:.2%}" if "CER" in metric else f"{value:.3f}")
        seconds = sum(s for _, s in scores.values())
        same = sum(base[m][1] for m in scores)
        lines.append(f"| {lever} | " + " | ".join(cells) +
                     f" | {sum(changes) / len(changes) * 100:+.2f} pt | {seconds / same:.2f}× |")
    lines += ["", f"{args.pages} dev pages per dataset; mean change: F1 gain and CER drop, in points, averaged over "
                  "the workloads (positive = better)."]
    payload = {"pages": args.pages, "rows": {k: {m: {"value": v, "seconds": s} for m, (v, s) in r.items()}
                                             for k, r in rows.items()}}
    write_results("levers", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
