"""Packaging: a licence file and an SPDX licence, classifiers, and a README that reads on PyPI too."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+
ROOT = Path(__file__).resolve().parent.parent


def test_the_licence_is_declared_in_spdx_and_shipped():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"                                  # an SPDX expression, not a table
    assert project["license-files"] == ["LICENSE"]
    assert "Apache License" in (ROOT / "LICENSE").read_text()[:200]
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # SPDX replaces them
    assert any(c.startswith("Programming Language :: Python :: 3.1") for c in project["classifiers"])


def test_readme_links_work_on_pypi():
    """PyPI shows the README without the repository: only absolute links and anchors of its own headings."""
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    anchors = {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
               for heading in re.findall(r"^#+ (.+)$", readme, flags=re.M)}
    relative = [t for t in targets if not t.startswith(("http://", "https://", "#"))]
    assert relative == []
    assert [t for t in targets if t.startswith("#") and t[1:] not in anchors] == []
