"""The documentation site builds with no warning, its generated pages say what the code does, and its examples run.

``mkdocs build --strict`` (what ``make docs`` runs) into a temporary folder: the CLI reference must hold the help
of every subcommand, the defaults page every constant, the benchmark pages the result tables they include. The
Python blocks of every page run as written (each page in its own folder of generated documents and namespace),
the ``dask-ocr`` command lines parse, and a block that can do neither says what it needs.
"""

from __future__ import annotations

import ast
import html
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from markdown_blocks import (
    DOCS,
    NEEDS,
    PROGRAMS,
    ROOT,
    code_blocks,
    doc_pages,
    example_frames,
    make_example_folders,
    run_python,
)

pytest.importorskip("mkdocs")
pytest.importorskip("material")
pytest.importorskip("mkdocstrings_handlers.python")


def _text(page) -> str:
    """The visible text of a built page's article, whitespace collapsed."""
    content = page.read_text(encoding="utf-8")
    article = content[content.find("<article"):content.find("</article>")]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", article)).split())


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    target = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
                            cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    return target


def test_the_site_builds_without_warnings(site):
    assert (site / "index.html").exists()
    for page in doc_pages():
        assert (site / page.relative_to(DOCS).with_suffix(".html")).exists(), page


def test_the_cli_reference_holds_the_help_of_every_subcommand(site):
    from dask_ocr.cli import build_parser

    text = _text(site / "reference" / "cli.html")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    assert "usage: dask-ocr" in text
    for name, sub in commands.items():
        assert f"usage: dask-ocr {name}" in text
        for action in sub._actions:
            for option in action.option_strings:
                assert option in text, f"dask-ocr {name} {option} is missing from the CLI reference"
            if action.help:
                assert " ".join(action.help.split()[:4]) in text, action.help


def test_the_defaults_page_lists_every_default(site):
    text = _text(site / "reference" / "defaults.html")
    tree = ast.parse((ROOT / "dask_ocr" / "defaults.py").read_text())
    names = [n.targets[0].id for n in tree.body if isinstance(n, ast.Assign)]
    assert names and [name for name in names if f"{name} =" not in text] == []


def test_the_benchmark_pages_include_every_result_file(site):
    results = ROOT / "benchmarks" / "results"
    included = " ".join(_text(page) for page in (site / "benchmarks").glob("*.html")).replace("|", " ")
    sources = " ".join(page.read_text() for page in (DOCS / "benchmarks").glob("*.md"))
    for table in sorted(results.glob("*.md")):
        assert f'--8<-- "benchmarks/results/{table.name}"' in sources, f"no benchmark page includes {table.name}"
        first = next(line for line in table.read_text().splitlines() if line.strip() and "---" not in line)
        words = html.unescape(re.sub(r"[`*|]", " ", first)).split()[:8]
        assert " ".join(words) in " ".join(included.split()), table.name
    throughput = (results / "throughput.md").read_text()
    figure = re.search(r"\*\*([\d.,]+x)\*\*", throughput)[1]             # a figure only the results file holds
    assert figure in _text(site / "benchmarks" / "speed.html")
    assert (site / "benchmarks" / "accuracy.png").exists()


def test_the_api_reference_documents_the_public_names(site):
    import dask_ocr

    text = _text(site / "reference" / "api.html") + _text(site / "reference" / "cluster.html")
    assert [name for name in dask_ocr.__all__ if name not in text] == []
    assert "Parameters:" in text and ":func:" not in text                # numpydoc rendered, Sphinx roles gone


def test_every_code_block_of_the_docs_runs_parses_or_says_what_it_needs():
    from dask_ocr.cli import build_parser

    parser = build_parser()
    blocks = [b for page in doc_pages() for b in code_blocks(page)]
    assert [str(b) for b in blocks if b.needs is not None and b.needs not in NEEDS + PROGRAMS] == []
    assert [str(b) for b in blocks if b.kind is None and b.lang not in ("", "text")] == []
    parsed = 0
    for block in blocks:
        if block.kind != "shell" or block.needs is not None:
            continue
        for line in filter(None, (" ".join(shlex.split(line, comments=True)) for line in block.code.splitlines())):
            words = shlex.split(line)
            assert words[0] == "dask-ocr", f"{block}: only dask-ocr command lines are checked, not {line!r}"
            parser.parse_args(words[1:])
            parsed += 1
    assert parsed > 0


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    root = make_example_folders(tmp_path_factory.mktemp("examples") / "template")
    return root, example_frames(root)


EXAMPLE_PAGES = [page for page in doc_pages() if any(b.kind == "python" for b in code_blocks(page))]


@pytest.mark.data
@pytest.mark.parametrize("page", EXAMPLE_PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_the_python_examples_of_each_page_run(page, examples, tmp_path, monkeypatch):
    template, frames = examples
    blocks = [b for b in code_blocks(page) if b.kind == "python"]
    monkeypatch.chdir(shutil.copytree(template, tmp_path / "work"))
    namespace = dict(frames)
    ran = 0
    for block in blocks:
        if block.runs_here:
            run_python(block, namespace)
            ran += 1
    assert ran == len([b for b in blocks if b.runs_here]) >= len([b for b in blocks if b.needs is None])
