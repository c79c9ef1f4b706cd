"""The invisible text layer of a searchable PDF page: one text run per line, along the line's baseline.

Words come as boxes ``(x0, y0, x1, y1)`` in the pixels of the image they were read from, grouped into lines.  A
page may have been read turned (``orientation``: clockwise quarter turns of its text in the image) and skewed
(``skew``: clockwise degrees more), the way :mod:`dask_ocr.orientation` finds them.  :func:`layout_lines`
measures every line in the page's upright frame (the image turned back by its orientation and skew, as
:func:`dask_ocr.geometry.upright_matrix` turns it), where lines run level, and places its words in the turned
frame (orientation undone, skew kept: the page is shown turned upright, the scan as it lies);
:func:`line_operators` draws a line in text render mode 3 (invisible): one ``BT … ET``, each word level on the
line's baseline, stretched onto its box (``Tz``) and followed by a space stretched to the next word, so viewers
select whole lines and extractors read every word whole, with its box.

The font is one glyphless ``Type0`` font (``Identity-H``) per PDF: its ``CIDFontType2`` descendant embeds a
generated TrueType font with a single empty glyph (advance 1/2 em, every CID mapped to it by ``CIDToGIDMap``).  A
character's CID is its code point for the BMP; characters beyond it borrow CIDs from the (otherwise unused)
surrogate range.  ``/ToUnicode`` maps each CID back to its text.
"""

from __future__ import annotations

import functools
import io
import math
import statistics
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pikepdf
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib.tables import ttProgram
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable
from fontTools.ttLib.tables._g_l_y_f import Glyph, GlyphCoordinates
from pikepdf import Array, Dictionary, Name

from ..documents import Word
from ..geometry import affine_points, compose_affine, invert_affine, upright_matrix

__all__ = ["TextWord", "TextLine", "TextEncoder", "layout_lines", "line_operators", "type0_font", "to_unicode_cmap"]

FONT_NAME = "GlyphLessFont"
GLYPH_ADVANCE = 500  # advance width of the one glyph, in 1/1000 em
FONT_ASCENT, FONT_DESCENT = 800, -200  # ascent - descent = 1 em: the font size is the box height
MIN_SPACE_ADVANCE = 0.05  # the least width of the space after a word, in em (words that touch or overlap)
BASELINE_RISE = -FONT_DESCENT / 1000  # the baseline sits the font's descent above the bottom of the words' boxes

_FIRST_EXTRA_CID, _LAST_EXTRA_CID = 0xD800, 0xDFFF  # CIDs lent to characters beyond the BMP
_REPLACEMENT = 0xFFFD


@dataclass(frozen=True)
class TextWord:
    """A word placed in the turned frame: level, its baseline's left end at ``(x, baseline)`` (y grows downwards),
    ``width`` long, followed by a space ``space`` long (all in turned-frame pixels)."""

    text: str
    x: float
    baseline: float
    width: float
    space: float


@dataclass(frozen=True)
class TextLine:
    """One line: its words left to right, in one font size (the height of the line's boxes)."""

    words: tuple[TextWord, ...]
    size: float


def _unskewed_size(width: float, height: float, skew: float) -> tuple[float, float]:
    """The size of a box turned by ``skew`` degrees whose axis-aligned bounds are ``width`` x ``height``.

    Solves ``width = w cos + h sin`` and ``height = w sin + h cos``; bounds that no such box has (the words were
    not boxed along the skew) are kept as they are.
    """
    cos, sin = abs(math.cos(math.radians(skew))), abs(math.sin(math.radians(skew)))
    det = cos * cos - sin * sin
    if sin < 1e-6 or det < 0.5:  # no skew, or too close to 45 degrees to solve stably
        return width, height
    w, h = (width * cos - height * sin) / det, (height * cos - width * sin) / det
    return (w, h) if w > 0 and h > 0 else (width, height)


def layout_lines(lines: Sequence[Sequence[Word]], width: int, height: int, orientation: int = 0,
                 skew: float = 0.0) -> tuple[list[TextLine], np.ndarray]:
    """The lines of a ``width`` x ``height`` image laid out for the text layer, and the map back to the image.

    Words are measured in the upright frame (the image turned back by ``orientation`` and ``skew``, where lines
    run level): each line's rows, its font size, each word's left and right edge and its baseline through the
    bottom of its row.  They are placed in the *turned* frame (turned back by ``orientation`` only, exactly):
    each word level there, its baseline's left end where the skew puts it.  Text extractors (poppler, pdfium)
    read a word whose letters climb as several words; level words along a skewed line keep every word whole
    and the line's words on their place in the scan.

    Parameters
    ----------
    lines : sequence of sequences of Word
        The words of each line, boxes in image pixels (words without text are dropped).
    width, height : int
        The image's size in pixels.
    orientation : int
        Clockwise quarter turns of the text in the image (0, 90, 180, 270).
    skew : float
        Further clockwise turn of the text, in degrees.

    Returns
    -------
    lines : list of TextLine
        The non-empty rows of the lines, in order.
    to_image : numpy.ndarray
        ``(2, 3)`` affine map, turned-frame pixels → image pixels.
    """
    to_turned, (turned_width, turned_height) = upright_matrix(width, height, orientation)
    deskew = upright_matrix(turned_width, turned_height, skew)[0]
    to_upright, to_turned_back = compose_affine(deskew, to_turned), invert_affine(deskew)
    quarter = orientation % 180 == 90
    laid = []
    for line in lines:
        placed = []
        for word in line:
            text = word.text.strip()
            x0, y0, x1, y1 = (float(value) for value in word.box)
            if not text or x1 <= x0 or y1 <= y0:
                continue
            (cx, cy), = affine_points(np.array([[(x0 + x1) / 2, (y0 + y1) / 2]]), to_upright)
            box_width, box_height = (y1 - y0, x1 - x0) if quarter else (x1 - x0, y1 - y0)
            w, h = _unskewed_size(box_width, box_height, skew)
            placed.append((text, cx - w / 2, cx + w / 2, cy + h / 2, h))
        laid += [_row_line(row, to_turned_back) for row in _rows(placed)]
    return laid, invert_affine(to_turned)


def _row_line(row: list[tuple], to_turned_back: np.ndarray) -> TextLine:
    """One row of words, ``(text, x0, x1, bottom, height)`` in the upright frame, placed in the turned frame."""
    row = sorted(row, key=lambda item: item[1])
    size = statistics.median(item[4] for item in row)
    baseline = statistics.median(item[3] for item in row) - BASELINE_RISE * size
    edges = _apart([(x0, x1) for _, x0, x1, _, _ in row], MIN_SPACE_ADVANCE * size)
    starts = affine_points(np.array([[x0, baseline] for x0, _ in edges]), to_turned_back)
    spaces = [next_x0 - x1 for (_, x1), (next_x0, _) in zip(edges, edges[1:], strict=False)] + [0.0]
    words = (TextWord(item[0], float(x), float(y), x1 - x0, max(space, MIN_SPACE_ADVANCE * size))
             for item, (x, y), (x0, x1), space in zip(row, starts, edges, spaces, strict=True))
    return TextLine(tuple(words), size)


def _rows(placed: list[tuple]) -> list[list[tuple]]:
    """The words of one line, ``(text, x0, x1, bottom, height)``, split into rows: a word whose centre sits a
    half height or more below the centre of its row's highest word starts a new row, so two rows of text that
    the recogniser grouped as one line are drawn as two runs."""
    rows: list[list[tuple]] = []
    for word in sorted(placed, key=lambda item: item[3] - item[4] / 2):
        if rows:
            first = rows[-1][0]  # the row's highest word: a row cannot creep down word by word
            if (word[3] - word[4] / 2) - (first[3] - first[4] / 2) < 0.5 * min(word[4], first[4]):
                rows[-1].append(word)
                continue
        rows.append([word])
    return rows


def _apart(edges: list[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    """Word edges (sorted by left edge) with each right edge pulled back to end ``gap`` before the next word
    starts (keeping at least a quarter of the word): extractors join overlapping words into one."""
    out = []
    for i, (x0, x1) in enumerate(edges):
        if i + 1 < len(edges):
            x1 = max(min(x1, edges[i + 1][0] - gap), x0 + (x1 - x0) / 4)
        out.append((x0, x1))
    return out


def line_operators(line: TextLine, font: str, encoder: TextEncoder) -> str:
    """Content-stream operators drawing ``line`` invisibly, in a text space where y grows upwards (``y = -row``).

    One ``BT … ET``: the font size is the line height (ascent - descent is 1 em); each word starts at its
    baseline point, is stretched onto its width and followed by its space (a narrow one after the last word,
    so that extractors never join it to the next line's first).  ``font`` is the font's resource name.
    """
    size = line.size
    words = [(encoder.encode(word.text), word) for word in line.words]
    words = [(cids, word) for cids, word in words if cids and word.width > 0]
    if not size > 0 or not words:
        return ""
    em = size * GLYPH_ADVANCE / 1000.0  # advance of one glyph at 100 % horizontal scaling
    first = words[0][1]
    parts = [f"BT 3 Tr {font} {_num(size)} Tf 1 0 0 1 {_num(first.x)} {_num(-first.baseline)} Tm"]
    for i, (cids, word) in enumerate(words):
        if i:
            previous = words[i - 1][1]
            parts.append(f"{_num(word.x - previous.x)} {_num(previous.baseline - word.baseline)} Td")
        parts.append(f"{_num(100.0 * word.width / (len(cids) * em))} Tz <{''.join(f'{cid:04X}' for cid in cids)}> Tj")
        parts.append(f"{_num(100.0 * word.space / em)} Tz <0020> Tj")
    parts.append("ET")
    return " ".join(parts)


def _num(value: float) -> str:
    """A PDF number with at most 4 decimals and no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def matrix_operator(matrix: np.ndarray) -> str:
    """The ``cm`` operator of a ``(2, 3)`` affine map (``x' = a x + c y + e``, ``y' = b x + d y + f``)."""
    (a, c, e), (b, d, f) = matrix
    return " ".join(_num(float(value)) for value in (a, b, c, d, e, f)) + " cm"


# ---------------------------------------------------------------------------------------------------------- text


class TextEncoder:
    """Turn text into 2-byte CIDs: the code point for the BMP, a lent surrogate-range CID beyond it.

    ``extra`` maps each lent CID to its character, for the ``/ToUnicode`` CMap.
    """

    def __init__(self) -> None:
        self.extra: dict[int, str] = {}
        self._lent: dict[str, int] = {}

    def encode(self, text: str) -> list[int]:
        """CIDs of ``text`` stripped; control characters become spaces, unencodable ones U+FFFD."""
        return [self._cid(char) for char in text.strip()]

    def _cid(self, char: str) -> int:
        code = ord(char)
        if code < 0x20 or code == 0x7F:
            return 0x20
        if _FIRST_EXTRA_CID <= code <= _LAST_EXTRA_CID:  # a lone surrogate: no character to give back
            return _REPLACEMENT
        if code <= 0xFFFF:
            return code
        cid = self._lent.get(char)
        if cid is None:
            cid = _FIRST_EXTRA_CID + len(self._lent)
            if cid > _LAST_EXTRA_CID:
                return _REPLACEMENT
            self._lent[char] = cid
            self.extra[cid] = char
        return cid


def to_unicode_cmap(extra: dict[int, str]) -> bytes:
    """A ``/ToUnicode`` CMap: CID = code point over the BMP (surrogates excepted), plus ``extra`` CIDs."""
    ranges = [f"<{high:02X}{0x20 if high == 0 else 0:02X}> <{high:02X}FF> <{high:02X}{0x20 if high == 0 else 0:02X}>"
              for high in range(0x100) if not 0xD8 <= high <= 0xDF]
    chars = [f"<{cid:04X}> <{char.encode('utf-16-be').hex().upper()}>" for cid, char in sorted(extra.items())]
    lines = ["/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
             "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
             "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
             "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange"]
    for start in range(0, len(ranges), 100):
        block = ranges[start:start + 100]
        lines += [f"{len(block)} beginbfrange", *block, "endbfrange"]
    for start in range(0, len(chars), 100):
        block = chars[start:start + 100]
        lines += [f"{len(block)} beginbfchar", *block, "endbfchar"]
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")


def type0_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """The glyphless ``Type0`` font, added to ``pdf`` (its ``/ToUnicode`` is added once all text is known).

    Its widths are given for every CID (``/W``), as PDF/A asks of an embedded font.
    """
    truetype = _glyphless_truetype()
    font_file = pikepdf.Stream(pdf, b"")
    font_file.write(zlib.compress(truetype), filter=Name.FlateDecode)
    font_file.Length1 = len(truetype)
    descriptor = pdf.make_indirect(Dictionary(
        Type=Name.FontDescriptor, FontName=Name("/" + FONT_NAME), Flags=4,
        FontBBox=Array([0, FONT_DESCENT, GLYPH_ADVANCE, FONT_ASCENT]), ItalicAngle=0, Ascent=FONT_ASCENT,
        Descent=FONT_DESCENT, CapHeight=FONT_ASCENT, StemV=80, FontFile2=font_file))
    cid_to_gid = pikepdf.Stream(pdf, b"")
    cid_to_gid.write(zlib.compress(b"\x00\x01" * 0x10000), filter=Name.FlateDecode)
    cid_font = pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.CIDFontType2, BaseFont=Name("/" + FONT_NAME),
        CIDSystemInfo=Dictionary(Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"),
                                 Supplement=0),
        FontDescriptor=descriptor, DW=GLYPH_ADVANCE, W=Array([0, 0xFFFF, GLYPH_ADVANCE]), CIDToGIDMap=cid_to_gid))
    return pdf.make_indirect(Dictionary(Type=Name.Font, Subtype=Name.Type0, BaseFont=Name("/" + FONT_NAME),
                                        Encoding=Name("/Identity-H"), DescendantFonts=Array([cid_font])))


@functools.cache
def _glyphless_truetype() -> bytes:
    """A TrueType font whose one glyph (GID 1, ``GLYPH_ADVANCE`` wide) paints nothing; every BMP code maps to it."""
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "blank"])
    builder.setupCharacterMap({0x20: "blank"})
    builder.setupGlyf({".notdef": TTGlyphPen(None).glyph(), "blank": _blank_glyph()})
    builder.setupHorizontalMetrics({".notdef": (GLYPH_ADVANCE, 0), "blank": (GLYPH_ADVANCE, 0)})
    builder.setupHorizontalHeader(ascent=FONT_ASCENT, descent=FONT_DESCENT)
    builder.setupNameTable({"familyName": FONT_NAME, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=FONT_ASCENT, sTypoDescender=FONT_DESCENT, usWinAscent=FONT_ASCENT,
                     usWinDescent=-FONT_DESCENT)
    builder.setupPost()
    many_to_one = CmapSubtable.newSubtable(13)  # (3, 10) format 13: a range of code points onto one glyph
    many_to_one.platformID, many_to_one.platEncID, many_to_one.language = 3, 10, 0
    many_to_one.cmap = dict.fromkeys(range(0x10000), "blank")
    builder.font["cmap"].tables.append(many_to_one)
    buffer = io.BytesIO()
    builder.save(buffer)
    return buffer.getvalue()


def _blank_glyph() -> Glyph:
    """A glyph of two single-point contours at opposite corners of the em box: no area, so nothing is ever
    painted, but its bounding box spans the whole advance from descent to ascent.

    pdfium takes a character's box from its glyph's bounds, so an outline-free glyph would give zero-height
    selection and search rectangles; this one gives the word box.
    """
    glyph = Glyph()
    glyph.numberOfContours = 2
    glyph.coordinates = GlyphCoordinates([(0, FONT_DESCENT), (GLYPH_ADVANCE, FONT_ASCENT)])
    glyph.endPtsOfContours = [0, 1]
    glyph.flags = bytearray([1, 1])  # both on-curve
    glyph.program = ttProgram.Program()
    glyph.program.fromBytecode(b"")
    return glyph
