"""Turned and skewed pages: ``detect(orientation=True, deskew=True)`` against the same call without them.

The dev pages of SROIE, FUNSD and FONDUE are turned by 90, 180 and 270 degrees (exact) and skewed by
±3 and ±8 degrees (bicubic, white corners) here, in the benchmark.  Every set goes through Dask
(threads, one model thread each) with and without the options, in one run:

- orientation right: the quarter turn found is the one applied (0 for the skewed sets);
- skew error: the skew found less the one applied and the page's own tilt (its skew upright);
- word F1 (bag of words; SROIE case-insensitive) per dataset, and its change from the upright F1;
- time on the upright pages with and without the options, alternated ``--repeats`` times (medians;
  wall and process CPU time, which the other users of a shared machine disturb less).

Results go to ``benchmarks/results/orientation.{json,md}``.

    python benchmarks/orientation.py --data ../shared/data --repeats 3
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, load_manifest, median, write_results  # noqa: E402

DATASETS = {"sroie": True, "funsd": False, "fondue_en_print": False}  # name -> compared case-insensitively
TRANSFORMS = [("upright", 0, 0.0), ("turned 90", 90, 0.0), ("turned 180", 180, 0.0), ("turned 270", 270, 0.0),
              ("skewed +3", 0, 3.0), ("skewed -3", 0, -3.0), ("skewed +8", 0, 8.0), ("skewed -8", 0, -8.0)]
#: A control, not a transformed set: the upright pages resampled once, with nothing to undo.
CONTROL = ("resampled (control)", 0, None)


def skewed(image, degrees: float):
    """``image`` turned ``degrees`` clockwise on a canvas that holds it all (OpenCV, independent of dask_ocr)."""
    import cv2
    import numpy as np

    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), -degrees, 1.0)  # OpenCV: positive = counter-clockwise
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    size = (int(np.ceil(width * cos + height * sin)), int(np.ceil(width * sin + height * cos)))
    matrix[:, 2] += ((size[0] - width) / 2, (size[1] - height) / 2)
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_CUBIC, borderValue=(255, 255, 255))


def half_pixel(image):
    """``image`` moved by half a pixel both ways (bicubic): what resampling costs the recognizer on its own."""
    import cv2
    import numpy as np

    height, width = image.shape[:2]
    return cv2.warpAffine(image, np.float64([[1, 0, 0.5], [0, 1, 0.5]]), (width, height), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REPLICATE)


def transformed(content: bytes, orientation: int, skew: float | None) -> bytes:
    """The page turned clockwise by ``orientation`` and skewed by ``skew`` degrees (``None``: moved by
    half a pixel instead), as PNG bytes."""
    import numpy as np
    from PIL import Image

    from dask_ocr.decode import decode_image

    if not orientation and skew == 0:
        return content
    image = np.ascontiguousarray(np.rot90(decode_image(content), -orientation // 90))
    image = half_pixel(image) if skew is None else skewed(image, skew) if skew else image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def records_frame(contents: list[bytes]):
    """A pandas frame of image bytes."""
    import pandas as pd

    from dask_ocr.schema import BINARY_DTYPE

    return pd.DataFrame({"content": pd.Series(contents, dtype=BINARY_DTYPE)})


def run(frame, on: bool, cores: int):
    """``detect`` + ``recognize`` of every page through Dask; (outputs, wall s, CPU s)."""
    import dask
    import dask.dataframe as dd

    ddf = dd.from_pandas(frame, npartitions=min(len(frame), 3 * cores))
    wall, cpu = time.perf_counter(), time.process_time()
    with dask.config.set(scheduler="threads", num_workers=cores):
        out = ddf.ocr.detect(orientation=on, deskew=on).ocr.recognize().compute()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def word_f1(records: list[dict], texts: list) -> dict[str, float]:
    """Word F1 per dataset, pooled over all of them, and the page CER (text in reading order) of all."""
    from dask_ocr.metrics import bag_of_words, cer

    scores = {}
    for name, ignore in DATASETS.items():
        pairs = [(r["text"], t) for r, t in zip(records, texts) if r["dataset"] == name]
        if pairs:
            scores[name] = bag_of_words([a for a, _ in pairs], [b or "" for _, b in pairs], ignore_case=ignore).f1
    scores["all"] = bag_of_words([r["text"] for r in records], [t or "" for t in texts], ignore_case=True).f1
    scores["page_cer"] = cer([r["text"] for r in records], [t or "" for t in texts], ignore_case=True)
    return scores


def geometry_scores(out, orientation: int, skew: float, own_skew: list) -> dict:
    """How often the quarter turn is right, and the skew error against the applied skew plus the page's own."""
    import numpy as np

    found = out["orientation"].astype("float").to_numpy()
    errors = np.abs(out["skew"].astype("float").to_numpy() - (skew or 0.0) - np.asarray(own_skew, dtype=float))
    wrong = [int(i) for i in np.flatnonzero(found != orientation)]
    return {"orientation_right": float(np.mean(found == orientation)), "wrong_pages": wrong,
            "skew_error_median": float(np.nanmedian(errors)), "skew_error_max": float(np.nanmax(errors))}


def evaluate(records: list[dict], cores: int, baseline: bool) -> dict:
    """Every transformed set with the options (and without them, if ``baseline``)."""
    results, own_skew = {}, None
    for name, orientation, skew in [*TRANSFORMS, CONTROL]:
        frame = records_frame([transformed(r["content"], orientation, skew) for r in records])
        out, wall, cpu = run(frame, True, cores)
        own_skew = out["skew"].astype("float").tolist() if own_skew is None else own_skew
        entry = {"on": word_f1(records, out["text"].tolist()), "on_s": wall, "on_cpu_s": cpu,
                 **geometry_scores(out, orientation, skew, own_skew),
                 "errors": int(out["ocr_error"].notna().sum())}
        if (baseline and skew is not None) or name == "upright":
            off, entry["off_s"], entry["off_cpu_s"] = run(frame, False, cores)
            entry["off"] = word_f1(records, off["text"].tolist())
        results[name] = entry
        off_f1 = f", without {entry['off']['all']:.3f}" if "off" in entry else ""
        print(f"{name}: orientation right {entry['orientation_right']:.1%}, word F1 with the options "
              f"{entry['on']['all']:.3f}{off_f1}", flush=True)
    return results


def timing(records: list[dict], cores: int, repeats: int) -> dict:
    """Upright pages without and with the options, ``repeats`` alternated pairs."""
    frame = records_frame([r["content"] for r in records])
    times = {"off_s": [], "on_s": [], "off_cpu_s": [], "on_cpu_s": []}
    for _ in range(repeats):
        for on in (False, True):
            _, wall, cpu = run(frame, on, cores)
            times["on_s" if on else "off_s"].append(wall)
            times["on_cpu_s" if on else "off_cpu_s"].append(cpu)
    return summary(times)


def summary(times: dict) -> dict:
    """Medians, and the median of the ratios of each alternated pair (robust to a machine whose load drifts)."""
    pairs = {kind: [on / off for on, off in zip(times[f"on{kind}_s"], times[f"off{kind}_s"])] for kind in ("", "_cpu")}
    return {"times": times, "medians": {key: median(values) for key, values in times.items()},
            "wall_pair_ratios": pairs[""], "cpu_pair_ratios": pairs["_cpu"],
            "wall_ratio": median(pairs[""]), "cpu_ratio": median(pairs["_cpu"])}


def _f1s(scores: dict) -> str:
    return " / ".join(f"{scores[name]:.3f}" for name in DATASETS if name in scores)


def table(results: dict, speed: dict, pages: int, repeats: int, cores: int) -> str:
    """The Markdown table, the time line and the acceptance checks."""
    upright = results["upright"]["on"]
    names = " / ".join(name.split("_")[0].upper() for name in DATASETS)
    lines = [f"| pages | orientation right | skew error median / max (°) | word F1 without ({names}) | "
             f"word F1 with orientation + deskew | worst F1 change from upright | page CER without / with |",
             "|---|---|---|---|---|---|---|"]
    worst = {}
    for name, entry in results.items():
        change = min(entry["on"][d] - upright[d] for d in DATASETS if d in upright)
        if name != CONTROL[0]:
            worst[name] = change
        off, off_cer = (_f1s(entry["off"]), f"{entry['off']['page_cer']:.1%}") if "off" in entry else ("–", "–")
        lines.append(f"| {name} | {entry['orientation_right']:.1%} | {entry['skew_error_median']:.2f} / "
                     f"{entry['skew_error_max']:.2f} | {off} | {_f1s(entry['on'])} | {change:+.3f} | "
                     f"{off_cer} / {entry['on']['page_cer']:.1%} |")
    right = sum(results[name]["orientation_right"] for name in worst) / len(worst)
    unchanged = max(abs(upright[d] - results["upright"]["off"][d]) for d in DATASETS if d in upright)
    walls = ", ".join(f"{on:.0f}/{off:.0f}" for on, off in zip(speed["times"]["on_s"], speed["times"]["off_s"]))
    lines += ["", f"Upright pages, {pages} of them, with the options / without, median of {repeats} alternated pairs "
                  f"on {cores} cores: **{speed['cpu_ratio']:.2f}x** process CPU time (pairs "
                  f"{', '.join(f'{r:.2f}' for r in speed['cpu_pair_ratios'])}), {speed['wall_ratio']:.2f}x wall time "
                  f"(pairs, s: {walls}).",
              "", f"Checks: orientation right on {right:.1%} of pages (>= 98 %); worst F1 change from upright "
                  f"{min(worst.values()):+.3f} (>= -0.02); upright F1 with / without differs by at most "
                  f"{unchanged:.3f}; time {speed['cpu_ratio']:.2f}x CPU, {speed['wall_ratio']:.2f}x wall (<= 1.15x)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="pages per dataset (default: all dev pages)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated timing runs on the upright pages")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the runs without the options on the turned and skewed sets")
    parser.add_argument("--timing-only", action="store_true",
                        help="only the cost on upright pages (results/orientation_timing.{json,md})")
    args = parser.parse_args()

    cores = os.cpu_count() or 1
    records = []
    for name in DATASETS:
        for record in load_manifest(args.data, name, args.limit):
            records.append({**record, "dataset": name})
    run(records_frame([r["content"] for r in records[:2]]), True, cores)  # warm-up: load the models
    if args.timing_only:
        speed = timing(records, cores, args.repeats)
        write_results("orientation_timing", {"pages": len(records), "timing": speed},
                      f"Upright pages, {len(records)} of them, with orientation + deskew / without, median of "
                      f"{args.repeats} alternated pairs on {cores} cores: **{speed['cpu_ratio']:.2f}x** process CPU "
                      f"time (pairs {', '.join(f'{r:.2f}' for r in speed['cpu_pair_ratios'])}), "
                      f"{speed['wall_ratio']:.2f}x wall time.")
        return
    results = evaluate(records, cores, args.baseline)
    speed = timing(records, cores, args.repeats)
    write_results("orientation", {"pages": len(records), "results": results, "timing": speed},
                  table(results, speed, len(records), args.repeats, cores))


if __name__ == "__main__":
    main()
