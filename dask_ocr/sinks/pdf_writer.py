"""Searchable PDF writing: every output page is an original page with an invisible text layer grafted on top
(pikepdf and img2pdf only, no pandas/dask).

Each :class:`PdfPage` becomes one PDF page, made one of two ways:

- from a page of a PDF (``source_pdf``, ``source_page``), copied as it is — its images, vectors, annotations
  and form fields untouched — the way OCRmyPDF grafts its text layers;
- from an encoded image (``image``), embedded by img2pdf without recompression: JPEG (and JPEG 2000) bytes as
  they are, PNG samples as they are, TIFF frames as stored (CCITT Group 4 stays CCITT), 1-bit images as 1-bit.
  Images a PDF cannot hold as they are (transparency, 16 bits, flipped EXIF orientations) are flattened with
  :func:`~dask_ocr.decode.to_8bit` and stored losslessly; ``jpeg_quality`` re-encodes the others as JPEG.

Over the page, the words of each line are drawn invisibly (:mod:`~dask_ocr.sinks.text_layer`), mapped from the
pixels of the image they were read from onto the page whatever its ``/Rotate`` and crop box; the original
content is wrapped in ``q … Q`` so its graphics state cannot leak into the text.  A page read turned
(``orientation``) is turned upright with ``/Rotate`` — losslessly, the content stays as scanned — and a small
skew stays as scanned, the text layer following it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import pikepdf
from pikepdf import Array, Dictionary, Name
from PIL import Image, ImageOps

from ..decode import to_8bit
from ..documents import Word as PdfWord  # a word and its box (x0, y0, x1, y1) in page-image pixels
from ..geometry import compose_affine
from .pdfa import finish_document, version_key
from .text_layer import TextEncoder, layout_lines, line_operators, matrix_operator, to_unicode_cmap, type0_font

__all__ = ["PdfWord", "PdfPage", "write_searchable_pdf", "drop_active_content", "strip_invisible_text"]

#: Resource name of the text layer's font on each page (a digit is appended while the page already uses it).
FONT_RESOURCE = "/OCRText"
_FLIPPED_EXIF = (2, 4, 5, 7)  # mirrored orientations, which a PDF page cannot show with /Rotate
_PLAIN_MODES = ("1", "L", "RGB", "CMYK", "P")


@dataclass(frozen=True)
class PdfPage:
    """One output page.

    Attributes
    ----------
    image : bytes or None
        Encoded image (JPEG, PNG, TIFF, ...) that becomes a new page; ``None`` for a page copied from
        ``source_pdf``.
    width, height : int
        Size in pixels of the image the words were read from (for a copied page: its rendering, whatever its
        resolution); may be 0 for a copied page without words.
    dpi : float
        Resolution of ``image``: the new page is ``pixels * 72 / dpi`` points.  Unused for copied pages.
    lines : tuple of tuple of PdfWord
        The invisible text layer, one tuple of words per line, boxes in image pixels.
    source_pdf : bytes or binary file object, optional
        A PDF whose page ``source_page`` (0-based) is copied when ``image`` is ``None``.  A file object
        (seekable, open until the PDF is written) is read on demand, not whole.
    source_page : int
        Page index into ``source_pdf``.
    orientation : int
        Clockwise quarter turns (0, 90, 180, 270) of the text in the image: the page is turned upright.
    skew : float
        Further clockwise turn of the text, in degrees: the text layer follows it.
    ocr : bool
        The page was read by OCR: ``lines`` replace any invisible text already on it (an earlier OCR's layer).
        False for a page copied as it is, its own text layer kept (a born-digital page).
    """

    image: bytes | None
    width: int
    height: int
    dpi: float
    lines: tuple[tuple[PdfWord, ...], ...] = ()
    source_pdf: bytes | BinaryIO | None = None
    source_page: int = 0
    orientation: int = 0
    skew: float = 0.0
    ocr: bool = True


def write_searchable_pdf(pages: Sequence[PdfPage], output: str | os.PathLike | BinaryIO,
                         jpeg_quality: int | None = None, keep_actions: bool = False, pdfa: bool = False,
                         info: dict | None = None, finish: bool = True) -> tuple[str, ...]:
    """Write ``pages`` as one searchable PDF, one PDF page per :class:`PdfPage`, in order.

    Parameters
    ----------
    pages : sequence of PdfPage
        Image pages and pages copied from source PDFs, with their words.
    output : str, path-like or binary file object
        Where the PDF goes.
    jpeg_quality : int, optional
        Re-encode non-JPEG images (except 1-bit ones, which stay lossless) as JPEG at this quality (1-100).
        ``None`` stores them as they are.  JPEG images are always embedded unchanged, and the images of copied
        pages are never touched.
    keep_actions : bool
        Keep the active content of copied pages: JavaScript, launch, form submission and the other
        :data:`ACTIVE_ACTIONS` of their annotations and page actions.  By default they are dropped and plain
        links (to pages, to URLs) kept.
    pdfa : bool
        Make the file PDF/A-2b where nothing in it forbids that (:mod:`~dask_ocr.sinks.pdfa`).
    info : dict, optional
        Document information to keep (``{"/Title": ..., "/Author": ...}``, see
        :data:`~dask_ocr.sinks.pdfa.KEPT_INFO`); the ``Producer`` is always ours.
    finish : bool
        Set the document information and PDF/A (:func:`~dask_ocr.sinks.pdfa.finish_document`); False for a
        part of a document that is finished when its parts are merged.

    Returns
    -------
    tuple of str
        Why the file is not PDF/A-2b (empty when it is, or when ``pdfa`` is false).

    Raises
    ------
    ValueError
        If ``pages`` is empty, a page has neither ``image`` nor ``source_pdf``, or a size, dpi, page index or
        orientation is invalid.
    """
    if not pages:
        raise ValueError("write_searchable_pdf needs at least one page")
    if jpeg_quality is not None and not 1 <= int(jpeg_quality) <= 100:
        raise ValueError(f"jpeg_quality must be in 1..100, got {jpeg_quality!r}")
    pdf = pikepdf.Pdf.new()
    encoder = TextEncoder()
    font = None
    versions = ["1.5"]
    with pdf, ExitStack() as stack:
        sources: dict = {}  # source_pdf -> its open pikepdf.Pdf
        for number, page in enumerate(pages):
            _check_page(page, number)
            if page.image is None:
                versions.append(_append_source_page(pdf, page, number, sources, stack))
            else:
                _append_image_page(pdf, page, jpeg_quality, stack)
            target = pdf.pages[-1]
            if not keep_actions:
                drop_active_content(target)
            if page.ocr and page.image is None:
                strip_invisible_text(target)
            lines, to_image = layout_lines(page.lines, page.width, page.height, page.orientation, page.skew)
            rotation = _rotation(target)
            if lines:
                font = font if font is not None else type0_font(pdf)
                _graft_text(target, lines, to_image, page, rotation, font, encoder)
            if page.orientation:
                target.obj.Rotate = (rotation - page.orientation) % 360
        if font is not None:
            font.ToUnicode = pdf.make_stream(to_unicode_cmap(encoder.extra))
        version = max(versions, key=version_key)
        problems = finish_document(pdf, version, info, pdfa) if finish else ()
        pdf.save(output, min_version=version)
    return problems


def _check_page(page: PdfPage, number: int) -> None:
    if page.image is None and page.source_pdf is None:
        raise ValueError(f"page {number} has neither an image nor a source_pdf")
    if page.image is not None and not page.dpi > 0:
        raise ValueError(f"page {number}: dpi must be positive, got {page.dpi}")
    if (page.image is not None or page.lines) and (page.width <= 0 or page.height <= 0):
        raise ValueError(f"page {number}: width and height must be positive, got {page.width}x{page.height}")
    if page.orientation not in (0, 90, 180, 270):
        raise ValueError(f"page {number}: orientation must be 0, 90, 180 or 270, got {page.orientation!r}")


# ---------------------------------------------------------------------------------------------------------- pages


def _append_source_page(pdf: pikepdf.Pdf, page: PdfPage, number: int, sources: dict, stack: ExitStack) -> str:
    """Copy page ``page.source_page`` of ``page.source_pdf`` into ``pdf``; return the source's PDF version."""
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


def _append_image_page(pdf: pikepdf.Pdf, page: PdfPage, jpeg_quality: int | None, stack: ExitStack) -> None:
    """Add a page showing ``page.image`` (img2pdf: embedded as it is where a PDF can hold it) at ``page.dpi``."""
    import img2pdf

    layout = img2pdf.get_fixed_dpi_layout_fun((page.dpi, page.dpi))
    data = _embeddable(page.image, jpeg_quality)
    try:
        single = img2pdf.convert(data, layout_fun=layout, first_frame_only=True, nodate=True)
    except Exception:  # a variant img2pdf refuses (an unusual TIFF, an odd PNG): stored losslessly instead
        single = img2pdf.convert(_flattened_png(data), layout_fun=layout, nodate=True)
    image_pdf = stack.enter_context(pikepdf.Pdf.open(io.BytesIO(single)))  # open until saved: streams read then
    pdf.pages.append(image_pdf.pages[0])


def _embeddable(data: bytes, jpeg_quality: int | None) -> bytes:
    """``data`` itself where a PDF can hold the image as it is, else the image re-encoded (see the module)."""
    with Image.open(io.BytesIO(data)) as image:
        plain = (image.mode in _PLAIN_MODES and "transparency" not in image.info
                 and image.getexif().get(0x0112, 1) not in _FLIPPED_EXIF)
        if plain and (jpeg_quality is None or image.format == "JPEG" or image.mode == "1"):
            return data
        if not plain:
            return _flattened_png(data)
        buffer = io.BytesIO()
        to_8bit(image).save(buffer, format="JPEG", quality=int(jpeg_quality))
        return buffer.getvalue()


def _flattened_png(data: bytes) -> bytes:
    """The image upright (EXIF applied), 8-bit and opaque (transparency on white), as a PNG."""
    with Image.open(io.BytesIO(data)) as image:
        flat = to_8bit(ImageOps.exif_transpose(image))
    buffer = io.BytesIO()
    flat.save(buffer, format="PNG")
    return buffer.getvalue()


def _rotation(page: pikepdf.Page) -> int:
    """The page's ``/Rotate`` in degrees (0, 90, 180 or 270)."""
    return int(page.obj.get(Name.Rotate, 0)) % 360 // 90 * 90


def _box(page: pikepdf.Page) -> tuple[float, float, float, float]:
    """The visible box ``(left, bottom, right, top)``: the crop box within the media box, as renderers show it."""
    def normal(box) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = (float(value) for value in box)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    media, crop = normal(page.mediabox), normal(page.cropbox)
    box = max(media[0], crop[0]), max(media[1], crop[1]), min(media[2], crop[2]), min(media[3], crop[3])
    return box if box[2] > box[0] and box[3] > box[1] else media


def image_to_page(page: pikepdf.Page, width: int, height: int, rotation: int) -> np.ndarray:
    """``(2, 3)`` affine map from the pixels of a ``width`` x ``height`` rendering of ``page`` (top-left origin,
    ``/Rotate`` applied, as pdfium renders it) to the page's own user space."""
    left, bottom, right, top = _box(page)
    shown_width, shown_height = (top - bottom, right - left) if rotation in (90, 270) else (right - left, top - bottom)
    to_shown = np.array([[shown_width / width, 0.0, 0.0], [0.0, -shown_height / height, shown_height]])
    to_user = {0: [[1, 0, left], [0, 1, bottom]], 90: [[0, -1, right], [1, 0, bottom]],
               180: [[-1, 0, right], [0, -1, top]], 270: [[0, 1, left], [-1, 0, top]]}[rotation]
    return compose_affine(np.array(to_user, dtype=np.float64), to_shown)



def _graft_text(target: pikepdf.Page, lines: list, to_image: np.ndarray, page: PdfPage, rotation: int,
                font: pikepdf.Object, encoder: TextEncoder) -> None:
    """Draw ``lines`` (turned frame, see :func:`~dask_ocr.sinks.text_layer.layout_lines`) invisibly over
    ``target``, its own content wrapped in ``q … Q``."""
    flip = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # text space: y grows upwards
    matrix = compose_affine(compose_affine(image_to_page(target, page.width, page.height, rotation), to_image), flip)
    name = _free_font_name(target)
    target.add_resource(font, Name.Font, name=name)
    operators = "\n".join(filter(None, (line_operators(line, str(name), encoder) for line in lines)))
    target.contents_add(b"q\n", prepend=True)
    target.contents_add(f"\nQ\nq {matrix_operator(matrix)}\n{operators}\nQ\n".encode("ascii"))


_SHOW_TEXT = frozenset({"Tj", "TJ", "'", '"'})
_TEXT_STATE = frozenset({"Tc", "Tw", "Tz", "TL", "Tf", "Tr", "Ts"})  # allowed outside BT; they outlive ET


def strip_invisible_text(page: pikepdf.Page) -> int:
    """Remove from ``page`` (its content and the forms it draws) every text object that shows only invisible
    text (render mode 3): an earlier OCR layer, which a new one replaces.  Visible text is never touched.

    Returns
    -------
    int
        The number of text objects removed.
    """
    removed = _strip_stream(page.obj, is_page=True)
    seen = set()
    forms = [page.obj.get(Name.Resources, Dictionary())]
    while forms:
        resources = forms.pop()
        for xobject in resources.get(Name.XObject, Dictionary()).values():
            if isinstance(xobject, pikepdf.Stream) and xobject.get(Name.Subtype) == Name.Form \
                    and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                removed += _strip_stream(xobject, is_page=False)
                forms.append(xobject.get(Name.Resources, Dictionary()))
    return removed


def _strip_stream(holder, is_page: bool) -> int:
    """Drop the invisible-only text objects of one content stream (a page's, or a form's); how many."""
    instructions = pikepdf.parse_content_stream(holder)
    kept, block, removed = [], None, 0
    mode, stack = 0, []
    shown = set()  # render modes text was shown in, within the current block
    for instruction in instructions:
        operator = str(instruction.operator)
        if operator == "q":
            stack.append(mode)
        elif operator == "Q" and stack:
            mode = stack.pop()
        elif operator == "Tr" and instruction.operands:
            mode = int(instruction.operands[0])
        if operator == "BT":
            block, shown = [instruction], set()
            continue
        if block is None:
            kept.append(instruction)
            continue
        block.append(instruction)
        if operator in _SHOW_TEXT:
            shown.add(mode == 3)
        if operator == "ET":
            if shown == {True}:  # only invisible text: keep just the text state it leaves behind
                kept.extend(item for item in block if str(item.operator) in _TEXT_STATE)
                removed += 1
            else:
                kept.extend(block)
            block = None
    if block is not None:  # an unterminated text object is left as it was
        kept.extend(block)
    if removed:
        data = pikepdf.unparse_content_stream(kept)
        if is_page:
            pikepdf.Page(holder).contents_coalesce()  # one stream, then rewritten
            holder = holder.Contents
        holder.write(data)
    return removed


def _free_font_name(page: pikepdf.Page) -> Name:
    """:data:`FONT_RESOURCE`, with a digit appended while the page's fonts already use it."""
    fonts = page.obj.get(Name.Resources, Dictionary()).get(Name.Font, Dictionary())
    name, number = FONT_RESOURCE, 0
    while name in fonts:
        number += 1
        name = f"{FONT_RESOURCE}{number}"
    return Name(name)


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
