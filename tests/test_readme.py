"""Every code block of the README runs as written, or says what it needs that the tests lack.

Python blocks run in order in one namespace (later blocks use the frames earlier ones made), shell blocks with
``bash -e``, both in a folder of generated scans, PDFs and line images named as the examples name them. A block
that needs a network, a GPU or a cloud account says so (``<!-- needs: network -->`` on the line before it) and
is the only kind left out; a block counts as run only when it ran.
"""

from __future__ import annotations

import subprocess

import pytest

from markdown_blocks import NEEDS, README, code_blocks, example_frames, make_example_folders, run_python


def test_readme_blocks_are_code_or_output_and_say_what_they_need():
    blocks = code_blocks(README)
    assert [b for b in blocks if b.needs is not None and b.needs not in NEEDS] == []
    assert [str(b) for b in blocks if b.kind is None and b.lang not in ("", "text")] == []
    assert [b for b in blocks if b.kind == "python" and b.needs is None], "the README has no Python example to run"


@pytest.mark.data
def test_readme_code_blocks_run(tmp_path, monkeypatch):
    root = make_example_folders(tmp_path)
    monkeypatch.chdir(root)
    namespace = example_frames(root)
    blocks = [b for b in code_blocks(README) if b.kind is not None]
    ran = []
    for block in blocks:
        if block.needs in NEEDS:
            continue
        if block.kind == "python":
            run_python(block, namespace)
        else:
            result = subprocess.run(["bash", "-e", "-c", block.code], capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"{block} failed:\n{result.stdout}\n{result.stderr}"
        ran.append(block)
    assert 0 < len(ran) == len([b for b in blocks if b.needs is None])
    assert (root / "searchable" / "mixed.pdf").exists()          # the 30-second example wrote its PDFs
    assert list((root / "results").glob("*.parquet"))
