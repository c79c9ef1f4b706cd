"""Line grouping: ``line_tolerance=0`` (estimated per image) against fixed tolerances.

    python benchmarks/line_order.py --data ../shared/data [--limit N]

Ground-truth boxes and transcripts of SROIE (line boxes) and FUNSD (word boxes) pages go through
:func:`dask_ocr.layout.group_lines`, so recognition errors play no part.  Two scores per tolerance:

* **same-line F1** over pairs of regions on one page.  A pair belongs on one line when the two
  boxes overlap vertically by at least half the smaller height, and on different lines when they
  do not overlap at all (pairs in between are not scored).
* **order CER**: the page text rendered in the grouped order against the dataset's page text
  (SROIE: annotation order, mostly top to bottom; FUNSD: pieces grouped into visual rows).

Results go to ``benchmarks/results/line_order.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dask_ocr.metrics import same_line_counts  # noqa: E402

from _common import DEFAULT_DATA, write_results  # noqa: E402

TOLERANCES = [0, 5, 10, 15, 20, 25, 30]


def load_boxes(data: Path, name: str, limit: int | None) -> list[dict]:
    """Manifest records without image bytes (only boxes and text are needed)."""
    import json

    lines = (Path(data) / name / "manifest.jsonl").read_text().splitlines()[:limit]
    return [json.loads(line) for line in lines]


def score(records: list[dict], tolerance: float, ignore_case: bool) -> dict:
    from dask_ocr.layout import group_lines
    from dask_ocr.metrics import cer

    tp = fp = fn = 0
    texts = []
    for record in records:
        boxes = [r["box"] for r in record["regions"]]
        lines = group_lines(boxes, tolerance)
        counts = same_line_counts(boxes, lines)
        tp, fp, fn = tp + counts[0], fp + counts[1], fn + counts[2]
        texts.append("\n".join(" ".join(record["regions"][i]["text"] for i in line) for line in lines))
    precision, recall = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
    return {"same_line_precision": precision, "same_line_recall": recall,
            "same_line_f1": 2 * precision * recall / max(precision + recall, 1e-12),
            "order_cer": cer([r["text"] for r in records], texts, ignore_case=ignore_case)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="pages per dataset (default: all)")
    args = parser.parse_args()

    payload, rows = {}, []
    for name, ignore_case in [("sroie", True), ("funsd", False)]:
        records = load_boxes(args.data, name, args.limit)
        payload[name] = {str(t): score(records, t, ignore_case) for t in TOLERANCES}
        for t in TOLERANCES:
            s = payload[name][str(t)]
            label = "0 (estimated)" if t == 0 else str(t)
            rows.append(f"| {name} ({len(records)} pages) | {label} | {s['same_line_precision']:.3f} | "
                        f"{s['same_line_recall']:.3f} | {s['same_line_f1']:.3f} | {100 * s['order_cer']:.2f} % |")
    markdown = "\n".join([
        "Ground-truth boxes and transcripts, dev split; no recognition involved.", "",
        "| pages | line_tolerance | same-line P | same-line R | same-line F1 | order CER |",
        "|---|---|---|---|---|---|", *rows])
    write_results("line_order", payload, markdown)


if __name__ == "__main__":
    main()
