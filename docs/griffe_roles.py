"""A griffe extension for the API pages: Sphinx roles in the docstrings (``:func:`x```) read as code.

The docstrings are numpydoc with Sphinx cross-reference roles; mkdocstrings renders docstrings as Markdown, where
a role would show as written.  ``:func:`~dask_ocr.layout.Page``` becomes ```Page```, other roles their target.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):`(~?)([^`]+)`")


def plain(text: str) -> str:
    """``text`` with every Sphinx role replaced by its target in backticks."""
    return ROLE.sub(lambda m: f"`{m.group(2).rsplit('.', 1)[-1] if m.group(1) else m.group(2)}`", text)


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = plain(obj.docstring.value)
