"""``group_images``: word regions read one by one, or joined into line crops.

    python benchmarks/grouping.py --data ../shared/data [--limit N] [--repeats 3]

FUNSD pages with their manifest word boxes as the regions column.  For each setting, in one run:
word CER (each region's text, from ``positions_col``, against its transcript), words per second
(median of ``--repeats`` timed runs through Dask's threaded scheduler, models loaded first), and
the number of crops the recognizer saw.  Results go to ``benchmarks/results/grouping.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dask_ocr.datasets import region_texts  # noqa: E402

from _common import DEFAULT_DATA, load_manifest, median, timed, write_results  # noqa: E402

SETTINGS = [("one crop per word", {"group_images": False}),
            ("grouped, max_image_ratio 11.25 (default ratio)", {"group_images": True}),
            ("grouped, max_image_ratio 25", {"group_images": True, "max_image_ratio": 25.0})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="FUNSD pages (default: all)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import os

    import dask
    import dask.dataframe as dd
    import pandas as pd

    import dask_ocr  # noqa: F401  (registers the accessor)
    from dask_ocr.metrics import cer
    from dask_ocr.schema import BINARY_DTYPE, REGIONS_DTYPE

    records = load_manifest(args.data, "funsd", args.limit)
    cells = [[{"box": r["box"], "polygon": None, "score": 1.0} for r in record["regions"]] for record in records]
    frame = pd.DataFrame({"content": pd.Series([r["content"] for r in records], dtype=BINARY_DTYPE),
                          "regions": pd.Series(cells, dtype=REGIONS_DTYPE)})
    references = [r["text"] for record in records for r in record["regions"]]
    words = len(references)
    ddf = dd.from_pandas(frame, npartitions=min(len(frame), 3 * (os.cpu_count() or 1)))

    rows, payload = [], {"pages": len(records), "words": words, "settings": {}}
    with dask.config.set(scheduler="threads"):
        frame.head(1).ocr.recognize()  # load the model before timing
        for label, options in SETTINGS:
            def run(options=options):
                return ddf.ocr.recognize(positions_col="positions", min_confidence=0.0, **options).compute()

            times, out = timed(run, args.repeats)
            hypotheses = [text for cell, record in zip(out["positions"], records)
                          for text in region_texts(cell, len(record["regions"]))]
            result = {"word_cer": cer(references, hypotheses), "words_per_s": words / median(times),
                      "times_s": times, **options}
            payload["settings"][label] = result
            rows.append(f"| {label} | {100 * result['word_cer']:.2f} % | {result['words_per_s']:.1f} |")
            print(rows[-1], flush=True)
    base = payload["settings"][SETTINGS[0][0]]["words_per_s"]
    markdown = "\n".join([
        f"FUNSD dev, {len(records)} pages, {words} manifest word boxes as regions; "
        f"median of {args.repeats} runs; `min_confidence=0`.", "",
        "| setting | word CER | words/s |", "|---|---|---|", *rows, "",
        "Speed-up of grouping at the default ratio: "
        f"{payload['settings'][SETTINGS[1][0]]['words_per_s'] / base:.2f}×."])
    write_results("grouping", payload, markdown)


if __name__ == "__main__":
    main()
