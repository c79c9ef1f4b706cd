"""Fine-tuning, measured as the literature measures it: train on ``../shared/train``, judge on the dev split.

    python benchmarks/finetune.py [--data ../shared/data] [--train ../shared/train] [--models DIR]
                                  [--sets sroie funsd] [--retrain] [--crops N] [--pages N]

For each training set it fine-tunes the bundled recognizer (``dask_ocr.finetune`` with its defaults; a model
already in ``--models`` is reused unless ``--retrain``), then reads every dev-split workload of
``benchmarks/accuracy.py`` — line/word crops of all five datasets (CER; SROIE case-insensitive) and SROIE and
FUNSD pages (word F1, detection by the default detector) — with the base model and with every fine-tuned one,
in one run.  Reported: CER and F1 with their change against the base, forgetting (a model on the datasets it
was not tuned on), training time and examples/s from the model card, and crops/s at inference (the tuned
model must read at the base model's speed).  No dev page enters training: the train split is disjoint.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from accuracy import DATASETS, measure, pipeline_reader, workloads  # noqa: E402

from _common import DEFAULT_DATA, RESULTS, machine, write_results  # noqa: E402

DEFAULT_TRAIN = DEFAULT_DATA.parent / "train"
BASE = "base (ppocr)"


def trained_models(train: Path, models: Path, sets: list[str], retrain: bool) -> dict[str, Path]:
    """Set name → the folder of the model fine-tuned on it (trained here unless one is there already)."""
    import dask_ocr
    from dask_ocr.models.registry import CARD_NAME

    found = {}
    for name in sets:
        folder = models / name
        if retrain or not (folder / CARD_NAME).is_file():
            print(f"fine-tuning on {train / name} -> {folder}", flush=True)
            dask_ocr.finetune(train / name, folder, overwrite=True, resume=not retrain)
        found[name] = folder
    return found


def table(rows: list[dict], cards: dict[str, dict], command: str, described: str) -> str:
    """Crops and pages, every engine beside the base, then the training runs."""
    base = {(r["dataset"], r["task"]): r for r in rows if r["engine"] == BASE}
    crops = ["| dataset | model | crops | CER | vs base | crops/s | speed vs base |", "|---|---|---|---|---|---|---|"]
    pages = ["| dataset | model | pages | word F1 | vs base | pages/s |", "|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (DATASETS.index(r["dataset"]), r["engine"] != BASE, r["engine"])):
        reference = base[r["dataset"], r["task"]]
        head = f"| {r['dataset']} | {r['engine']} | {r['items']} |"
        if r["task"] == "crops":
            change = "" if r["engine"] == BASE else f"{(r['cer'] - reference['cer']) / reference['cer']:+.1%}"
            crops.append(f"{head} {r['cer']:.2%} | {change} | {r['per_s']:.1f} | "
                         f"{r['per_s'] / reference['per_s']:.2f}× |")
        else:
            change = "" if r["engine"] == BASE else f"{r['f1'] - reference['f1']:+.3f}"
            pages.append(f"{head} **{r['f1']:.3f}** | {change} | {r['per_s']:.2f} |")
    training = ["| tuned on | train crops (pages) | validation crops | steps | stopped | minutes | examples/s | "
                "validation CER base → tuned | case |", "|---|---|---|---|---|---|---|---|---|"]
    for name, card in cards.items():
        run, check = card["training"], card["validation"]
        training.append(f"| {name} | {run['examples']} ({run['pages']}) | {run['validation_examples']} | "
                        f"{run['steps']} | {run['stopped']} | {run['seconds'] / 60:.1f} | "
                        f"{run['examples_per_second']} | "
                        f"{check['base_cer']:.2%} → {check['cer']:.2%} | "
                        f"{'ignored' if run['ignore_case'] else 'kept'} |")
    return "\n".join([f"`{command}` on {described}.", "", "Crops (dev split):", "", *crops, "", "Pages (dev split):",
                      "", *pages, "", "Training (threads and precision in the cards):", "", *training])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the dev split that judges")
    parser.add_argument("--train", type=Path, default=DEFAULT_TRAIN, help="the training split")
    parser.add_argument("--models", type=Path, default=Path("finetuned"), help="where the tuned models go")
    parser.add_argument("--sets", nargs="+", default=["sroie", "funsd"], help="training sets to tune on")
    parser.add_argument("--retrain", action="store_true", help="train again even where a model exists")
    parser.add_argument("--crops", type=int, default=None, help="crops per dataset (default: all)")
    parser.add_argument("--pages", type=int, default=None, help="pages per dataset (default: all)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import dask

    from dask_ocr.models.registry import CARD_NAME

    models = trained_models(args.train, args.models, args.sets, args.retrain)
    cards = {name: json.loads((folder / CARD_NAME).read_text()) for name, folder in models.items()}
    readers = {BASE: pipeline_reader("ppocr", "ppocr")}
    readers |= {f"tuned on {name}": pipeline_reader("ppocr", str(folder)) for name, folder in models.items()}
    loads = [w for w in workloads(args.data, args.pages, args.crops) if w.task == "crops" or w.dataset in args.sets]
    with dask.config.set(scheduler="threads"):
        rows = measure(readers, loads)
    info = machine()
    described = f"{info['processor']}, {info['cpus']} cores, {info['platform']}"
    write_results("finetune", {"rows": rows, "cards": cards}, table(rows, cards, " ".join(["python", *sys.argv]),
                                                                     described), folder=args.out)


if __name__ == "__main__":
    main()
