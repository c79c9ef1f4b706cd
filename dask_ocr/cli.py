"""The ``dask-ocr`` command: ``run`` OCRs files into Parquet or JSON Lines; ``demo`` shows it working."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import re
import sys
from pathlib import Path

from . import defaults
from .formats import OUTPUT_FORMATS
from .models.onnx import PRECISIONS, RUNTIMES
from .models.registry import CARD_NAME

__all__ = ["main", "command"]

RESULT_COLUMNS = ["path", "page", "page_count", "regions", "orientation", "skew", "text", "text_confidence",
                  "text_dropped", "positions", "text_source", "capped", "notes", "ocr_error"]
#: Jobs of at most this many pages run on threads in this process, even with ``--workers``: starting worker
#: processes, loading the models in each and closing them cost about 4 s on a 2-core machine, more than OCR'ing
#: these pages on as many threads takes (0.3-0.5 s a page on one core).
SMALL_JOB_PAGES = 16
#: What the searchable PDFs are made from: the page columns, and the results of the OCR (the page geometry
#: ``detect`` found, where it looked: turned pages come out upright).
PAGE_COLUMNS = ["path", "page", "content", "width", "height", "dpi", "capped"]
PDF_RESULT_COLUMNS = ["positions", "text_source", "orientation", "skew", "ocr_error"]


def _ocr(ddf, args):
    """The pages with the OCR's columns added (the page images kept, for the searchable PDFs)."""
    engine = {"runtime": args.runtime, "precision": args.precision}
    out = ddf.ocr.detect(model=args.detector, orientation=args.orientation, deskew=args.deskew,
                         **engine) if args.detect else ddf
    return out.ocr.recognize(regions_col="regions" if args.detect else None, model=args.model, **engine,
                             output_format=args.format, positions_col="positions" if args.positions else None,
                             batch_size=args.batch_size, line_tolerance=args.line_tolerance,
                             border_width=args.border_width, group_images=args.group_images)


def _results(ocr):
    """What the output holds of the OCR'd pages."""
    return ocr[[c for c in RESULT_COLUMNS if c in ocr.columns]]


def _write_jsonl(ddf, path: Path) -> None:
    """Write partitions in order to one JSON Lines file, computing a few partitions at a time."""
    import dask

    parts = ddf.to_delayed()
    wave = max(2, 2 * (dask.system.CPU_COUNT or 1))
    with open(path, "w", encoding="utf-8") as handle:
        for start in range(0, len(parts), wave):
            for frame in dask.compute(*parts[start:start + wave]):
                if len(frame):
                    lines = frame.to_json(orient="records", lines=True, force_ascii=False)
                    handle.write(lines if lines.endswith("\n") else lines + "\n")
            print(f"dask-ocr: {min(start + wave, len(parts))}/{len(parts)} partitions written", file=sys.stderr)


def _client(args, pages: int):
    """A cluster started for this run (``--workers``), with the models registered; ``None`` (this process's
    threads) without ``--workers``, or for a job of at most :data:`SMALL_JOB_PAGES` pages."""
    if not args.workers:
        return None
    if pages <= SMALL_JOB_PAGES:
        print(f"dask-ocr: {pages} page(s): run in this process on {args.workers} thread(s) (a cluster starts for "
              f"more than {SMALL_JOB_PAGES} pages)", file=sys.stderr)
        return None
    from .cluster import register_models, start_cluster

    client = start_cluster(n_workers=args.workers, models=None, dashboard_address=None)
    register_models(client, args.model, tasks=("recognize",))
    if args.detect:
        register_models(client, args.detector, tasks=("detect",))
    return client


def _close(client, started: bool, interrupted: bool = False) -> None:
    """Close the client and, if we started it, its cluster: workers first, so none is killed mid-task.

    After an interruption the cluster is closed at once, and the errors of the tasks it cancels stay quiet; so
    does a close that takes longer than 2 s (a busy machine): its workers end with this process.
    """
    if client is None:
        return
    cluster = client.cluster if started else None
    if interrupted:
        for name in ("distributed", "tornado", "asyncio"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    elif cluster is not None:
        client.retire_workers(close_workers=True)
    for closing in (client, cluster):
        with contextlib.suppress(TimeoutError) if interrupted else contextlib.nullcontext():
            if closing is not None:
                closing.close(timeout=2 if interrupted else None)


def _cli_words(message: str) -> str:
    """A library message in the command's words: ``--resume`` for ``resume=True (--resume)``."""
    return re.sub(r"\w+=True \((--[\w-]+)\)", r"\1", message)


def _pages(args, client=None):
    """The input pages, partitioned for the cluster that will run them (known before one is started; the
    workers of a running scheduler's cluster)."""
    import dask_ocr
    from dask_ocr.cluster.scheduling import PARTITIONS_PER_CPU_THREAD, default_partition_count

    npartitions = PARTITIONS_PER_CPU_THREAD * args.workers if args.workers else None
    if args.scheduler:
        npartitions = default_partition_count(client)
    return dask_ocr.read_documents(args.inputs, dpi=args.dpi, pages_per_partition=args.pages_per_partition,
                                   npartitions=npartitions, use_text_layer=not args.force_ocr, password=args.password,
                                   redo_ocr=args.redo_ocr, pages=args.pages)


def _check_output(args, out, documents: list[str]):
    """What the output already holds (a :class:`~dask_ocr.sinks.parquet.JobStatus`), or the one-line reason it
    cannot be written."""
    from .sinks.parquet import JobStatus, job_status
    from .sinks.pdf import pdf_folder_problem

    output = Path(args.output)
    if output.suffix == ".jsonl":
        if args.resume:
            return None, "--resume needs Parquet output (a directory), not .jsonl"
        if output.exists() and not args.overwrite:
            return None, f"{output} exists; pass --overwrite to replace it"
        return JobStatus((), out.npartitions, 0), None
    try:
        status = job_status(out, str(output), resume=args.resume, overwrite=args.overwrite)
    except (FileExistsError, ValueError) as exc:
        return None, str(exc)
    if args.pdf:
        problem = pdf_folder_problem(documents, args.pdf, overwrite=args.overwrite)
        if problem:
            return None, problem
    if status.done:
        print(f"dask-ocr: {len(status.done)} of {status.total} partition(s) already written "
              f"({status.rows_done} row(s))", file=sys.stderr)
    return status, None


def _documents(args) -> list[str]:
    """The input documents, as ``read_documents`` names them in the ``path`` column."""
    from fsspec.implementations.local import LocalFileSystem

    from .readers import DOCUMENT_SUFFIXES, list_files

    fs, files = list_files(args.inputs, suffixes=DOCUMENT_SUFFIXES)
    return files if isinstance(fs, LocalFileSystem) else [fs.unstrip_protocol(path) for path in files]


def run(args) -> int:
    """OCR the input files and write the results."""
    from .sinks.pdf import pending_documents

    if args.pdf:
        if args.output.endswith(".jsonl"):
            print("dask-ocr: --pdf needs Parquet output (a directory), not .jsonl", file=sys.stderr)
            return 2
        args.positions = True  # the searchable PDFs place their words from the positions
    client = None
    try:
        if args.scheduler:  # a running cluster: partitions are sized for its workers
            from .cluster.scheduling import connect

            client = connect(args.scheduler)
        pages = _pages(args, client)
        ocr = _ocr(pages, args)
        documents = _documents(args) if args.pdf else []
        status, problem = _check_output(args, _results(ocr), documents)
        if problem:
            print(f"dask-ocr: {_cli_words(problem)}", file=sys.stderr)
            return 2
        pdfs = bool(args.pdf) and (not args.resume or bool(pending_documents(documents, args.pdf)))
        if client is None and (not status.finished or pdfs):
            client = _client(args, pages.divisions[-1] + 1)
        return _run_work(args, pages, ocr, status, pdfs)
    except FileNotFoundError as exc:
        print(f"dask-ocr: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # said at once; the cluster is then closed without waiting for its tasks
        print(f"dask-ocr: interrupted: {_written_share(args)}; rerun with --resume", file=sys.stderr, flush=True)
        interrupted, client = client, None  # closed here, not again on the way out
        _close(interrupted, started=bool(args.workers), interrupted=True)
        return 130
    finally:
        _close(client, started=bool(args.workers))


def _run_work(args, pages, ocr, status, pdfs: bool) -> int:
    """Write the results (what is left of them) and the searchable PDFs in one pass: each page is read, rendered
    and OCR'd once, for both."""
    out = _results(ocr)
    if status.finished:
        print("dask-ocr: nothing left to do", file=sys.stderr)
    else:
        print(f"dask-ocr: {out.divisions[-1] + 1} page(s) in {out.npartitions} partition(s) → {args.output}",
              file=sys.stderr)
    if args.output.endswith(".jsonl"):
        _write_jsonl(out, Path(args.output))
        return 0
    if args.pdf and not pdfs:
        print(f"dask-ocr: the searchable PDFs in {args.pdf} are complete", file=sys.stderr)
    elif args.pdf:
        print(f"dask-ocr: searchable PDFs → {args.pdf}", file=sys.stderr)
    try:
        writes = _writes(args, pages, ocr, status, pdfs)
    except (FileExistsError, ValueError) as exc:  # the folder was taken or changed since it was checked
        print(f"dask-ocr: {_cli_words(str(exc))}", file=sys.stderr)
        return 2
    if writes:
        _report(args, writes, _compute(writes, args.workers))
    if args.sidecar:
        _write_sidecars(args)
    return 0


def _write_sidecars(args) -> None:
    """One plain-text file per document in ``args.sidecar`` (named as its PDF, ``.txt``), its pages' text in
    page order separated by form feeds, as pdftotext and OCRmyPDF write them; read back from the output (no
    OCR).  A file there already is replaced only with ``--overwrite``."""
    import pandas as pd
    from fsspec.implementations.local import LocalFileSystem

    from .sinks.files import write_atomically
    from .sinks.pdf import output_names

    if args.output.endswith(".jsonl"):
        frame = pd.read_json(args.output, lines=True)[["path", "page", "text"]]
    else:
        frame = pd.read_parquet(args.output, columns=["path", "page", "text"])
    folder = Path(args.sidecar)
    folder.mkdir(parents=True, exist_ok=True)
    documents = list(dict.fromkeys(frame["path"].astype(str)))
    names = output_names(documents)
    kept = 0
    for doc, pages in frame.assign(path=frame["path"].astype(str)).groupby("path", sort=False):
        target = folder / (names[doc][:-len(".pdf")] + ".txt")
        if target.exists() and not args.overwrite:
            print(f"dask-ocr: {target} exists: left alone (pass --overwrite to replace it)", file=sys.stderr)
            continue
        text = "\f".join("" if pd.isna(value) else str(value) for value in pages.sort_values("page")["text"])
        data = (text + "\f").encode("utf-8")
        write_atomically(LocalFileSystem(), str(target), lambda handle, data=data: handle.write(data))
        kept += 1
    print(f"dask-ocr: {kept} text file(s) written to {folder}", file=sys.stderr)


def _writes(args, pages, ocr, status, pdfs: bool) -> dict:
    """The writes left to do, built (their folders locked): ``{"parquet": ..., "pdf": ...}``."""
    from .sinks.parquet import parquet_write
    from .sinks.pdf import pdf_write

    writes = {}
    try:
        if not status.finished:
            writes["parquet"] = parquet_write(_results(ocr), args.output, resume=args.resume,
                                              overwrite=args.overwrite)
        if pdfs:
            writes["pdf"] = pdf_write(_pdf_frame(args, pages, ocr, status.done), args.pdf, overwrite=args.overwrite,
                                      resume=args.resume, password=args.password, pdfa=args.pdfa)
    except BaseException:
        for write in writes.values():
            write.lock.release()
        raise
    return writes


def _compute(writes: dict, threads: int | None) -> dict:
    """Run the writes in one computation (on ``threads`` threads where it runs in this process); their results by
    name."""
    import dask

    from .sinks.lazy import compute_writes

    what = "partitions" if len(writes) == 1 else "partition writes (Parquet parts and PDF pages)"
    with dask.config.set({"num_workers": threads} if threads else {}):
        return dict(zip(writes, compute_writes(list(writes.values()), what=what), strict=True))


def _report(args, writes: dict, results: dict) -> None:
    """What the writes did, in the command's lines: rows, PDFs, and the pages and documents with problems."""
    from .sinks.pdf import problem_report

    if "parquet" in results:
        print(f"dask-ocr: {results['parquet']} row(s) written", file=sys.stderr)
    if "pdf" in results:
        written = results["pdf"]
        report = problem_report(written.problems)  # the pages written without text
        if report:
            print(f"dask-ocr: {report}", file=sys.stderr)
        print(f"dask-ocr: {len(written)} searchable PDF(s) written to {args.pdf}", file=sys.stderr)
        for doc, reason in written.failed.items():  # reported like rows with errors: they do not fail the run
            print(f"dask-ocr: no searchable PDF for {doc}: {_cli_words(reason)}", file=sys.stderr)
        for doc, reason in written.not_pdfa.items():
            print(f"dask-ocr: {doc} written as plain PDF, not PDF/A-2b: {reason}", file=sys.stderr)


def _written_share(args) -> str:
    """``N of M partitions written`` of the Parquet output after an interruption."""
    from fsspec.implementations.local import LocalFileSystem

    from .sinks.files import RecordError, read_record
    from .sinks.parquet import JOB_FILE

    output = Path(args.output)
    try:
        record = read_record(LocalFileSystem(), str(output / JOB_FILE)) if output.is_dir() else None
    except RecordError:
        record = None
    if not record:
        return "no partition written"
    written = len(list(output.glob("part.*.parquet")))
    return f"{written} of {record.get('npartitions', '?')} partitions written"


def _pdf_frame(args, pages, ocr, done: tuple[int, ...]):
    """The frame the searchable PDFs are made from: the OCR'd pages, except in the partitions an earlier run
    wrote (``--resume``): there the pages beside the results read back from their parts, not OCR'd again."""
    import dask
    import dask.dataframe as dd

    from .sinks.parquet import part_path

    frame = ocr[[c for c in PAGE_COLUMNS + PDF_RESULT_COLUMNS if c in ocr.columns]]
    if not done:
        return frame
    ocr_parts, page_parts = frame.to_delayed(optimize_graph=False), pages.to_delayed(optimize_graph=False)
    parts = [dask.delayed(_attach)(page_parts[i], part_path(args.output, i)) if i in done else ocr_parts[i]
             for i in range(frame.npartitions)]
    return dd.from_delayed(parts, meta=frame._meta, verify_meta=False)


def _attach(pages, part: str):
    """The page columns of ``pages`` beside the results in ``part`` (with the Arrow dtypes they were written
    with)."""
    import pandas as pd

    results = pd.read_parquet(part, dtype_backend="pyarrow")
    names = [name for name in PDF_RESULT_COLUMNS if name in results.columns]
    return pages[[c for c in PAGE_COLUMNS if c in pages.columns]].assign(
        **{name: pd.Series(results[name].array, index=pages.index) for name in names})


def _write_samples(folder: Path, pages: int, seed: int) -> dict[tuple[str, int], str]:
    """Generated scans and a mixed PDF (a scanned and a born-digital page) in ``folder``; the truth per page."""
    from dask_ocr.samples import sample_pdf
    from dask_ocr.synthetic import make_sample_pages

    truth = {}
    for page in make_sample_pages(pages, seed=seed):
        (folder / page.name).write_bytes(page.content)
        truth[str(folder / page.name), 1] = page.text
    data, texts = sample_pdf(seed=seed)
    (folder / "sample_mixed.pdf").write_bytes(data)
    truth.update({(str(folder / "sample_mixed.pdf"), number): text for number, text in enumerate(texts, start=1)})
    return truth


def demo(args) -> int:
    """Generate sample scans and a PDF, OCR them through Dask, print the text and the CER against the truth."""
    import tempfile

    import pandas as pd

    import dask_ocr
    from dask_ocr.cluster.progress import compute_with_progress
    from dask_ocr.decode import is_missing
    from dask_ocr.metrics import cer

    with tempfile.TemporaryDirectory(prefix="dask_ocr_demo_") as tmp:
        folder = Path(args.save or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        truth = _write_samples(folder, args.pages, args.seed)
        ddf = dask_ocr.read_documents(str(folder), pages_per_partition=2)
        out = ddf.ocr.detect().ocr.recognize()[["path", "page", "text", "text_source", "ocr_error"]]
        frame = pd.concat(compute_with_progress(out.to_delayed()))
    references, hypotheses = [], []
    for row in frame.itertuples():
        reference = truth[row.path, row.page]
        references.append(reference)
        hypotheses.append("" if is_missing(row.text) else row.text)
        print(f"── {Path(row.path).name} page {row.page} ({row.text_source})  CER {cer(reference, hypotheses[-1]):.2%}")
        print(hypotheses[-1])
    overall = cer(references, hypotheses)
    print(f"\n{len(frame)} generated pages (images and a PDF), overall CER {overall:.2%} (target ≤ 2%)")
    return 0 if overall <= 0.02 else 1


def finetune(args) -> int:
    """``dask-ocr finetune``: train the recognizer on labelled pages in the manifest format."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from .training import TrainingSettings
    from .training import finetune as train

    settings = TrainingSettings(epochs=args.epochs, max_steps=args.max_steps, batch_size=args.batch_size,
                                learning_rate=args.learning_rate, augment=args.augment, seed=args.seed,
                                ignore_case=args.ignore_case)
    try:
        spec = train(args.train, args.output, args.val, base=args.base, validation_share=args.validation_share,
                     settings=settings, device=args.device, threads=args.threads, resume=args.resume,
                     overwrite=args.overwrite)
    except (FileExistsError, FileNotFoundError, ValueError, ImportError) as exc:
        print(f"dask-ocr finetune: {exc}", file=sys.stderr)
        return 2
    card = json.loads((Path(spec.name) / CARD_NAME).read_text(encoding="utf-8"))
    check = card["validation"]
    print(f"validation CER {check['base_cer']:.2%} (base {card['base']}) -> {check['cer']:.2%} after "
          f"{card['training']['steps']} steps ({card['training']['seconds'] / 60:.1f} min); "
          f"use it with --model {spec.name}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dask-ocr", description="High-throughput OCR on Dask DataFrames.")
    commands = parser.add_subparsers(dest="command", required=True)
    runner = commands.add_parser("run", help="OCR images, PDFs and TIFFs into Parquet (directory) or JSON Lines")
    runner.add_argument("inputs", nargs="+", help="files, directories, globs or fsspec URLs (images, PDFs, TIFFs)")
    runner.add_argument("-o", "--output", required=True, help="OUT.parquet (a directory of parts) or OUT.jsonl")
    runner.add_argument("--model", default=defaults.MODEL,
                        help="recognizer: ppocr (default), a TrOCR name (ocr_base_printed), Hub id or directory")
    runner.add_argument("--detector", default=defaults.MODEL, help=f"text detector (default: {defaults.MODEL})")
    runner.add_argument("--runtime", default=defaults.RUNTIME, choices=RUNTIMES,
                        help="who runs the ONNX models (default auto: the fastest measured at fp32 accuracy here)")
    runner.add_argument("--precision", default=defaults.PRECISION, choices=PRECISIONS,
                        help="OpenVINO's arithmetic: f32, or bf16 on CPUs with AMX / AVX512-BF16 (default auto)")
    runner.add_argument("--no-detect", dest="detect", action="store_false",
                        help="read each whole image as one text chunk (line or word images)")
    runner.add_argument("--format", default=defaults.OUTPUT_FORMAT, choices=OUTPUT_FORMATS,
                        help="what the text column holds (default: text)")
    runner.add_argument("--positions", action="store_true", help="add the page matrix column 'positions'")
    runner.add_argument("--group-images", action="store_true",
                        help="read the regions of a line as joined crops (word-level regions)")
    runner.add_argument("--batch-size", type=int, default=defaults.BATCH_SIZE)
    runner.add_argument("--line-tolerance", type=float, default=defaults.LINE_TOLERANCE,
                        help="pixels; 0 estimates it per image (best on SROIE and FUNSD)")
    runner.add_argument("--border-width", type=float, default=defaults.BORDER_WIDTH,
                        help="pixels of margin around each region; ~4 helps tightly cropped line images")
    runner.add_argument("--pages-per-partition", "--files-per-partition", dest="pages_per_partition", type=int,
                        default=None, help="default: sized for the cluster")
    runner.add_argument("--dpi", type=float, default=None,
                        help="resolution every PDF page is rendered at (default: a scanned page at its scan's own, "
                             f"at least {defaults.NATIVE_MIN_DPI:g}; other pages at {defaults.DPI})")
    runner.add_argument("--orientation", action=argparse.BooleanOptionalAction, default=defaults.ORIENTATION,
                        help="find and undo quarter turns and upside-down pages before detection (default: on)")
    runner.add_argument("--deskew", action=argparse.BooleanOptionalAction, default=defaults.DESKEW,
                        help="find and undo skewed pages before detection (default: on)")
    layers = runner.add_mutually_exclusive_group()
    layers.add_argument("--force-ocr", action="store_true",
                        help="OCR every page, also those whose PDF text layer holds their text")
    layers.add_argument("--redo-ocr", action="store_true",
                        help="OCR again the pages whose text layer is an earlier OCR's (all invisible); with --pdf "
                             "the old layer is replaced")
    runner.add_argument("--pages", default=None, metavar="RANGES",
                        help="only these pages of every document, e.g. 1-3,7 or 2- (1-based)")
    runner.add_argument("--pdfa", action=argparse.BooleanOptionalAction, default=True,
                        help="write the searchable PDFs as PDF/A-2b where nothing in a document forbids it "
                             "(default: on)")
    runner.add_argument("--sidecar", metavar="DIR", default=None,
                        help="also write each document's text to DIR/<name>.txt, pages separated by form feeds")
    runner.add_argument("--password", default=None, help="password of encrypted PDFs")
    runner.add_argument("--resume", action="store_true",
                        help="skip the partitions an interrupted run of the same job already wrote (Parquet output)")
    runner.add_argument("--overwrite", action="store_true",
                        help="replace the output of an earlier run (and, with --pdf, PDFs dask-ocr did not write; "
                             "never an input)")
    runner.add_argument("--pdf", metavar="DIR",
                        help="also write one searchable PDF per input document to DIR (adds the positions column)")
    place = runner.add_mutually_exclusive_group()
    place.add_argument("--workers", type=int, help="start a local cluster of this many worker processes (jobs of "
                                                   f"at most {SMALL_JOB_PAGES} pages run on as many threads here)")
    place.add_argument("--scheduler", help="address of a running Dask scheduler (tcp://host:8786)")
    runner.set_defaults(func=run)
    demo_parser = commands.add_parser("demo", help="OCR generated sample pages and report the CER")
    demo_parser.add_argument("--pages", type=int, default=4)
    demo_parser.add_argument("--seed", type=int, default=0)
    demo_parser.add_argument("--save", metavar="DIR", help="write the generated documents here (kept)")
    demo_parser.set_defaults(func=demo)
    _add_finetune_parser(commands)
    return parser


def _add_finetune_parser(commands) -> None:
    from .training.settings import TrainingSettings

    default = TrainingSettings()
    tuner = commands.add_parser("finetune", help="train the recognizer on your own labelled pages or crops")
    tuner.add_argument("--train", required=True, metavar="DATA",
                       help="a folder with manifest.jsonl (images with regions and their text, or crops with text)")
    tuner.add_argument("--val", metavar="DATA", help="validation data in the same format (default: a share of "
                                                     "the training pages is held out)")
    tuner.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="a new or empty folder")
    tuner.add_argument("--base", default=defaults.MODEL, help="the PP-OCR model to start from (default: ppocr)")
    tuner.add_argument("--validation-share", type=float, default=0.1,
                       help="share of training pages held out without --val (default 0.1)")
    tuner.add_argument("--epochs", type=int, default=default.epochs, help=f"default {default.epochs}")
    tuner.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    tuner.add_argument("--batch-size", type=int, default=default.batch_size, help=f"default {default.batch_size}")
    tuner.add_argument("--learning-rate", type=float, default=default.learning_rate,
                       help=f"default {default.learning_rate}")
    tuner.add_argument("--no-augment", dest="augment", action="store_false", help="train on the crops as they are")
    tuner.add_argument("--ignore-case", action=argparse.BooleanOptionalAction, default=None,
                       help="labels that do not keep the printed case (default: when no label has a lower-case "
                            "letter)")
    tuner.add_argument("--seed", type=int, default=default.seed)
    tuner.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    tuner.add_argument("--threads", type=int, default=None, help="torch threads (default: every core)")
    tuner.add_argument("--no-resume", dest="resume", action="store_false",
                       help="start again instead of continuing a stopped run in MODEL_DIR")
    tuner.add_argument("--overwrite", action="store_true", help="replace a finished model in MODEL_DIR")
    tuner.set_defaults(func=finetune)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


def command() -> None:
    """The ``dask-ocr`` command (and ``python -m dask_ocr``): :func:`main`, then the end of the process.

    Once a run has finished, every file it wrote is closed and every lock released, and Python's teardown of the
    modules the run loaded (pandas, dask, OpenVINO, ...) only adds 0.2-0.3 s to the command (a tenth of a
    one-page job): the process ends without it, its output flushed.  Not after an interruption or where worker
    processes are left (their normal ending stops them), nor when the run raised.
    """
    import multiprocessing
    import os

    code = main()
    if code == 130 or multiprocessing.active_children():
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    command()
