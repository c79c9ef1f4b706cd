"""Accuracy of the default pipeline on the dev split: the foundation issue's parity figures.

    python benchmarks/parity.py --data ../shared/data [--raw]

* SROIE pages (all): ``detect`` + ``recognize``, bag-of-words F1, case-insensitive;
* SROIE line crops: manifest boxes passed as the regions column (``border_width=4``), and the
  same lines cropped to images and read with ``regions_col=None``; CER, case-insensitive;
* FUNSD pages (all): word F1;
* the generated demo pages: CER.

``--raw`` adds a plain ``RapidOCR()`` loop on the same pages in the same run.  Results go to
``benchmarks/results/parity.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, line_crops, load_manifest, write_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="pages per dataset (default: all)")
    parser.add_argument("--raw", action="store_true", help="also run a raw RapidOCR loop for comparison")
    args = parser.parse_args()

    import dask
    import dask.dataframe as dd
    import pandas as pd

    import dask_ocr
    from dask_ocr.metrics import bag_of_words, cer
    from dask_ocr.schema import BINARY_DTYPE
    from dask_ocr.synthetic import make_sample_pages

    def frame(contents, **columns):
        return pd.DataFrame({"content": pd.Series(contents, dtype=BINARY_DTYPE), **columns})

    def run(df, **kwargs):
        ddf = dd.from_pandas(df, npartitions=max(1, min(len(df), 12)))
        if kwargs.pop("detect", True):
            ddf = ddf.ocr.detect()
        out = ddf.ocr.recognize(**kwargs)[["text", "ocr_error"]].compute()
        for error in out["ocr_error"].dropna().unique()[:5]:
            print(f"  ocr_error ({(out['ocr_error'] == error).sum()} rows): {error}", flush=True)
        return out["text"].fillna("").tolist()

    rows, payload = [], {}
    with dask.config.set(scheduler="threads"):
        sroie = load_manifest(args.data, "sroie", args.limit)
        funsd = load_manifest(args.data, "funsd", args.limit)
        for name, records, ignore in [("sroie", sroie, True), ("funsd", funsd, False)]:
            texts = run(frame([r["content"] for r in records]))
            scores = bag_of_words([r["text"] for r in records], texts, ignore_case=ignore)
            payload[f"{name}_pages"] = scores.__dict__
            rows.append((f"{name.upper()} pages ({len(records)})", "word F1", f"{scores.f1:.3f}",
                         f"P {scores.precision:.3f} / R {scores.recall:.3f}"))
            print(rows[-1], flush=True)
        boxes = [[{"box": region["box"]} for region in r["regions"]] for r in sroie]
        per_line = frame([r["content"] for r in sroie for _ in r["regions"]],
                         regions=pd.Series([[box] for page in boxes for box in page], dtype=dask_ocr.REGIONS_DTYPE))
        references = [region["text"] for r in sroie for region in r["regions"]]
        line_cer = cer(references, run(per_line, detect=False, border_width=4), ignore_case=True)
        crops, crop_texts = line_crops(sroie)
        crop_cer = cer(crop_texts, run(frame(crops), detect=False, regions_col=None, border_width=4), ignore_case=True)
        payload.update(sroie_lines_regions_cer=line_cer, sroie_lines_crops_cer=crop_cer, sroie_lines=len(references))
        rows.append((f"SROIE lines ({len(references)}), manifest boxes as regions, border 4", "CER",
                     f"{line_cer:.2%}", ""))
        rows.append((f"SROIE lines ({len(crop_texts)}), cropped, regions_col=None, border 4", "CER",
                     f"{crop_cer:.2%}", ""))
        pages = make_sample_pages(8, seed=0)
        demo_cer = cer([p.text for p in pages], run(frame([p.content for p in pages])))
        payload["demo_cer"] = demo_cer
        rows.append(("generated demo pages (8)", "CER", f"{demo_cer:.2%}", ""))

    if args.raw:
        from rapidocr import RapidOCR

        engine = RapidOCR(params={"Global.log_level": "error"})
        for name, records, ignore in [("sroie", sroie, True), ("funsd", funsd, False)]:
            texts = ["\n".join(engine(r["content"]).txts or ()) for r in records]
            scores = bag_of_words([r["text"] for r in records], texts, ignore_case=ignore)
            payload[f"raw_{name}_pages"] = scores.__dict__
            rows.append((f"{name.upper()} pages, raw RapidOCR loop", "word F1", f"{scores.f1:.3f}",
                         f"P {scores.precision:.3f} / R {scores.recall:.3f}"))

    table = ["| workload | metric | dask_ocr | detail |", "|---|---|---|---|"]
    table += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    write_results("parity", payload, "\n".join(table))


if __name__ == "__main__":
    main()
