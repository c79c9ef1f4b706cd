"""dask_ocr.cli: ``dask-ocr run`` to Parquet and JSON Lines (formats, positions, a cluster, resume); ``demo``."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dask_ocr.cli import main
from dask_ocr.metrics import cer
from dask_ocr.synthetic import make_sample_pages


def write_pages(folder, count=3, seed=7):
    pages = make_sample_pages(count, seed=seed)
    for page in pages:
        (folder / page.name).write_bytes(page.content)
    (folder / "broken.jpg").write_bytes(b"not really a jpeg")
    return {page.name: page.text for page in pages}


def test_run_to_parquet_and_jsonl(tmp_path, capsys):
    truth = write_pages(tmp_path)
    output = str(tmp_path / "out.parquet")
    assert main(["run", str(tmp_path / "*.jpg"), "-o", output, "--files-per-partition", "2"]) == 0
    assert "100%" in capsys.readouterr().err  # the progress bar ran to completion
    table = pd.read_parquet(tmp_path / "out.parquet")
    assert list(table.columns) == ["path", "page", "page_count", "regions", "orientation", "skew", "text",
                                   "text_confidence", "text_dropped", "text_source", "capped", "notes", "ocr_error"]
    assert len(table) == 4
    broken = table[table["path"].str.endswith("broken.jpg")]
    assert broken["text"].isna().all() and broken["ocr_error"].str.contains("not a recognised image").all()
    assert broken["page"].isna().all() and broken["page_count"].eq(0).all()   # a file that is no document
    good = table[~table["path"].str.endswith("broken.jpg")]
    assert good["page"].eq(1).all() and good["page_count"].eq(1).all()
    names = [p.rsplit("/", 1)[-1] for p in good["path"]]
    assert cer([truth[n] for n in names], good["text"].tolist()) <= 0.02

    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "out.jsonl")]) == 0
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["path"] for r in records] == table["path"].tolist()
    assert [r["text"] for r in records] == [None if pd.isna(t) else t for t in table["text"]]


def test_demo_reports_cer(capsys):
    assert main(["demo", "--pages", "2"]) == 0
    output = capsys.readouterr().out
    assert "overall CER" in output and "INVOICE NO" in output


def test_run_with_a_format_and_positions(tmp_path):
    write_pages(tmp_path, count=1)
    output = tmp_path / "out.jsonl"
    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(output), "--format", "alto", "--positions",
                 "--line-tolerance", "0"]) == 0
    good, broken = sorted((json.loads(line) for line in output.read_text().splitlines()),
                          key=lambda r: r["path"].endswith("broken.jpg"))
    assert good["text"].startswith("<?xml") and "<String" in good["text"]
    assert len(good["positions"]) > 10 and {"text", "x", "y", "line", "chars"} <= set(good["positions"][0])
    assert broken["positions"] is None and broken["ocr_error"]


def test_run_on_a_local_cluster_resumes(tmp_path, capsys, monkeypatch):
    import dask_ocr.cli

    monkeypatch.setattr(dask_ocr.cli, "SMALL_JOB_PAGES", 0)             # a cluster even for 3 pages
    truth = write_pages(tmp_path, count=2)
    output = str(tmp_path / "out.parquet")
    arguments = ["run", str(tmp_path / "*.jpg"), "-o", output, "--workers", "1", "--resume", "--detector", "ppocr",
                 "--files-per-partition", "1"]
    assert main(arguments) == 0
    assert "3 row(s) written" in capsys.readouterr().err
    assert main(arguments) == 0                                      # everything was written: nothing to redo
    assert "3 of 3 partition(s) already written" in capsys.readouterr().err
    table = pd.read_parquet(output)
    assert len(table) == 3 and table["path"].is_unique
    good = table.dropna(subset=["text"])
    assert cer([truth[p.rsplit("/", 1)[-1]] for p in good["path"]], good["text"].tolist()) <= 0.02
    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "x.jsonl"), "--resume"]) == 2


def test_output_that_is_not_ours_is_refused_in_one_line(tmp_path, capsys):
    write_pages(tmp_path, count=1)
    foreign = tmp_path / "theirs"
    foreign.mkdir()
    pd.DataFrame({"a": [1]}).to_parquet(foreign / "part.0.parquet")
    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(foreign)]) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "not written by dask_ocr" in message[0] and "Traceback" not in message[0]
    assert (foreign / "part.0.parquet").exists()                          # someone else's data is kept
    (tmp_path / "a_file").write_text("x")
    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "a_file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_rerun_needs_resume_or_overwrite_and_resume_starts_no_cluster(tmp_path, capsys, monkeypatch):
    write_pages(tmp_path, count=1)
    output = str(tmp_path / "out.parquet")
    assert main(["run", str(tmp_path / "*.jpg"), "-o", output]) == 0
    capsys.readouterr()
    assert main(["run", str(tmp_path / "*.jpg"), "-o", output]) == 2
    refused = capsys.readouterr().err
    assert "already holds this job's output" in refused and "--resume" in refused and "--overwrite" in refused
    import dask_ocr.cluster.plugins

    def no_cluster(*args, **kwargs):
        raise AssertionError("a finished job must not start a cluster")

    monkeypatch.setattr(dask_ocr.cluster.plugins, "start_cluster", no_cluster)
    assert main(["run", str(tmp_path / "*.jpg"), "-o", output, "--resume", "--workers", "2"]) == 0
    err = capsys.readouterr().err
    assert "already written (2 row(s))" in err and "nothing left to do" in err
    monkeypatch.undo()
    (tmp_path / "broken.jpg").unlink()                                     # other inputs: another job
    assert main(["run", str(tmp_path / "*.jpg"), "-o", output, "--resume"]) == 2
    assert "different job" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "*.jpg"), "-o", output, "--overwrite"]) == 0
    assert len(pd.read_parquet(output)) == 1


def test_a_small_job_runs_in_this_process_even_with_workers(tmp_path, capsys, monkeypatch, fake):
    import dask_ocr.cluster.plugins

    def no_cluster(*args, **kwargs):
        raise AssertionError("a one-page job must not start a cluster")

    monkeypatch.setattr(dask_ocr.cluster.plugins, "start_cluster", no_cluster)
    write_pages(tmp_path, count=1)
    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "o"), "--workers", "2"]) == 0
    assert "2 page(s): run in this process on 2 thread(s)" in capsys.readouterr().err
    assert len(pd.read_parquet(tmp_path / "o")) == 2


def test_a_one_page_command_imports_only_what_the_ppocr_path_needs(tmp_path):
    """``python -m dask_ocr run`` on one page writes its Parquet and PDF and ends without importing torch,
    transformers, distributed, onnx or RapidOCR's engine (``-X importtime`` lists every import)."""
    import subprocess
    import sys

    from dask_ocr.models.registry import create_recognizer, resolve_model
    from dask_ocr.samples import images_to_pdf

    create_recognizer(resolve_model("ppocr", "recognize"))  # the model cache's copies are built (with onnx) once
    (tmp_path / "page.pdf").write_bytes(images_to_pdf([make_sample_pages(1, seed=3)[0].content]))
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "dask_ocr", "run", str(tmp_path / "page.pdf"),
                             "-o", str(tmp_path / "o"), "--pdf", str(tmp_path / "pdf")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "openvino" in imported or "onnxruntime" in imported                # (the listing works)
    assert not imported & {"torch", "transformers", "distributed", "onnx", "rapidocr.ch_ppocr_det"}
    assert "1 searchable PDF(s) written" in result.stderr
    assert len(pd.read_parquet(tmp_path / "o")) == 1 and (tmp_path / "pdf" / "page.pdf").exists()


def test_progress_in_a_log_is_plain_lines(tmp_path, capsys):
    write_pages(tmp_path, count=2)
    assert main(["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "o"), "--pages-per-partition", "1"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "3/3 partitions (100%)" in err


def test_searchable_pdfs_from_the_command_line(tmp_path, capsys):
    from dask_ocr.samples import images_to_pdf

    pages = make_sample_pages(2, seed=3)
    (tmp_path / "scan.pdf").write_bytes(images_to_pdf([p.content for p in pages]))
    assert main(["run", str(tmp_path / "scan.pdf"), "-o", str(tmp_path / "o"), "--pdf", str(tmp_path / "pdf")]) == 0
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(tmp_path / "pdf" / "scan.pdf"))
    texts = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    assert len(texts) == 2
    for page, text in zip(pages, texts):
        assert cer(" ".join(page.text.split()), " ".join(text.split())) <= 0.03


def test_pages_sidecar_and_pdfa_flags(tmp_path, capsys, fake):
    """--pages reads only those pages, --sidecar writes each document's text (pages split by form feeds) and
    never replaces a file without --overwrite, --no-pdfa writes plain PDF."""
    import pikepdf

    from dask_ocr.samples import images_to_pdf

    pages = make_sample_pages(3, seed=3)
    (tmp_path / "scan.pdf").write_bytes(images_to_pdf([p.content for p in pages]))
    sidecar = tmp_path / "text"
    argv = ["run", str(tmp_path / "scan.pdf"), "-o", str(tmp_path / "o"), "--pdf", str(tmp_path / "pdf"),
            "--pages", "1,3", "--sidecar", str(sidecar), "--no-pdfa"]
    assert main(argv) == 0
    assert pd.read_parquet(tmp_path / "o")["page"].tolist() == [1, 3]
    texts = (sidecar / "scan.txt").read_text().split("\f")
    assert len(texts) == 3 and texts[2] == "" and all(texts[:2])  # two pages, each ended by a form feed
    with pikepdf.open(tmp_path / "pdf" / "scan.pdf") as pdf:
        assert len(pdf.pages) == 2 and "pdfaid:part" not in pdf.open_metadata()
    (sidecar / "scan.txt").write_text("mine")
    capsys.readouterr()
    assert main([*argv, "--overwrite"]) == 0
    assert (sidecar / "scan.txt").read_text() != "mine"  # replaced: --overwrite
    (sidecar / "scan.txt").write_text("mine")
    assert main([*argv, "--resume"]) == 0
    assert (sidecar / "scan.txt").read_text() == "mine" and "left alone" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*argv, "--redo-ocr", "--force-ocr"])  # one text-layer mode at a time


def test_pdf_output_over_foreign_files_or_inputs_is_refused_before_any_work(tmp_path, capsys):
    from dask_ocr.samples import images_to_pdf

    pages = make_sample_pages(1, seed=3)
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "report.pdf").write_bytes(images_to_pdf([pages[0].content]))
    original = (inbox / "report.pdf").read_bytes()
    for options in ([], ["--overwrite"]):                              # never the inputs, even with --overwrite
        assert main(["run", str(inbox), "-o", str(tmp_path / "o"), "--pdf", str(inbox), *options]) == 2
        message = capsys.readouterr().err.strip().splitlines()
        assert len(message) == 1 and "input document" in message[0]
    mine = tmp_path / "pdf"
    mine.mkdir()
    (mine / "report.pdf").write_bytes(b"the user's report")
    assert main(["run", str(inbox), "-o", str(tmp_path / "o"), "--pdf", str(mine)]) == 2
    message = capsys.readouterr().err
    assert "not written by dask_ocr" in message and "--overwrite" in message and "overwrite=True" not in message
    assert not (tmp_path / "o").exists()                               # refused before any OCR
    assert (inbox / "report.pdf").read_bytes() == original
    assert (mine / "report.pdf").read_bytes() == b"the user's report"


def test_resume_of_a_finished_job_rewrites_no_pdf(tmp_path, capsys):
    write_pages(tmp_path, count=1)
    arguments = ["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "o"), "--pdf", str(tmp_path / "pdf")]
    assert main(arguments) == 0                                        # broken.jpg has no page image: reported
    err = capsys.readouterr().err
    assert "no searchable PDF for" in err and "broken.jpg" in err
    (pdf,) = [p for p in (tmp_path / "pdf").glob("*.pdf")]
    stamp = pdf.stat().st_mtime_ns
    assert main([*arguments, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "nothing left to do" in err
    assert pdf.stat().st_mtime_ns == stamp                             # the complete PDF was left as it was


def test_interrupted_run_says_what_was_kept_and_resumes(tmp_path, capsys, monkeypatch):
    import dask

    from dask_ocr.sinks import parquet

    write_pages(tmp_path, count=2)
    real, calls = parquet._write_part, []

    def interrupted(frame, fs, root, index, run):
        calls.append(index)
        if len(calls) == 2:                                            # Ctrl-C while the second part is written
            raise KeyboardInterrupt
        return real(frame, fs, root, index, run)

    monkeypatch.setattr(parquet, "_write_part", interrupted)
    arguments = ["run", str(tmp_path / "*.jpg"), "-o", str(tmp_path / "o"), "--pages-per-partition", "1"]
    with dask.config.set(scheduler="sync"):
        assert main(arguments) == 130
    err = capsys.readouterr().err
    assert "interrupted: 1 of 3 partitions written; rerun with --resume" in err and "Traceback" not in err
    monkeypatch.undo()
    assert main([*arguments, "--resume"]) == 0
    assert "1 of 3 partition(s) already written" in capsys.readouterr().err
    assert len(pd.read_parquet(tmp_path / "o")) == 3


def test_orientation_and_deskew_flags(tmp_path):
    from dask_ocr.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["run", "x.pdf", "-o", "o", "--no-orientation", "--deskew"])
    assert (args.orientation, args.deskew) == (False, True)


@pytest.mark.slow
def test_ctrl_c_on_a_local_cluster_says_so_at_once_and_quietly(tmp_path):
    """SIGINT while a --workers run writes: the one-line message within 2 s, exit 130, no traceback or ERROR."""
    import signal
    import subprocess
    import sys
    import threading
    import time

    from dask_ocr.cli import SMALL_JOB_PAGES

    write_pages(tmp_path, count=SMALL_JOB_PAGES)                          # and broken.jpg: a job for a cluster
    output = tmp_path / "out"
    process = subprocess.Popen([sys.executable, "-m", "dask_ocr", "run", str(tmp_path / "*.jpg"), "-o", str(output),
                                "--workers", "1", "--pages-per-partition", "1"],
                               stderr=subprocess.PIPE, text=True)
    lines, said = [], threading.Event()

    def read():
        for line in process.stderr:
            lines.append(line)
            if "interrupted:" in line:
                said.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 240
    while not list(output.glob("part.*.parquet")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert process.poll() is None, "".join(lines)
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    assert said.wait(10), "".join(lines)
    reacted = time.monotonic() - sent
    assert process.wait(60) == 130, "".join(lines)
    reader.join(10)
    err = "".join(lines)
    assert reacted <= 2.0, err
    assert "rerun with --resume" in err and "Traceback" not in err and "ERROR" not in err


def test_an_interrupted_run_closes_its_cluster_without_waiting_for_a_slow_close():
    from dask_ocr.cli import _close

    class Slow:
        """A client and its cluster on a busy machine: closing takes longer than allowed."""

        def __init__(self):
            self.cluster, self.closed = self, []

        def close(self, timeout=None):
            self.closed.append(timeout)
            raise TimeoutError(f"timed out after {timeout} s.")

    client = Slow()
    _close(client, started=True, interrupted=True)
    assert client.closed == [2, 2]                     # the client, then the cluster all the same
    with pytest.raises(TimeoutError):
        _close(Slow(), started=False)
