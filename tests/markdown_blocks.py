"""The code blocks of the README and the documentation pages, and the folders their examples name.

A fenced block is code when its language is Python or a shell; ``text`` and unlabelled blocks are output.
A block that cannot run here says why in an HTML comment on the line before its fence::

    <!-- needs: gpu (CUDA devices, the gpu extra) -->

naming one of :data:`NEEDS` (the words after it are for the reader), or one of :data:`PROGRAMS`: such a block
runs where that program is installed. Every other code block must run.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: What a block may need that the tests do not have.
NEEDS = ("network", "gpu", "cloud")
#: System programs a block may need: it runs where they are installed (``make test`` installs them as root).
PROGRAMS = ("tesseract",)
PYTHON = ("python", "py", "pycon")
SHELL = ("bash", "sh", "shell", "console")

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[\w+-]*)")
_NEEDS = re.compile(r"^\s*<!--\s*needs:\s*(?P<what>\w+)\b.*-->\s*$")


@dataclass(frozen=True)
class Block:
    source: str   # the file, relative to the repository
    line: int     # 1-based line of the opening fence
    lang: str
    code: str
    needs: str | None

    @property
    def kind(self) -> str | None:
        """``"python"``, ``"shell"``, or ``None`` for a block that is not code."""
        return "python" if self.lang in PYTHON else "shell" if self.lang in SHELL else None

    @property
    def runs_here(self) -> bool:
        """Whether this machine has what the block needs."""
        return self.needs is None or (self.needs in PROGRAMS and shutil.which(self.needs) is not None)

    def __str__(self) -> str:
        return f"{self.source}:{self.line} ({self.lang} block)"


def code_blocks(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown file in order, each with the ``needs`` comment before it, if any."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, number = [], 0
    while number < len(lines):
        opening = _FENCE.match(lines[number])
        if not opening:
            number += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        previous = next((lines[i] for i in range(number - 1, -1, -1) if lines[i].strip()), "")
        marker = _NEEDS.match(previous)
        end = number + 1
        while end < len(lines) and not lines[end].strip().startswith(fence):
            end += 1
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[number + 1:end]]
        blocks.append(Block(str(path.relative_to(ROOT)), number + 1, opening["lang"].lower(),
                            "\n".join(body) + "\n", marker["what"] if marker else None))
        number = end + 1
    return blocks


def doc_pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def make_example_folders(root: Path) -> Path:
    """The folders the examples name, under ``root``, holding generated scans, PDFs and line images."""
    from PIL import Image

    from dask_ocr.samples import born_digital_pdf, images_to_pdf, sample_pdf
    from dask_ocr.synthetic import make_sample_pages, render_line_crops

    pages = make_sample_pages(2, seed=11)
    for folder in ("scans", "inbox", "reports", "lines", "letters", "photos"):
        (root / folder).mkdir(parents=True)
    for page in pages:
        (root / "scans" / page.name).write_bytes(page.content)
        (root / "photos" / page.name).write_bytes(page.content)
    (root / "scans" / "contract.pdf").write_bytes(images_to_pdf([p.content for p in pages]))
    (root / "reports" / "annual.pdf").write_bytes(born_digital_pdf([["Annual report 2026"]])[0])
    (root / "inbox" / "mixed.pdf").write_bytes(sample_pdf(seed=2)[0])
    for number, crop in enumerate(render_line_crops(2)):
        Image.fromarray(crop).save(root / "lines" / f"line_{number}.png")
    return root


def example_frames(root: Path) -> dict:
    """The frames the examples take as given: ``ddf`` (Dask, from ``read_images``), ``pdf`` (the same in pandas,
    with the true text of each generated page in ``reference``) and ``df`` (``pdf`` after ``detect``)."""
    import dask_ocr
    from dask_ocr.synthetic import make_sample_pages

    truth = {page.name: page.text for page in make_sample_pages(2, seed=11)}
    ddf = dask_ocr.read_images(str(root / "scans" / "*.jpg"))
    pdf = ddf.compute()
    pdf["reference"] = [truth[Path(path).name] for path in pdf["path"]]
    return {"dask_ocr": dask_ocr, "ddf": ddf, "pdf": pdf, "df": pdf.ocr.detect()}


def run_python(block: Block, namespace: dict) -> None:
    """Run one Python block in ``namespace`` (later blocks of a page use what earlier ones made)."""
    exec(compile(block.code, str(block), "exec"), namespace)  # noqa: S102
