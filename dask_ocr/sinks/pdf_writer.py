"""Searchable PDF writing: page images with an invisible, selectable text layer (pikepdf only, no pandas/dask).

Each :class:`PdfPage` becomes one PDF page.  A page image is drawn over the whole page — JPEG bytes are embedded
as they are (``DCTDecode``), non-interlaced 8-bit grey/RGB PNGs keep their compressed samples (``FlateDecode``
with PNG predictors), anything else is decoded with Pillow and stored losslessly, or JPEG-encoded when
``jpeg_quality`` is given.  Over it, every :class:`PdfWord` is drawn in text render mode 3 (invisible), stretched
onto its box, so viewers highlight the right spot and text extractors (pdftotext, pdfium) return the word and box.

The text uses one font shared by all pages: a ``Type0`` font (``Identity-H``) whose ``CIDFontType2`` descendant
embeds a generated, *glyphless* TrueType font (a single empty glyph, advance 1/2 em, every CID mapped to it by
``CIDToGIDMap``).  A character's CID is its code point for the BMP; characters beyond it borrow CIDs from the
(otherwise unused) surrogate range.  ``/ToUnicode`` maps each CID back to its text.

A page without an image but with ``source_pdf`` (a born-digital page) is copied from that PDF as it is.
"""

from __future__ import annotations

import functools
import io
import os
import struct
import zlib
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO

import pikepdf
from fontTools.fontBuilder import FontBuilder
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib.tables import ttProgram
from fontTools.ttLib.tables._c_m_a_p import CmapSubtable
from fontTools.ttLib.tables._g_l_y_f import Glyph, GlyphCoordinates
from pikepdf import Array, Dictionary, Name
from PIL import Image

from ..decode import to_8bit
from ..documents import Word as PdfWord  # a word and its box (x0, y0, x1, y1) in page-image pixels

__all__ = ["PdfWord", "PdfPage", "write_searchable_pdf"]

FONT_NAME = "GlyphLessFont"
GLYPH_ADVANCE = 500  # advance width of the one glyph, in 1/1000 em
FONT_ASCENT, FONT_DESCENT = 800, -200  # ascent - descent = 1 em: the font size is the box height
SPACE_ADVANCE = 0.25  # advance of the space that follows each word, in em

_FIRST_EXTRA_CID, _LAST_EXTRA_CID = 0xD800, 0xDFFF  # CIDs lent to characters beyond the BMP
_REPLACEMENT = 0xFFFD
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class PdfPage:
    """One output page.

    Attributes
    ----------
    image : bytes or None
        Encoded page image (JPEG, PNG, TIFF, ...); ``None`` for a page copied from ``source_pdf``.
    width, height : int
        Size of the page image in pixels; the word boxes are in these pixels.
    dpi : float
        Image resolution: the page is ``pixels * 72 / dpi`` points.
    words : tuple of PdfWord
        The invisible text layer.
    source_pdf : bytes or binary file object, optional
        A PDF whose page ``source_page`` (0-based) is copied as it is when ``image`` is ``None``; no text is added.
        A file object (seekable, open until the PDF is written) is read on demand, not whole.
    source_page : int
        Page index into ``source_pdf``.
    """

    image: bytes | None
    width: int
    height: int
    dpi: float
    words: tuple[PdfWord, ...] = ()
    source_pdf: bytes | BinaryIO | None = None
    source_page: int = 0


def write_searchable_pdf(pages: Sequence[PdfPage], output: str | os.PathLike | BinaryIO,
                         jpeg_quality: int | None = None, keep_actions: bool = False) -> None:
    """Write ``pages`` as one searchable PDF, one PDF page per :class:`PdfPage`, in order.

    Parameters
    ----------
    pages : sequence of PdfPage
        Image pages (with their words) and pages copied from source PDFs.
    output : str, path-like or binary file object
        Where the PDF goes.
    jpeg_quality : int, optional
        Re-encode non-JPEG images (except 1-bit ones, which stay lossless) as JPEG at this quality (1-100).
        ``None`` stores them losslessly.  JPEG images are always embedded unchanged.
    keep_actions : bool
        Keep the active content of pages copied from source PDFs: JavaScript, launch, form submission and the
        other :data:`ACTIVE_ACTIONS` of their annotations and page actions.  By default they are dropped and
        plain links (to pages, to URLs) kept.

    Raises
    ------
    ValueError
        If ``pages`` is empty, a page has neither ``image`` nor ``source_pdf``, or a size, dpi or page index is
        invalid.
    """
    if not pages:
        raise ValueError("write_searchable_pdf needs at least one page")
    if jpeg_quality is not None and not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality!r}")
    pdf = pikepdf.Pdf.new()
    encoder = _TextEncoder()
    font = None
    versions = ["1.5"]
    with pdf, ExitStack() as stack:
        sources: dict = {}  # source_pdf -> its open pikepdf.Pdf
        for number, page in enumerate(pages):
            if page.image is None:
                versions.append(_append_source_page(pdf, page, number, sources, stack))
                if not keep_actions:
                    drop_active_content(pdf.pages[-1])
                continue
            if font is None and any(word.text.strip() for word in page.words):
                font = _type0_font(pdf)
            _append_image_page(pdf, page, number, font, encoder, jpeg_quality)
        if font is not None:
            font.ToUnicode = pdf.make_stream(_to_unicode_cmap(encoder.extra))
        pdf.save(output, min_version=max(versions, key=version_key))


def version_key(version: str) -> tuple[int, ...]:
    """``"1.7"`` -> ``(1, 7)``: PDF versions in the order they compare."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


# ---------------------------------------------------------------------------------------------------------- pages


def _append_source_page(pdf: pikepdf.Pdf, page: PdfPage, number: int, sources: dict, stack: ExitStack) -> str:
    """Copy page ``page.source_page`` of ``page.source_pdf`` into ``pdf``; return the source's PDF version."""
    if page.source_pdf is None:
        raise ValueError(f"page {number} has neither an image nor a source_pdf")
    source = sources.get(page.source_pdf)
    if source is None:
        data = page.source_pdf
        source = stack.enter_context(pikepdf.Pdf.open(io.BytesIO(data) if isinstance(data, bytes) else data))
        sources[page.source_pdf] = source
    if not 0 <= page.source_page < len(source.pages):
        raise ValueError(f"page {number}: source_page {page.source_page} is out of range for a PDF of "
                         f"{len(source.pages)} pages")
    pdf.pages.append(source.pages[page.source_page])
    return source.pdf_version


#: Actions that run code, open files or programs, or send data: dropped from copied pages unless asked to keep.
ACTIVE_ACTIONS = frozenset({"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/ResetForm", "/Rendition",
                            "/RichMediaExecute", "/GoToE", "/Sound", "/Movie"})


def drop_active_content(page: pikepdf.Page) -> None:
    """Remove the active actions of ``page``: its additional actions (``/AA``), its annotations' (and their form
    fields') ``/AA``, and their active ``/A`` (the annotation stays; a link to a page or URL keeps its action)."""
    if Name.AA in page.obj:
        del page.obj[Name.AA]
    for annotation in page.obj.get(Name.Annots, Array()):
        if not isinstance(annotation, Dictionary):
            continue
        field, depth = annotation, 0
        while isinstance(field, Dictionary) and depth < 32:  # a widget's field and the fields above it
            if Name.AA in field:
                del field[Name.AA]
            field, depth = field.get(Name.Parent), depth + 1
        action = annotation.get(Name.A)
        if isinstance(action, Dictionary) and _is_active(action):
            del annotation[Name.A]


def _is_active(action: Dictionary, depth: int = 0) -> bool:
    """Whether an action, or any action it chains to (``/Next``), is active."""
    if str(action.get(Name.S, "")) in ACTIVE_ACTIONS or depth > 32:
        return True
    chained = action.get(Name.Next)
    chained = [chained] if isinstance(chained, Dictionary) else list(chained or [])
    return any(isinstance(item, Dictionary) and _is_active(item, depth + 1) for item in chained)


def _append_image_page(pdf: pikepdf.Pdf, page: PdfPage, number: int, font: pikepdf.Object | None,
                       encoder: _TextEncoder, jpeg_quality: int | None) -> None:
    """Add a page drawing ``page.image`` over the whole page and its words as invisible text."""
    if page.width <= 0 or page.height <= 0 or not page.dpi > 0:
        raise ValueError(f"page {number}: width, height and dpi must be positive, got {page.width}x{page.height} "
                         f"at {page.dpi} dpi")
    scale = 72.0 / page.dpi
    width_pt, height_pt = page.width * scale, page.height * scale
    image = _image_xobject(pdf, page.image, jpeg_quality)
    resources = Dictionary(XObject=Dictionary(Im0=image))
    content = [f"q {_num(width_pt)} 0 0 {_num(height_pt)} 0 0 cm /Im0 Do Q"]
    if font is not None:
        resources.Font = Dictionary(F0=font)
        content.extend(_word_operators(word, scale, height_pt, encoder) for word in page.words)
    page_dict = Dictionary(Type=Name.Page, MediaBox=Array([0, 0, width_pt, height_pt]), Resources=resources,
                           Contents=pdf.make_stream("\n".join(op for op in content if op).encode("ascii")))
    pdf.pages.append(pikepdf.Page(pdf.make_indirect(page_dict)))


def _word_operators(word: PdfWord, scale: float, height_pt: float, encoder: _TextEncoder) -> str:
    """Content-stream operators drawing ``word`` invisibly over its box, followed by a space ('' to skip it).

    The font size is the box height (ascent - descent is 1 em), the baseline sits the font's descent above the box
    bottom, and horizontal scaling stretches the word's advance (``GLYPH_ADVANCE`` per character) to the box width.
    """
    cids = encoder.encode(word.text)
    x0, y0, x1, y1 = (float(value) for value in word.box)
    size, box_width = (y1 - y0) * scale, (x1 - x0) * scale
    if not cids or not size > 0 or not box_width > 0:
        return ""
    stretch = 100.0 * box_width / (len(cids) * size * GLYPH_ADVANCE / 1000.0)
    space_stretch = 100.0 * SPACE_ADVANCE * 1000.0 / GLYPH_ADVANCE
    baseline = height_pt - y1 * scale - size * FONT_DESCENT / 1000.0
    text = "".join(f"{cid:04X}" for cid in cids)
    return (f"BT 3 Tr /F0 {_num(size)} Tf {_num(stretch)} Tz 1 0 0 1 {_num(x0 * scale)} {_num(baseline)} Tm "
            f"<{text}> Tj {_num(space_stretch)} Tz <0020> Tj ET")


def _num(value: float) -> str:
    """A PDF number with at most 4 decimals and no trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


# ---------------------------------------------------------------------------------------------------------- text


class _TextEncoder:
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


def _to_unicode_cmap(extra: dict[int, str]) -> bytes:
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


def _type0_font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    """The shared glyphless ``Type0`` font (its ``/ToUnicode`` is added once all text is known)."""
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
        FontDescriptor=descriptor, DW=GLYPH_ADVANCE, CIDToGIDMap=cid_to_gid))
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


# ---------------------------------------------------------------------------------------------------------- images


def _image_xobject(pdf: pikepdf.Pdf, data: bytes, jpeg_quality: int | None) -> pikepdf.Stream:
    """An image XObject for encoded image ``data``: JPEG as is, PNG samples as is, the rest decoded."""
    if data[:8] == _PNG_SIGNATURE and jpeg_quality is None:
        stream = _png_xobject(pdf, data)
        if stream is not None:
            return stream
    with Image.open(io.BytesIO(data)) as image:
        if image.format == "JPEG" and image.mode in ("L", "RGB", "CMYK"):
            return _jpeg_xobject(pdf, data, image)
        image.load()
        image = _normalise_mode(image)
    if jpeg_quality is not None and image.mode != "1":
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(jpeg_quality))
        with Image.open(buffer) as encoded:
            return _jpeg_xobject(pdf, buffer.getvalue(), encoded)
    return _flate_xobject(pdf, image)


def _jpeg_xobject(pdf: pikepdf.Pdf, data: bytes, image: Image.Image) -> pikepdf.Stream:
    """Embed JPEG ``data`` unchanged (``DCTDecode``); Adobe CMYK JPEGs store inverted inks."""
    stream = pikepdf.Stream(pdf, b"")
    stream.write(data, filter=Name.DCTDecode)
    colour_space = {"L": Name.DeviceGray, "RGB": Name.DeviceRGB, "CMYK": Name.DeviceCMYK}[image.mode]
    _set_image_keys(stream, image.size, colour_space, 8)
    if image.mode == "CMYK" and "adobe" in image.info:
        stream.Decode = Array([1, 0] * 4)
    return stream


def _normalise_mode(image: Image.Image) -> Image.Image:
    """``image`` itself in the modes a PDF stores as they are (``1``, ``L``, ``RGB``, ``CMYK``, opaque), else
    :func:`~dask_ocr.decode.to_8bit` of it (transparency flattened onto white)."""
    if image.mode in ("1", "L", "RGB", "CMYK") and "transparency" not in image.info:
        return image
    return to_8bit(image)


def _flate_xobject(pdf: pikepdf.Pdf, image: Image.Image) -> pikepdf.Stream:
    """Store the raw samples of a ``1``/``L``/``RGB``/``CMYK`` image losslessly (``FlateDecode``)."""
    stream = pikepdf.Stream(pdf, b"")
    stream.write(zlib.compress(image.tobytes(), 6), filter=Name.FlateDecode)
    colour_space = {"1": Name.DeviceGray, "L": Name.DeviceGray, "RGB": Name.DeviceRGB, "CMYK": Name.DeviceCMYK}
    _set_image_keys(stream, image.size, colour_space[image.mode], 1 if image.mode == "1" else 8)
    return stream


def _png_xobject(pdf: pikepdf.Pdf, data: bytes) -> pikepdf.Stream | None:
    """Reuse the compressed samples of a plain PNG (grey 1/8-bit or RGB 8-bit, not interlaced, no transparency).

    Returns ``None`` for any other PNG, which then goes through Pillow.
    """
    chunks = _png_chunks(data)
    if chunks is None or len(chunks.get(b"IHDR", [b""])[0]) != 13 or b"tRNS" in chunks:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[b"IHDR"][0])
    if interlace or (colour, depth) not in ((0, 1), (0, 8), (2, 8)) or not chunks.get(b"IDAT"):
        return None
    colours = 3 if colour == 2 else 1
    stream = pikepdf.Stream(pdf, b"")
    parms = Dictionary(Predictor=15, Colors=colours, BitsPerComponent=depth, Columns=width)
    stream.write(b"".join(chunks[b"IDAT"]), filter=Name.FlateDecode, decode_parms=parms)
    _set_image_keys(stream, (width, height), Name.DeviceRGB if colours == 3 else Name.DeviceGray, depth)
    return stream


def _png_chunks(data: bytes) -> dict[bytes, list[bytes]] | None:
    """PNG chunk type -> chunk payloads, or ``None`` if the file is truncated."""
    chunks: dict[bytes, list[bytes]] = {}
    offset = len(_PNG_SIGNATURE)
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        end = offset + 8 + length
        if end + 4 > len(data):
            return None
        chunks.setdefault(kind, []).append(data[offset + 8:end])
        offset = end + 4
        if kind == b"IEND":
            return chunks
    return None


def _set_image_keys(stream: pikepdf.Stream, size: tuple[int, int], colour_space: Name, bits: int) -> None:
    stream.Type, stream.Subtype = Name.XObject, Name.Image
    stream.Width, stream.Height = size
    stream.ColorSpace, stream.BitsPerComponent = colour_space, bits
