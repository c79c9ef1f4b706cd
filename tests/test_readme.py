"""The README's Python examples run as written, on generated documents in the paths they name.

Blocks that need a network, a GPU, a cloud account or a model hub are skipped by what they call;
every other block runs, in order, in one namespace (later blocks use the frames earlier ones made).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import dask_ocr
from dask_ocr.samples import born_digital_pdf, images_to_pdf, sample_pdf
from dask_ocr.synthetic import make_sample_pages, render_line_crops

README = Path(__file__).resolve().parents[1] / "README.md"
#: What a block must not call to run here (no network, GPU, cloud or hub model).
NEEDS_MORE = ("s3://", "coiled", "ocr_base", "ocr_small", "/models/", "use_gpu=True", "start_cluster",
              "register_models", "ModelSpec", "resolve_model", "ppocr_medium", "pdf[\"reference\"]")


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def runnable(block: str) -> bool:
    return not any(text in block for text in NEEDS_MORE)


@pytest.fixture
def documents(tmp_path, monkeypatch):
    """The folders the examples name, holding generated scans, PDFs and line images."""
    from PIL import Image

    pages = make_sample_pages(2, seed=11)
    for folder in ("scans", "inbox", "reports", "lines", "letters", "photos"):
        (tmp_path / folder).mkdir()
    for page in pages:
        (tmp_path / "scans" / page.name).write_bytes(page.content)
        (tmp_path / "photos" / page.name).write_bytes(page.content)
    (tmp_path / "scans" / "contract.pdf").write_bytes(images_to_pdf([p.content for p in pages]))
    (tmp_path / "reports" / "annual.pdf").write_bytes(born_digital_pdf([["Annual report 2026"]])[0])
    (tmp_path / "inbox" / "mixed.pdf").write_bytes(sample_pdf(seed=2)[0])
    for number, crop in enumerate(render_line_crops(2)):
        Image.fromarray(crop).save(tmp_path / "lines" / f"line_{number}.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.data
def test_readme_python_examples_run(documents):
    namespace = {"dask_ocr": dask_ocr, "pdf": dask_ocr.read_images("scans/*.jpg").compute()}
    namespace["df"] = namespace["pdf"].ocr.detect()
    namespace["ddf"] = dask_ocr.read_images("scans/*.jpg")
    ran = 0
    for number, block in enumerate(blocks()):
        if runnable(block):
            exec(compile(block, f"README.md python block {number}", "exec"), namespace)  # noqa: S102
        ran += 1
    assert ran >= 6
    assert (documents / "searchable" / "mixed.pdf").exists()          # the 30-second example wrote its PDFs
    assert list((documents / "results").glob("*.parquet"))
