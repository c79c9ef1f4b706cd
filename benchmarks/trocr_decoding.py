"""TrOCR decoding strategies side by side, on random-weight models in the real shapes.

    python benchmarks/trocr_decoding.py --data ../shared/data [--lines 48] [--shapes small base]

Crops: SROIE dev line boxes.  Each line's output length is its transcript's length in characters
(the character tokenizer's tokens; ``--tokens N`` forces N on every line instead), forced
identically in every variant (``ForcedLengths``), so all variants do the same work a trained
model would.  Every variant starts from RGB crops and
includes the image processor.  Lines per second, in one run:

(a) ``generate`` one line at a time, without the key/value cache;
(b) ``generate`` on batches of ``--batch-size`` in input order, with the cache;
(c) dask_ocr's ``TrOCRRecognizer`` (batches of similar width, cached greedy decoding, finished
    lines leaving the batch);
(d) the encoder alone on the same batches: the bound when decoding is free.

(a) runs once (it is slow); (b), (c) and (d) report the median of ``--repeats`` runs.

Results go to ``benchmarks/results/trocr_decoding.{json,md}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dask_ocr.testing import ForcedLengths, save_trocr  # noqa: E402

from _common import DEFAULT_DATA, line_crops, load_manifest, write_results  # noqa: E402

TARGETS = {"c_over_a": 3.5, "c_over_b": 1.25, "c_over_d": 0.8}


def clock(function, repeats: int = 1) -> float:
    """Median wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(shape: str, crops: list, lengths: list[int], batch_size: int, threads: int, repeats: int) -> dict:
    import torch

    from dask_ocr.models.trocr import TrOCRRecognizer, greedy_decode

    with tempfile.TemporaryDirectory() as folder:
        recognizer = TrOCRRecognizer(str(save_trocr(Path(folder) / shape, shape)), threads=threads)
    model, forced = recognizer.model, ForcedLengths(lengths)
    batches = [list(range(i, min(i + batch_size, len(crops)))) for i in range(0, len(crops), batch_size)]

    def one_by_one():
        for i, crop in enumerate(crops):
            model.generate(recognizer.pixel_values([crop]), max_new_tokens=lengths[i] + 1, num_beams=1,
                           do_sample=False, use_cache=False, logits_processor=[forced.processor([i])])

    def batched_generate():
        for rows in batches:
            model.generate(recognizer.pixel_values([crops[i] for i in rows]), max_new_tokens=max(lengths) + 1,
                           num_beams=1, do_sample=False, use_cache=True, logits_processor=[forced.processor(rows)])

    def ours():  # the recognizer's decoder on its batches (sorted by aspect ratio), lengths forced
        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / crops[i].shape[0])
        for start in range(0, len(order), batch_size):
            rows = torch.as_tensor(order[start:start + batch_size])
            greedy_decode(model, recognizer.pixel_values([crops[i] for i in rows.tolist()]), max(lengths) + 1,
                          lambda active, step, logits, rows=rows: forced(rows[active], step, logits))

    def encoder_alone():
        for rows in batches:
            model.encoder(pixel_values=recognizer.pixel_values([crops[i] for i in rows]))

    with torch.inference_mode():
        ours()  # warm up (first-call allocations)
        seconds = {"a_generate_one_by_one_no_cache": clock(one_by_one),
                   "b_generate_batched_cache": clock(batched_generate, repeats),
                   "c_dask_ocr": clock(ours, repeats),
                   "d_encoder_alone": clock(encoder_alone, repeats)}
    rates = {name: len(crops) / s for name, s in seconds.items()}
    c = rates["c_dask_ocr"]
    ratios = {"c_over_a": c / rates["a_generate_one_by_one_no_cache"],
              "c_over_b": c / rates["b_generate_batched_cache"], "c_over_d": c / rates["d_encoder_alone"]}
    return {"lines": len(crops), "mean_tokens": sum(lengths) / len(lengths), "seconds": seconds,
            "lines_per_s": rates, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--lines", type=int, default=48)
    parser.add_argument("--base-lines", type=int, default=16, help="lines for the (slow) base shape")
    parser.add_argument("--shapes", nargs="+", default=["small", "base"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of (b), (c), (d); (a) runs once")
    parser.add_argument("--tokens", type=int, default=None,
                        help="force this many tokens on every line instead of the transcript lengths")
    args = parser.parse_args()

    import os

    from dask_ocr.decode import decode_image

    images, texts = line_crops(load_manifest(args.data, "sroie", 10))
    results, rows = {}, []
    for shape in args.shapes:
        count = args.lines if shape != "base" else args.base_lines
        crops = [decode_image(image) for image in images[:count]]
        lengths = [args.tokens or len(text) for text in texts[:count]]
        result = results[shape] = measure(shape, crops, lengths, args.batch_size, os.cpu_count() or 1,
                                          args.repeats)
        rate, ratio = result["lines_per_s"], result["ratios"]
        targets = " (targets ≥ 3.5× / 1.25× / 0.8×)" if shape == "small" else ""
        rows.append(f"| {shape} | {result['lines']} | {result['mean_tokens']:.1f} | "
                    f"{rate['a_generate_one_by_one_no_cache']:.2f} | {rate['b_generate_batched_cache']:.2f} | "
                    f"**{rate['c_dask_ocr']:.2f}** | {rate['d_encoder_alone']:.2f} | "
                    f"{ratio['c_over_a']:.2f}× / {ratio['c_over_b']:.2f}× / {ratio['c_over_d']:.2f}×{targets} |")
        print(rows[-1], flush=True)
    markdown = "\n".join([
        "Random-weight models in the TrOCR shapes, SROIE dev line crops, output lengths = "
        + (f"{args.tokens} tokens on every line" if args.tokens else "transcript characters")
        + f" (forced), batch {args.batch_size}, fp32, torch threads = cores. Lines/s; (a) one run, "
        f"(b)-(d) median of {args.repeats}:", "",
        "| shape | lines | mean tokens | (a) generate 1-by-1, no cache | (b) generate batched, cache | "
        "(c) dask_ocr | (d) encoder alone | c/a, c/b, c/d |",
        "|---|---|---|---|---|---|---|---|", *rows])
    write_results("trocr_decoding" + (f"_{args.tokens}_tokens" if args.tokens else ""), results, markdown)


if __name__ == "__main__":
    main()
