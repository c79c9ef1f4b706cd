"""MkDocs hooks: pages generated from the code at build time, so that they cannot drift from it.

A page holds a marker comment where generated Markdown goes:

* ``<!-- generated: cli -->`` — ``--help`` of ``dask-ocr`` and of each subcommand, from
  ``dask_ocr.cli.build_parser()`` (the parser the command runs);
* ``<!-- generated: defaults -->`` — every constant of ``dask_ocr/defaults.py`` with its value and its ``#:``
  comment;
* ``<!-- generated: modules -->`` — every module of the package with the first paragraph of its docstring;
* ``<!-- generated: run NAME -->`` — the command that wrote ``benchmarks/results/NAME.md`` and the machine it
  ran on, from ``NAME.json`` (the page includes the ``.md`` itself with ``--8<--``).

The accuracy plot is copied from ``benchmarks/results/`` into the site.  The package is read from this
checkout (its root goes first on ``sys.path``), not from wherever ``dask_ocr`` happens to be installed.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dask_ocr"
MARKER = re.compile(r"<!-- generated: (\w+)(?: ([\w.-]+))? -->")
RESULTS = ROOT / "benchmarks" / "results"
#: The accuracy plot: where the benchmark writes it, and where the benchmark pages find it.
PLOT, PLOT_PAGE = "benchmarks/results/accuracy.png", "benchmarks/accuracy.png"
HELP_WIDTH = "100"

sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from griffe_roles import plain  # noqa: E402  (docs/ on the path above)


def cli_reference() -> str:
    """The help of the ``dask-ocr`` parser and of each of its subcommands, as the command prints it."""
    os.environ["COLUMNS"] = HELP_WIDTH  # argparse wraps help to the terminal's width
    from dask_ocr.cli import build_parser

    parser = build_parser()
    sections = [("dask-ocr", parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sections += [(f"dask-ocr {name}", sub) for name, sub in action.choices.items()]
    return "\n\n".join(f"## `{name}`\n\n```text\n{sub.format_help().rstrip()}\n```" for name, sub in sections)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def defaults_reference() -> str:
    """A table of ``dask_ocr/defaults.py``: the constants, their values, and the ``#:`` comment above them.

    A comment covers the assignments that follow it up to a blank line or the next comment: one row each.
    """
    source = (PACKAGE / "defaults.py").read_text()
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.lineno] = f"`{node.targets[0].id} = {_cell(ast.get_source_segment(source, node.value))}`"
    rows, comment, constants = [], [], []
    for number, line in enumerate(source.splitlines() + [""], start=1):
        if number in values:
            constants.append(values[number])
            continue
        if constants:
            rows.append(f"| {'<br>'.join(constants)} | {_cell(' '.join(comment))} |")
            comment, constants = [], []
        if line.startswith("#:"):
            comment.append(line[2:].strip())
        elif not line.strip():
            comment = []
    return "| constant | meaning |\n|---|---|\n" + "\n".join(rows)


def _summary(docstring: str | None) -> str:
    return _cell(plain((docstring or "").strip().split("\n\n")[0]))


def modules_reference() -> str:
    """A table of the package's modules, each with the first paragraph of its docstring."""
    rows = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        rows.append(f"| `{name}` | {_summary(ast.get_docstring(ast.parse(path.read_text())))} |")
    return "| module | what it holds |\n|---|---|\n" + "\n".join(rows)


def benchmark_run(name: str) -> str:
    """The command that wrote ``benchmarks/results/<name>.md``, and the machine it ran on (its JSON)."""
    record = json.loads((RESULTS / f"{name}.json").read_text())
    machine = record["machine"]
    details = [f"Python {machine['python']}", f"{machine['cpus']} CPUs ({machine['processor']})"]
    details += [f"onnxruntime {machine['onnxruntime']}"] if machine.get("onnxruntime") else []
    return f"`{record['command']}` — {', '.join(details)}:"


GENERATORS = {"cli": cli_reference, "defaults": defaults_reference, "modules": modules_reference,
              "run": benchmark_run}


def on_config(config):
    # Included files are found from the repository root, wherever mkdocs runs from (``mkdocs build -f ...``).
    config["mdx_configs"].setdefault("pymdownx.snippets", {})["base_path"] = [str(ROOT)]
    return config


def on_files(files, config):
    files.append(File.generated(config, PLOT_PAGE, abs_src_path=str(ROOT / PLOT)))
    return files


def on_page_markdown(markdown: str, page, config, files) -> str:
    def generate(match: re.Match) -> str:
        name, argument = match.groups()
        if name not in GENERATORS:
            raise ValueError(f"{page.file.src_uri}: unknown generated section {name!r}")
        return GENERATORS[name](*([argument] if argument else []))

    return MARKER.sub(generate, markdown)
