"""One document file (PDF, multi-page TIFF or a single raster image) in, one page at a time out.

This is the pure, low-level layer under document reading: no pandas, no Dask.  PDFs go through pypdfium2
(imported lazily, so importing this module is cheap), rasters through Pillow.  Every function takes a seekable
binary file object or the file's bytes; PDFs are read from the file object on demand, so peak memory depends on
one page, not on the length of the document.  Problems with a document or a page raise :class:`DocumentError`,
whose message a user can act on.
"""

from __future__ import annotations

import ctypes
import dataclasses
import io
import math
import struct
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from . import defaults
from .decode import to_8bit
from .errors import RowError

__all__ = [
    "DocumentError",
    "Word",
    "RenderedPage",
    "document_kind",
    "count_pages",
    "render_page",
    "has_text_layer",
    "text_layer_problem",
    "tiff_frame_offsets",
    "tiff_frame",
    "scan_dpi",
]


_KINDS = ("pdf", "tiff", "image")
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF
_PNG_COMPRESS_LEVEL = 1  # rendered pages are large; level 1 is several times faster than 6 for a few % more bytes
_WHITE = (255, 255, 255, 255)
_PDFIUM_LOCK = threading.RLock()  # pdfium must not be entered from two threads at once, even for two documents


class DocumentError(RowError):
    """A document, or one of its pages, cannot be read: encrypted, damaged, empty, or an index out of range."""


@dataclass(frozen=True)
class Word:
    """A word of a PDF's text layer; ``box`` is ``(x0, y0, x1, y1)`` in page-image pixels, origin top-left."""

    text: str
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class RenderedPage:
    """One page of a document as an image, with its text layer when it has one.

    Attributes
    ----------
    content : bytes
        The page image, PNG (RGB or L); for a single raster image possibly the original file's bytes;
        ``b""`` when rendering was skipped.
    width, height : int
        Size of the page image in pixels.
    dpi : float
        Resolution actually used: lower than asked when ``capped``.  For rasters, the file's own resolution.
    capped : bool
        True when ``max_page_pixels`` forced a lower resolution.
    page_width_pt, page_height_pt : float
        Page size in points (1/72 inch), after the page's rotation.
    text : str or None
        The text layer in pdfium's reading order (lines separated by ``"\\n"``); None if the page has none.
    words : tuple of Word
        Words of the text layer, boxes in pixels of this rendering.
    notes : tuple of str
        What was assumed about the page (e.g. a resolution the file does not give).
    invisible_text : bool
        The text layer is all invisible text (render mode 3): an earlier OCR's layer, not text drawn on the page.
    """

    content: bytes
    width: int
    height: int
    dpi: float
    capped: bool
    page_width_pt: float
    page_height_pt: float
    text: str | None = None
    words: tuple[Word, ...] = ()
    notes: tuple[str, ...] = ()
    invisible_text: bool = False


# --------------------------------------------------------------------------------------------------------- sniffing


def document_kind(head: bytes) -> str:
    """``"pdf"``, ``"tiff"`` or ``"image"`` from the first bytes of a file.

    ``%PDF`` anywhere in the first 1024 bytes (as readers accept) means PDF; a TIFF (or BigTIFF) byte-order
    header means TIFF; anything else is left to the image decoder.
    """
    head = bytes(head[:1024])
    if b"%PDF" in head:
        return "pdf"
    if head[:4] in _TIFF_MAGIC:
        return "tiff"
    return "image"


def _check_kind(kind: str) -> None:
    if kind not in _KINDS:
        raise DocumentError(f"unknown document kind {kind!r} (expected one of {', '.join(_KINDS)})")


def _stream(file):
    """A seekable binary stream over ``file`` (bytes-like or file object), positioned at its start."""
    if isinstance(file, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(file))
    if not all(callable(getattr(file, name, None)) for name in ("read", "seek", "tell")):
        raise TypeError(f"expected bytes or a seekable binary file object, got {type(file).__name__}")
    file.seek(0)
    return file


def _page_error(index: int, exc: BaseException) -> DocumentError:
    message = str(exc) or type(exc).__name__
    return DocumentError(f"page {index + 1}: {message}")


def _check_index(index: int, n_pages: int) -> None:
    if not 0 <= index < n_pages:
        raise DocumentError(f"page {index + 1}: out of range, the document has {n_pages} page(s) "
                            f"(index {index} is 0-based)")


# -------------------------------------------------------------------------------------------------------------- PDF


def _load_error(code: int, password: str | None) -> DocumentError:
    import pypdfium2.raw as pdfium_c

    if code == pdfium_c.FPDF_ERR_PASSWORD:
        if password:
            return DocumentError("PDF is encrypted and the password is wrong")
        return DocumentError("PDF is encrypted: pass password=... to read it")
    if code == pdfium_c.FPDF_ERR_SECURITY:
        return DocumentError("PDF uses an unsupported security handler")
    reason = {pdfium_c.FPDF_ERR_FORMAT: "not in PDF format or corrupted", pdfium_c.FPDF_ERR_FILE: "file not readable"}
    return DocumentError(f"PDF is damaged or truncated: {reason.get(code, f'pdfium error {code}')}")


@contextmanager
def _pdf_document(file, password: str | None, forms: bool = False):
    """An open ``pdfium.PdfDocument`` that reads ``file`` on demand; closed (and pdfium released) on exit.

    pdfium is loaded through its raw API rather than ``PdfDocument(stream)``, which reports a zero-page file with
    a stale error code (possibly "wrong password") and leaks its handle.  pdfium is not thread-safe, so the whole
    use of a document holds a process-wide lock.
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    stream = _stream(file)
    length = stream.seek(0, io.SEEK_END)

    def get_block(_param, position, buffer, size):
        try:
            stream.seek(position)
            data = stream.read(size)
            ctypes.memmove(buffer, data, len(data))
        except Exception:  # an I/O error mid-document: pdfium sees a short read and fails cleanly
            return 0
        return int(len(data) == size)

    access = pdfium_c.FPDF_FILEACCESS()  # must outlive the document: pdfium keeps reading through it
    access.m_FileLen, access.m_Param = length, None
    access.m_GetBlock = dict(pdfium_c.FPDF_FILEACCESS._fields_)["m_GetBlock"](get_block)
    with _PDFIUM_LOCK:
        secret = (password + "\0").encode("utf-8") if password else None
        handle = pdfium_c.FPDF_LoadCustomDocument(ctypes.byref(access), secret)
        if not handle and password and pdfium_c.FPDF_GetLastError() == pdfium_c.FPDF_ERR_PASSWORD:
            handle = pdfium_c.FPDF_LoadCustomDocument(ctypes.byref(access), None)  # an empty user password
        if not handle:
            raise _load_error(pdfium_c.FPDF_GetLastError(), password)
        document = pdfium.PdfDocument(handle)
        try:
            if forms:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # a failed XFA load still leaves AcroForms drawn
                    document.init_forms()
            if len(document) < 1:
                raise DocumentError("document has no pages")
            yield document
        finally:
            document.close()


def _pdf_pages(file, password: str | None) -> int:
    with _pdf_document(file, password) as document:
        return len(document)


def _fit(width_pt: float, height_pt: float, dpi: float, max_pixels: int) -> tuple[int, int, float, bool]:
    """Pixel size of a page at ``dpi``, or at the highest lower dpi that keeps it within ``max_pixels``."""

    def size(at: float) -> tuple[int, int]:
        return max(1, round(width_pt * at / 72)), max(1, round(height_pt * at / 72))

    width, height = size(dpi)
    if width * height <= max_pixels:
        return width, height, float(dpi), False
    capped = dpi * math.sqrt(max_pixels / (width * height))
    width, height = size(capped)
    while width * height > max_pixels and width * height > 1:
        capped *= 0.999
        width, height = size(capped)
    return width, height, capped, True


def _to_pixels(box, bbox, rotation: int, sx: float, sy: float) -> tuple[float, float, float, float]:
    """A ``(left, bottom, right, top)`` box in PDF canvas units to top-left pixels of the rotated rendering."""
    left, bottom, right, top = bbox

    def point(u: float, v: float) -> tuple[float, float]:
        if rotation == 90:
            return (v - bottom) * sx, (u - left) * sy
        if rotation == 180:
            return (right - u) * sx, (v - bottom) * sy
        if rotation == 270:
            return (top - v) * sx, (right - u) * sy
        return (u - left) * sx, (top - v) * sy

    (ax, ay), (bx, by) = point(box[0], box[1]), point(box[2], box[3])
    return min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)


def _is_separator(char: str) -> bool:
    return char.isspace() or char < " " or char == "\ufffe"


def _fix_surrogates(text: str) -> str:
    if any("\ud800" <= char <= "\udfff" for char in text):
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def _text_layer(textpage, to_pixels, width: int, height: int) -> tuple[str | None, tuple[Word, ...]]:
    """The page text and its words; a word's box is the union of its characters' (loose) boxes, clipped."""
    import pypdfium2.raw as pdfium_c

    chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(textpage.count_chars())]
    text = _fix_surrogates("".join(chars)).replace("\r\n", "\n").replace("\r", "\n")
    words, current, box = [], [], None
    for i, char in enumerate([*chars, " "]):
        if not _is_separator(char):
            left, bottom, right, top = textpage.get_charbox(i, loose=True)
            box = (left, bottom, right, top) if box is None else (
                min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top))
            current.append(char)
            continue
        if current:
            x0, y0, x1, y1 = to_pixels(box)
            x0, x1 = max(0.0, x0), min(float(width), x1)
            y0, y1 = max(0.0, y0), min(float(height), y1)
            if x1 > x0 and y1 > y0:  # text outside the visible page is dropped
                words.append(Word(_fix_surrogates("".join(current)), (x0, y0, x1, y1)))
        current, box = [], None
    return (text if text.strip() else None), tuple(words)


def _all_invisible(textpage) -> bool:
    """Whether every character of the text layer that has a text object is drawn invisibly (render mode 3)."""
    import pypdfium2.raw as pdfium_c

    seen = False
    for i in range(textpage.count_chars()):  # a visible character ends the walk: born-digital pages cost nothing
        text_object = pdfium_c.FPDFText_GetTextObject(textpage, i)
        if text_object:
            if pdfium_c.FPDFTextObj_GetTextRenderMode(text_object) != pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE:
                return False
            seen = True
    return seen


def _render_png(page, width: int, height: int) -> bytes:
    """Rasterise ``page`` (its /Rotate, annotations and form fields included) to an RGB PNG of exactly this size."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    # pdfium is driven directly: PdfPage.render sizes the bitmap with ceil(), one pixel off our round().
    bitmap = pdfium.PdfBitmap.new_native(width, height, pdfium_c.FPDFBitmap_BGR, rev_byteorder=True)
    try:
        bitmap.fill_rect(_WHITE, 0, 0, width, height)
        flags = pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_REVERSE_BYTE_ORDER
        pdfium_c.FPDF_RenderPageBitmap(bitmap, page, 0, 0, width, height, 0, flags)
        if page.formenv:
            pdfium_c.FPDF_FFLDraw(page.formenv, bitmap, page, 0, 0, width, height, 0, flags)
        out = io.BytesIO()
        bitmap.to_pil().save(out, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
        return out.getvalue()
    finally:
        bitmap.close()


def scan_dpi(page) -> float | None:
    """The resolution of a scanned PDF page's image: the page shows one image covering nine tenths of it or
    more (besides any text, such as an OCR layer); None for any other page."""
    import pypdfium2.raw as pdfium_c

    images = [item for item in page.get_objects(max_depth=2) if item.type == pdfium_c.FPDF_PAGEOBJ_IMAGE]
    if len(images) != 1:
        return None
    left, bottom, right, top = images[0].get_bounds()
    box_left, box_bottom, box_right, box_top = page.get_bbox()
    shown_width = max(0.0, min(right, box_right) - max(left, box_left))
    shown_height = max(0.0, min(top, box_top) - max(bottom, box_bottom))
    if shown_width * shown_height < 0.9 * (box_right - box_left) * (box_top - box_bottom):
        return None
    pixels = max(images[0].get_px_size())
    return pixels * 72.0 / max(right - left, top - bottom)  # the long sides match, however the image is turned


def _pdf_page(document, index: int, dpi: float, max_pixels: int, render: bool,
              native_min_dpi: float | None) -> RenderedPage:
    page = document[index]
    textpage = None
    try:
        width_pt, height_pt = page.get_size()  # after /Rotate
        if not (width_pt > 0 and height_pt > 0):
            raise DocumentError(f"page {index + 1}: empty page box ({width_pt} x {height_pt} pt)")
        rotation, bbox = page.get_rotation() % 360, page.get_bbox()
        native = scan_dpi(page) if native_min_dpi is not None else None
        if native is not None:
            dpi = max(native, native_min_dpi)
        width, height, used_dpi, capped = _fit(width_pt, height_pt, dpi, max_pixels)
        sx, sy = width / width_pt, height / height_pt
        textpage = page.get_textpage()
        text, words = _text_layer(textpage, lambda box: _to_pixels(box, bbox, rotation, sx, sy), width, height)
        content = _render_png(page, width, height) if render else b""
        return RenderedPage(content, width, height, used_dpi, capped, width_pt, height_pt, text, words,
                            invisible_text=text is not None and _all_invisible(textpage))
    finally:
        if textpage is not None:
            textpage.close()
        page.close()


#: The note on every page of a dynamic XFA form: what its pages hold is not its content.
XFA_NOTE = ("a dynamic XFA form: its content lives in the form's XML, which no PDF renderer here draws; the page "
            "holds only what viewers without XFA show (open it in Adobe Reader and print it to PDF to OCR its content)")


def _render_pdf(file, index: int, dpi: float, max_pixels: int, password: str | None, render: bool,
                native_min_dpi: float | None) -> RenderedPage:
    with _pdf_document(file, password, forms=render) as document:
        _check_index(index, len(document))
        try:
            page = _pdf_page(document, index, dpi, max_pixels, render, native_min_dpi)
        except DocumentError:
            raise
        except Exception as exc:  # pdfium, ctypes or Pillow: whatever breaks, only this page fails
            raise _page_error(index, exc) from exc
        if _is_dynamic_xfa(document):
            page = dataclasses.replace(page, notes=(*page.notes, XFA_NOTE))
        return page


def _is_dynamic_xfa(document) -> bool:
    """A form whose pages are drawn from its XFA XML (``/NeedsRendering``), as pdfium tells without XFA support."""
    import pypdfium2.raw as pdfium_c

    return pdfium_c.FPDF_GetFormType(document.raw) == pdfium_c.FORMTYPE_XFA_FULL


# ---------------------------------------------------------------------------------------------------------- rasters


def _open_raster(file, kind: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bomb and corrupt-EXIF warnings: errors are raised, not warned
            return Image.open(_stream(file))
    except Image.DecompressionBombError as exc:
        raise DocumentError(f"{kind} refused as a decompression bomb: {exc}") from None
    except Exception as exc:
        what = "TIFF is damaged or unreadable" if kind == "tiff" else "not a recognised image or PDF format"
        if isinstance(exc, UnidentifiedImageError):  # its message names the file object, not the file
            stream = _stream(file)
            stream.seek(0)
            raise DocumentError(f"{what} (starting {stream.read(8)!r})") from None
        raise DocumentError(f"{what}: {type(exc).__name__}: {exc}") from None


def _file_dpi(image: Image.Image) -> tuple[float, float, tuple[str, ...]]:
    """The image's resolution, and a note when it is unknown or implausible and ``defaults.ASSUMED_DPI`` is used."""
    dpi = image.info.get("dpi")
    try:
        x, y = float(dpi[0]), float(dpi[1])
    except (TypeError, ValueError, IndexError):
        return defaults.ASSUMED_DPI, defaults.ASSUMED_DPI, (f"no resolution in the file: {defaults.ASSUMED_DPI:g} dpi "
                                                            "assumed",)
    low, high = defaults.PLAUSIBLE_DPI
    if low <= x <= high and low <= y <= high:
        return x, y, ()
    return defaults.ASSUMED_DPI, defaults.ASSUMED_DPI, (f"implausible resolution in the file ({x:g} x {y:g} dpi): "
                                                        f"{defaults.ASSUMED_DPI:g} dpi assumed",)


def _raster_page(image: Image.Image, max_pixels: int, render: bool, original=None) -> RenderedPage:
    """The current frame of ``image`` as a page (EXIF orientation applied; downscaled when over ``max_pixels``).

    ``original``, when given, returns the file's bytes, passed through as the content when no downscaling is needed.
    """
    width, height = image.size
    if image.getexif().get(0x0112, 1) in (5, 6, 7, 8):
        width, height = height, width
    xdpi, ydpi, notes = _file_dpi(image)
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    while out_w * out_h > max_pixels and out_w * out_h > 1:
        scale *= 0.999
        out_w, out_h = max(1, round(width * scale)), max(1, round(height * scale))
    capped = (out_w, out_h) != (width, height)
    content = b""
    if render and original is not None and not capped:
        content = original()
    elif render:
        if capped and image.format == "JPEG":
            image.draft(image.mode, (out_w, out_h))  # decode at a reduced scale: much less memory and time
        frame = to_8bit(ImageOps.exif_transpose(image))
        if frame.size != (out_w, out_h):
            frame = frame.resize((out_w, out_h), Image.Resampling.LANCZOS, reducing_gap=3.0)
        buffer = io.BytesIO()
        frame.save(buffer, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
        content = buffer.getvalue()
    return RenderedPage(content, out_w, out_h, xdpi * out_w / width, capped, width * 72 / xdpi, height * 72 / ydpi,
                        notes=notes)


def _render_raster(file, kind: str, index: int, max_pixels: int, render: bool,
                   frame_offset: int | None) -> RenderedPage:
    if kind == "tiff" and frame_offset is not None:  # the frame opened directly, without walking those before it
        file, index = _TiffFrameView(_stream(file), frame_offset), 0
    image = _open_raster(file, kind)
    with image:
        if kind != "tiff":
            _check_index(index, 1)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                if kind == "tiff":
                    _seek_frame(image, index)
                    return _raster_page(image, max_pixels, render)
                return _raster_page(image, max_pixels, render, original=lambda: _read_all(file))
        except DocumentError:
            raise
        except Exception as exc:
            raise _page_error(index, exc) from exc


def _seek_frame(image: Image.Image, index: int) -> None:
    """Move to frame ``index`` (walking the frames before it), or say that the document has fewer."""
    try:
        image.seek(index)
    except EOFError:
        raise DocumentError(f"page {index + 1}: out of range, the TIFF has fewer pages") from None


def tiff_frame_offsets(file) -> list[int]:
    """The byte offset of each page's image file directory (IFD) in a TIFF or BigTIFF, in page order.

    One pass over the chain of directories, reading a few bytes of each: what lets every page be opened
    directly (``render_page(..., frame_offset=...)``) instead of walking the pages before it, which makes
    reading all pages of a long TIFF quadratic.

    Raises
    ------
    DocumentError
        Not a TIFF, no pages, or a directory that points past the end of the file.
    """
    stream = _stream(file)
    head = stream.read(16)
    order = {b"II": "<", b"MM": ">"}.get(head[:2])
    if order is None or head[:4] not in _TIFF_MAGIC:
        raise DocumentError("not a TIFF (no TIFF header)")
    big = head[2:4] in (b"+\x00", b"\x00+")
    count_format, entry_size, next_format = ("Q", 20, "Q") if big else ("H", 12, "I")
    (offset,) = struct.unpack(order + next_format, head[8:16] if big else head[4:8])
    length = stream.seek(0, io.SEEK_END)
    count_size, next_size = struct.calcsize(count_format), struct.calcsize(next_format)
    offsets, seen = [], set()
    while offset and offset not in seen:  # a chain that loops back ends there, as Pillow reads it
        if offset + count_size > length:
            raise DocumentError(f"TIFF is damaged: page {len(offsets) + 1}'s directory points past the end of the file")
        seen.add(offset)
        offsets.append(offset)
        stream.seek(offset)
        (entries,) = struct.unpack(order + count_format, stream.read(count_size))
        stream.seek(offset + count_size + entries * entry_size)
        raw = stream.read(next_size)
        offset = struct.unpack(order + next_format, raw)[0] if len(raw) == next_size else 0
    if not offsets:
        raise DocumentError("document has no pages")
    return offsets


#: TIFF compressions that are lossless: a frame saved again with its own compression has the same pixels.
_LOSSLESS_TIFF = ("raw", "group3", "group4", "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits")


def tiff_frame(file, index: int, frame_offset: int | None = None) -> bytes:
    """Page ``index`` of a TIFF as a one-page TIFF with the same pixels: kept in its own compression when that
    is lossless (CCITT Group 4 stays Group 4, 1-bit stays 1-bit), else stored uncompressed.

    ``frame_offset`` (from :func:`tiff_frame_offsets`) opens the page directly.

    Raises
    ------
    DocumentError
        The TIFF or the page cannot be read.
    """
    if frame_offset is not None:
        file, index = _TiffFrameView(_stream(file), frame_offset), 0
    with _open_raster(file, "tiff") as image:
        _seek_frame(image, index)
        compression = image.info.get("compression", "raw")
        buffer = io.BytesIO()
        try:
            image.save(buffer, format="TIFF", compression=compression if compression in _LOSSLESS_TIFF else "raw",
                       dpi=image.info.get("dpi", (defaults.ASSUMED_DPI,) * 2))
        except Exception as exc:
            raise _page_error(index, exc) from exc
        return buffer.getvalue()


class _TiffFrameView(io.RawIOBase):
    """A TIFF stream whose header points at the directory at ``offset``: Pillow opens that page as the first."""

    def __init__(self, stream, offset: int):
        super().__init__()
        self._stream, self._position = stream, 0
        stream.seek(0)
        head = stream.read(16)
        order = "<" if head[:2] == b"II" else ">"
        big = head[2:4] in (b"+\x00", b"\x00+")
        self._header = head[:8] + struct.pack(order + "Q", offset) if big else head[:4] + struct.pack(order + "I",
                                                                                                       offset)
        self._length = stream.seek(0, io.SEEK_END)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + position)
        return self._position

    def readinto(self, buffer) -> int:
        size = min(len(buffer), max(0, self._length - self._position))
        start = self._position
        data = self._header[start:start + size]
        if len(data) < size:
            self._stream.seek(start + len(data))
            data += self._stream.read(size - len(data))
        buffer[:len(data)] = data
        self._position += len(data)
        return len(data)


def _read_all(file) -> bytes:
    if isinstance(file, (bytes, bytearray, memoryview)):
        return bytes(file)
    file.seek(0)
    return file.read()


# ------------------------------------------------------------------------------------------------------ public API


def count_pages(file, kind: str, password: str | None = None) -> int:
    """Number of pages of a document.

    Parameters
    ----------
    file : bytes or binary file object
        The document; a file object must be seekable and is read on demand (PDFs are not read whole).
    kind : {"pdf", "tiff", "image"}
        As returned by :func:`document_kind`.
    password : str, optional
        Password of an encrypted PDF.

    Raises
    ------
    DocumentError
        Encrypted without (or with a wrong) password, damaged or truncated, or without pages.
    """
    _check_kind(kind)
    if kind == "pdf":
        return _pdf_pages(file, password)
    stream = _stream(file)
    if stream.seek(0, io.SEEK_END) == 0:
        raise DocumentError("empty file (0 bytes)")
    with _open_raster(stream, kind):  # a file that is no image (a text file called .pdf) says so here
        pass
    return 1 if kind == "image" else len(tiff_frame_offsets(stream))


def render_page(file, kind: str, index: int, dpi: float = defaults.DPI, max_page_pixels: int = defaults.MAX_PAGE_PIXELS,
                password: str | None = None, render: bool = True, frame_offset: int | None = None,
                native_min_dpi: float | None = None) -> RenderedPage:
    """One page of a document as an image, with the PDF text layer and its word boxes.

    The document is opened, one page rendered, and everything closed again, so memory does not grow with the
    number of pages.  PDF pages are rasterised at ``dpi`` with their /Rotate, annotations and form fields; TIFF
    frames and images keep their own resolution (no resampling) unless over ``max_page_pixels``.

    Parameters
    ----------
    file : bytes or binary file object
        The document (a file object must be seekable).
    kind : {"pdf", "tiff", "image"}
        As returned by :func:`document_kind`.
    index : int
        0-based page number.
    dpi : float
        Rendering resolution of PDF pages.
    max_page_pixels : int
        A page whose image would be larger is rendered (or downscaled) to fit, with ``capped=True``.
    password : str, optional
        Password of an encrypted PDF.
    render : bool
        False skips rasterising (``content == b""``) when the text layer will be used instead of OCR.
    frame_offset : int, optional
        TIFF: where page ``index``'s directory starts (from :func:`tiff_frame_offsets`); the page is then opened
        directly, at a cost that does not grow with ``index``.
    native_min_dpi : float, optional
        Render a scanned PDF page (one image covering it, :func:`scan_dpi`) at its image's own resolution, or
        at this dpi where the scan is coarser, instead of at ``dpi``.

    Raises
    ------
    DocumentError
        The document cannot be opened (as in :func:`count_pages`), or ``"page N: ..."`` (N 1-based) when this
        page is out of range or fails.
    """
    _check_kind(kind)
    if not dpi > 0 or max_page_pixels < 1:
        raise ValueError(f"dpi and max_page_pixels must be positive, got {dpi!r} and {max_page_pixels!r}")
    if kind == "pdf":
        return _render_pdf(file, index, dpi, max_page_pixels, password, render, native_min_dpi)
    return _render_raster(file, kind, index, max_page_pixels, render, frame_offset)


def has_text_layer(page: RenderedPage, min_chars: int = defaults.MIN_TEXT_CHARS) -> bool:
    """Whether ``page.text`` has at least ``min_chars`` non-space characters (so OCR can be skipped)."""
    if not page.text:
        return False
    return sum(not char.isspace() for char in page.text) >= min_chars


def text_layer_problem(text: str) -> str | None:
    """Why a text layer cannot be taken as the page's text, or None when it reads as text.

    A layer of glyph codes without a Unicode mapping comes out as private-use characters or U+FFFD; a layer of
    nothing but symbols holds no letters or digits.  More than ``defaults.MAX_UNMAPPED_SHARE`` of such
    characters, or no letter or digit at all, and the page is OCR'd instead.
    """
    chars = [char for char in text if not char.isspace()]
    if not chars:
        return "the text layer is empty"
    private = sum(_is_private_use(char) for char in chars)
    replaced = chars.count("\ufffd")
    for count, what in ((private, "private-use characters (glyphs without Unicode)"),
                        (replaced, "replacement characters (U+FFFD)")):
        if count / len(chars) > defaults.MAX_UNMAPPED_SHARE:
            return f"the text layer is {count / len(chars):.0%} {what}"
    if not any(char.isalnum() for char in chars):
        return "the text layer holds no letters or digits"
    return None


def _is_private_use(char: str) -> bool:
    code = ord(char)
    return 0xE000 <= code <= 0xF8FF or code >= 0xF0000
