"""Render recognised lines as the text of a page."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["OUTPUT_FORMATS", "render_text"]

OUTPUT_FORMATS = ("text",)


def render_text(lines: Sequence[Sequence[str]]) -> str:
    """Words of a line joined by a space, lines by a newline; empty pieces and lines dropped."""
    rendered = (" ".join(piece for piece in line if piece) for line in lines)
    return "\n".join(line for line in rendered if line)
