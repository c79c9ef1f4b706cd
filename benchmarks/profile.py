"""Where the time of ``detect`` + ``recognize`` goes, and how close it is to the models' own compute.

    python benchmarks/profile.py --data ../shared/data --pages 20 --workers 2 --repeats 3

For SROIE and FUNSD dev pages, the default pipeline runs through a Dask DataFrame on the threaded
scheduler with ``--workers`` threads (three partitions per thread, as ``throughput.py``), in a process
tuned as a Dask worker's is (:func:`dask_ocr.cluster.models.tune_worker_process`), with every
stage timed per call on the thread that runs it: decoding, resizing (and normalising), the
detection model, its post-processing, cropping, the recognition model, CTC decoding, layout,
formats, Arrow columns; "Dask and idle" is what is left of the threads' time (scheduling, the
frame plumbing, threads waiting at the end).  Every ONNX ``run()`` input is recorded, and the
*model-bound time* is those same calls, in the same batch shapes, replayed alone on the same
sessions over ``--workers`` threads (longest first).  Overhead = pipeline wall time / model-bound
time.

Then the session levers, each replayed on the recorded inputs side by side (round robin, medians):
the CPU memory arena, the graph optimisation level, the execution mode, and detection batched over
pages of one detection size.  The machine is shared: timings drift, so compare the ratios within
one run.  Results go to ``benchmarks/results/profile.{json,md}``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DEFAULT_DATA, load_manifest, write_results  # noqa: E402

#: Stage name → (object path, attribute) wrapped with a timer; "det"/"rec" are the loaded models.
STAGES = {
    "decoding": ("partition", "decode_image"),
    "resizing (detection)": ("det", "_batch_input"),
    "post-processing (detection)": ("det", "_regions"),
    "cropping": ("partition", "_crop_row"),
    "resizing (recognition)": ("ppocr", "recognition_input"),
    "CTC decoding": ("rec", "_decode"),
    "layout": ("partition", "build_page"),
    "formats": ("partition", "render"),
    "Arrow columns (write)": ("partition", "_with_outputs"),
    "Arrow columns (read regions)": ("partition", "_row_regions"),
}
MODEL_STAGES = {"det": "detection model", "rec": "recognition model"}


class Clock:
    """Thread-seconds per stage, and the inputs of every model call."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: list[tuple[str, np.ndarray]] = []
        self.lock = threading.Lock()

    def add(self, stage: str, seconds: float) -> None:
        with self.lock:
            self.seconds[stage] += seconds

    def wrap(self, stage: str, function):
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - start)

        return timed


class RecordedSession:
    """An ONNX session whose ``run`` is timed and whose inputs are kept for the replay."""

    def __init__(self, session, kind: str, clock: Clock):
        self.session, self.kind, self.clock = session, kind, clock

    def run(self, outputs, feeds):
        start = time.perf_counter()
        result = self.session.run(outputs, feeds)
        self.clock.add(MODEL_STAGES[self.kind], time.perf_counter() - start)
        with self.clock.lock:
            self.clock.calls.append((self.kind, next(iter(feeds.values()))))
        return result

    def __getattr__(self, name):
        return getattr(self.session, name)


def loaded_models(spec):
    """The detector and recognizer the pipeline will use (the process cache's, loaded now)."""
    from dask_ocr.cluster import models as model_cache

    return tuple(model_cache.get_model(model_cache.ModelKey(spec, task)) for task in ("detect", "recognize"))


def instrument(clock: Clock, detector, recognizer) -> list[tuple[object, str, object]]:
    """Wrap every stage and both sessions; returns what to put back (:func:`restore`)."""
    import dask_ocr.models.ppocr as ppocr
    import dask_ocr.partition as partition

    owners = {"partition": partition, "ppocr": ppocr, "det": detector, "rec": recognizer}
    saved = []
    for stage, (owner, name) in STAGES.items():
        target = owners[owner]
        if not hasattr(target, name):
            print(f"  (no {owner}.{name} to time: '{stage}' counts as Dask and idle)", flush=True)
            continue
        module = owner in ("partition", "ppocr")
        saved.append((target, name, getattr(target, name) if module else target.__dict__.get(name)))
        setattr(target, name, clock.wrap(stage, getattr(target, name)))
    for kind, model in (("det", detector), ("rec", recognizer)):
        saved.append((model, "session", model.session))
        model.session = RecordedSession(model.session, kind, clock)
    return saved


def restore(saved) -> None:
    """Undo :func:`instrument` (instance attributes that were class methods are removed)."""
    for target, name, value in reversed(saved):
        if value is None:
            delattr(target, name)
        else:
            setattr(target, name, value)


def pipeline(frame, workers: int, spec):
    """``detect`` + ``recognize`` over ``frame`` through Dask threads: (seconds, texts)."""
    import dask
    import dask.dataframe as dd

    ddf = dd.from_pandas(frame, npartitions=min(len(frame), 3 * workers))
    with dask.config.set(scheduler="threads", num_workers=workers):
        start = time.perf_counter()
        texts = ddf.ocr.detect(model=spec).ocr.recognize(model=spec)["text"].compute().fillna("").tolist()
    return time.perf_counter() - start, texts


def replay(calls, sessions: dict, workers: int) -> float:
    """Wall seconds of the recorded calls alone on ``workers`` threads, longest (largest input) first."""
    ordered = sorted(calls, key=lambda call: -call[1].size)
    names = {kind: session.get_inputs()[0].name for kind, session in sessions.items()}

    def run(call):
        kind, batch = call
        sessions[kind].run(None, {names[kind]: batch})

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, ordered))
    return time.perf_counter() - start


def profile_dataset(records, spec, workers: int, repeats: int) -> dict:
    """Stage seconds, pipeline and model-bound times (medians of ``repeats``), and the recorded calls."""
    import pandas as pd

    from dask_ocr.schema import BINARY_DTYPE

    frame = pd.DataFrame({"content": pd.Series([r["content"] for r in records], dtype=BINARY_DTYPE)})
    detector, recognizer = loaded_models(spec)
    sessions = {"det": detector.session, "rec": recognizer.session}
    walls, bounds, clocks = [], [], []
    for _ in range(repeats):
        clock = Clock()
        saved = instrument(clock, detector, recognizer)
        try:
            wall, texts = pipeline(frame, workers, spec)
        finally:
            restore(saved)
        walls.append(wall)
        bounds.append(replay(clock.calls, sessions, workers))   # right after, under the same load
        clocks.append(clock)
        print(f"  pipeline {wall:.2f}s, model-bound {bounds[-1]:.2f}s", flush=True)
    ratios = [wall / bound for wall, bound in zip(walls, bounds)]
    middle = sorted(range(repeats), key=lambda i: ratios[i])[repeats // 2]         # the run with the median overhead
    return {"pages": len(records), "workers": workers, "pipeline_s": walls, "model_bound_s": bounds,
            "middle": middle, "stages_s": dict(clocks[middle].seconds), "calls": clocks[middle].calls,
            "texts": texts, "overhead": ratios[middle]}


#: Session settings compared on the recorded calls, each against the defaults.
SESSION_LEVERS = {
    "defaults (arena on, ORT_ENABLE_ALL, sequential)": {},
    "memory arena off": {"arena": False},
    "graph optimisation ORT_ENABLE_EXTENDED": {"optimization": "extended"},
    "graph optimisation ORT_ENABLE_BASIC": {"optimization": "basic"},
    "parallel execution mode": {"execution_mode": "parallel"},
}


def round_robin(variants: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each ``name → callable``, the variants taking turns ``repeats`` times."""
    times = defaultdict(list)
    for _ in range(repeats):
        for name, function in variants.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def spread(items: list, limit: int) -> list:
    """Up to ``limit`` items evenly spaced through ``items`` (small and large batches alike)."""
    return items[::max(1, len(items) // limit)][:limit]


def serial(session, batches) -> None:
    name = session.get_inputs()[0].name
    for batch in batches:
        session.run(None, {name: batch})


def session_levers(calls, spec, limit: int, repeats: int) -> dict[str, dict[str, float]]:
    """Seconds of up to ``limit`` recorded calls per model, one thread, under each session setting."""
    from dask_ocr.models.onnx import make_session

    detector, recognizer = loaded_models(spec)
    paths = {"det": detector.model_path, "rec": recognizer.model_path}
    results = {}
    for kind, path in paths.items():
        batches = spread([batch for k, batch in calls if k == kind], limit)
        variants = {}
        for lever, settings in SESSION_LEVERS.items():
            session = make_session(path, 1, False, **settings)
            serial(session, batches[:1])                                  # first-call set-up off the clock
            variants[lever] = (lambda s=session, b=batches: serial(s, b))
        results[kind] = round_robin(variants, repeats)
    return results


def detection_batching(calls, spec, limit: int, repeats: int, batch_size: int = 4) -> dict[str, float] | None:
    """Recorded detection inputs one per call vs stacked ``batch_size`` per call where they share a size."""
    detector, _ = loaded_models(spec)
    singles = spread([batch for kind, batch in calls if kind == "det"], limit)
    by_shape = defaultdict(list)
    for batch in singles:
        by_shape[batch.shape].append(batch)
    stacked = [np.concatenate(group[i:i + batch_size]) for group in by_shape.values()
               for i in range(0, len(group), batch_size)]
    if len(stacked) == len(singles):
        return None                                                       # no two pages share a size
    return round_robin({"one page per call": lambda: serial(detector.session, singles),
                        f"up to {batch_size} pages of one size per call": lambda: serial(detector.session, stacked)},
                       repeats) | {"calls": len(stacked), "pages": len(singles)}


def stage_table(name: str, result: dict) -> list[str]:
    """Markdown rows: each stage's thread-seconds and share of the threads' time (wall x workers)."""
    wall = result["pipeline_s"][result["middle"]]
    budget = wall * result["workers"]
    stages = dict(result["stages_s"])
    stages["Dask and idle (the rest)"] = max(0.0, budget - sum(stages.values()))
    rows = [f"| {name} | {stage} | {seconds:.2f} | {seconds / budget:.1%} |" for stage, seconds in stages.items()]
    bound = result["model_bound_s"][result["middle"]]
    rows.append(f"| {name} | **pipeline wall** / **model-bound wall** ({result['workers']} threads) | "
                f"{wall:.2f} / {bound:.2f} | overhead **{result['overhead']:.3f}** |")
    return rows


def lever_table(name: str, levers: dict, batching: dict | None) -> list[str]:
    rows = []
    for kind, times in levers.items():
        base = times[next(iter(SESSION_LEVERS))]
        rows += [f"| {name} | {kind} | {lever} | {seconds:.2f} | {base / seconds:.2f}x |"
                 for lever, seconds in times.items()]
    if batching:
        base = batching["one page per call"]
        rows += [f"| {name} | det | {lever} ({batching['pages']} pages, {batching['calls']} calls) | {seconds:.2f} | "
                 f"{base / seconds:.2f}x |" for lever, seconds in batching.items() if lever not in ("calls", "pages")]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--datasets", default="sroie,funsd")
    parser.add_argument("--pages", type=int, default=20, help="pages per dataset")
    parser.add_argument("--workers", type=int, default=2, help="Dask threads (one model thread each)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lever-calls", type=int, default=12, help="recorded calls per model in the lever replays")
    parser.add_argument("--model", default="ppocr", help="engine to profile (a registered name)")
    parser.add_argument("--no-levers", action="store_true", help="skip the session lever replays")
    args = parser.parse_args()

    import pandas as pd

    from dask_ocr.cluster.models import tune_worker_process
    from dask_ocr.models.registry import resolve_model
    from dask_ocr.schema import BINARY_DTYPE

    tune_worker_process()
    spec = resolve_model(args.model)
    warm = load_manifest(args.data, "sroie", 2)
    pipeline(pd.DataFrame({"content": pd.Series([r["content"] for r in warm], dtype=BINARY_DTYPE)}), 1, spec)
    payload, stages, levers = {}, [], []
    for name in args.datasets.split(","):
        print(name, flush=True)
        result = profile_dataset(load_manifest(args.data, name, args.pages), spec, args.workers, args.repeats)
        lever_times, batching = {}, None
        if not args.no_levers:
            lever_times = session_levers(result["calls"], spec, args.lever_calls, args.repeats)
            batching = detection_batching(result["calls"], spec, args.lever_calls, args.repeats)
        result.pop("calls"), result.pop("texts")
        payload[name] = {**result, "session_levers_s": lever_times, "detection_batching_s": batching}
        stages += stage_table(name.upper(), result)
        levers += lever_table(name.upper(), lever_times, batching)
    lines = [f"Pipeline: `detect` + `recognize` (`{args.model}`), Dask threads x{args.workers}, {args.pages} pages per "
             f"dataset; overhead = pipeline wall / model-bound wall (the recorded ONNX calls replayed alone right "
             f"after each run), the median of {args.repeats} runs, whose stage thread-seconds are shown.", "",
             "| pages | stage | thread-s | share of threads' time |", "|---|---|---|---|", *stages, "",
             f"Session levers: up to {args.lever_calls} recorded calls per model replayed on one thread, variants "
             f"in turn, medians of {args.repeats}; speed-up against the defaults (shared machine: compare ratios).",
             "", "| pages | model | lever | s | speed-up |", "|---|---|---|---|---|", *levers]
    write_results("profile", payload, "\n".join(lines))


if __name__ == "__main__":
    main()
