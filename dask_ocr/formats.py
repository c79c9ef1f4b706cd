"""Render a :class:`~dask_ocr.layout.Page` in each output format.

Every renderer takes a page and returns a plain Python value (a string, or a list of dicts for
``positions``), so the partition functions can put it straight into an Arrow column.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import numpy as np

from .layout import Page, Word, line_box

__all__ = ["OUTPUT_FORMATS", "render_text", "render_formatted_text", "render_hocr", "render_alto", "page_positions",
           "render"]

OUTPUT_FORMATS = ("text", "formatted_text", "hocr", "alto", "positions")

HOCR_CAPABILITIES = "ocr_page ocr_line ocrx_word"
ALTO_NAMESPACE = "http://www.loc.gov/standards/alto/ns-v4#"
ALTO_SCHEMA = "http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
_XML_INVALID = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _line_texts(page: Page) -> list[str]:
    return [" ".join(word.text for word in line) for line in page.lines]


def render_text(page: Page) -> str:
    """Lines in reading order, words joined by a space, lines by a newline."""
    return "\n".join(text for text in _line_texts(page) if text)


def render_formatted_text(page: Page, max_blank_lines: int = 2) -> str:
    """Plain text that keeps the page layout.

    Words are placed at the column that matches their left edge (one column per median character
    width, at least one space apart), so columns of a table or a receipt's ``TOTAL ... 9.00`` stay
    apart on their own line; vertical gaps larger than the text height become blank lines (at most
    ``max_blank_lines`` in a row).
    """
    words = page.words
    if not words:
        return ""
    char_width = float(np.median([(w.box[2] - w.box[0]) / len(w.text) for w in words])) or 1.0
    text_height = float(np.median([w.box[3] - w.box[1] for w in words])) or 1.0
    left = min(w.box[0] for w in words)
    rendered: list[str] = []
    previous_bottom = None
    for line in page.lines:
        _, top, _, bottom = line_box(line)
        if previous_bottom is not None:
            blanks = int((top - previous_bottom) // (1.2 * text_height))
            rendered.extend([""] * min(max(blanks, 0), max_blank_lines))
        previous_bottom = bottom
        row = ""
        for word in line:
            column = round((word.box[0] - left) / char_width)
            row += " " * max(column - len(row), 1 if row else 0) + word.text
        rendered.append(row)
    return "\n".join(rendered)


def _clean(text: str) -> str:
    """Text with the characters XML 1.0 cannot hold removed."""
    return _XML_INVALID.sub("", text)


def _bbox(box: Sequence[int]) -> str:
    return "bbox {} {} {} {}".format(*box)


def render_hocr(page: Page) -> str:
    """An hOCR 1.2 document (XHTML): ``ocr_page`` > ``ocr_line`` > ``ocrx_word``, with ``bbox`` and ``x_wconf``."""
    html = ET.Element("html", {"xmlns": "http://www.w3.org/1999/xhtml", "xml:lang": "en", "lang": "en"})
    head = ET.SubElement(html, "head")
    ET.SubElement(head, "title").text = "dask_ocr output"
    ET.SubElement(head, "meta", {"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"})
    ET.SubElement(head, "meta", {"name": "ocr-system", "content": "dask_ocr"})
    ET.SubElement(head, "meta", {"name": "ocr-capabilities", "content": HOCR_CAPABILITIES})
    body = ET.SubElement(html, "body")
    page_div = ET.SubElement(body, "div", {"class": "ocr_page", "id": "page_1",
                                           "title": f"{_bbox((0, 0, page.width, page.height))}; ppageno 0"})
    for line_number, line in enumerate(page.lines, start=1):
        box = line_box(line)
        line_span = ET.SubElement(page_div, "span", {"class": "ocr_line", "id": f"line_1_{line_number}",
                                                     "title": f"{_bbox(box)}; x_size {box[3] - box[1]}"})
        for word_number, word in enumerate(line, start=1):
            span = ET.SubElement(line_span, "span", {
                "class": "ocrx_word", "id": f"word_1_{line_number}_{word_number}",
                "title": f"{_bbox(word.box)}; x_wconf {round(100 * word.confidence)}"})
            span.text = _clean(word.text)
            span.tail = " " if word_number < len(line) else None
    doctype = ('<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
               '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doctype + "\n"
            + ET.tostring(html, encoding="unicode", short_empty_elements=True))


def _alto_position(box: Sequence[int]) -> dict[str, str]:
    x0, y0, x1, y1 = box
    return {"HPOS": str(x0), "VPOS": str(y0), "WIDTH": str(x1 - x0), "HEIGHT": str(y1 - y0)}


def _character_confidences(word: Word) -> str | None:
    """ALTO ``CC``: one digit per character, 0 = certain, 9 = unsure."""
    if not word.chars:
        return None
    return "".join(str(min(9, max(0, round(9 * (1 - char.confidence))))) for char in word.chars)


def render_alto(page: Page) -> str:
    """An ALTO v4 document: ``Page`` > ``PrintSpace`` > ``TextBlock`` > ``TextLine`` > ``String``/``SP``."""
    alto = ET.Element("alto", {"xmlns": ALTO_NAMESPACE, "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
                               "xsi:schemaLocation": f"{ALTO_NAMESPACE} {ALTO_SCHEMA}"})
    description = ET.SubElement(alto, "Description")
    ET.SubElement(description, "MeasurementUnit").text = "pixel"
    processing = ET.SubElement(description, "Processing", {"ID": "processing_1"})
    software = ET.SubElement(processing, "processingSoftware")
    ET.SubElement(software, "softwareName").text = "dask_ocr"
    layout = ET.SubElement(alto, "Layout")
    full = (0, 0, page.width, page.height)
    page_element = ET.SubElement(layout, "Page", {"ID": "page_1", "PHYSICAL_IMG_NR": "1",
                                                  "WIDTH": str(page.width), "HEIGHT": str(page.height)})
    print_space = ET.SubElement(page_element, "PrintSpace", _alto_position(full))
    if not page.lines:
        return ET.tostring(alto, encoding="unicode", xml_declaration=True)
    all_words = np.concatenate([word.quad for word in page.words])
    block = ET.SubElement(print_space, "TextBlock", {"ID": "block_1", **_alto_position(
        (math.floor(all_words[:, 0].min()), math.floor(all_words[:, 1].min()),
         math.ceil(all_words[:, 0].max()), math.ceil(all_words[:, 1].max())))})
    for line_number, line in enumerate(page.lines, start=1):
        text_line = ET.SubElement(block, "TextLine", {"ID": f"line_{line_number}", **_alto_position(line_box(line))})
        for word_number, word in enumerate(line, start=1):
            if word_number > 1:
                before = line[word_number - 2].box
                ET.SubElement(text_line, "SP", {"HPOS": str(before[2]), "VPOS": str(before[1]),
                                                "WIDTH": str(max(0, word.box[0] - before[2]))})
            attributes = {"ID": f"string_{line_number}_{word_number}", "CONTENT": _clean(word.text),
                          **_alto_position(word.box), "WC": f"{word.confidence:.3f}"}
            if (cc := _character_confidences(word)) is not None:
                attributes["CC"] = cc
            ET.SubElement(text_line, "String", attributes)
    return ET.tostring(alto, encoding="unicode", xml_declaration=True)


def _position(text: str, quad: np.ndarray, confidence: float) -> dict:
    x0, y0, x1, y1 = (float(quad[:, 0].min()), float(quad[:, 1].min()), float(quad[:, 0].max()),
                      float(quad[:, 1].max()))
    return {"text": text, "x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0, "confidence": confidence}


def page_positions(page: Page) -> list[dict]:
    """The page matrix: per word its text, box (x, y, width, height), confidence, line and region
    indices, and its characters (same fields; null when the engine gives no character positions)."""
    return [{**_position(word.text, word.quad, word.confidence), "line": line_number, "region": word.region,
             "chars": [_position(c.text, c.quad, c.confidence) for c in word.chars] if word.chars else None}
            for line_number, line in enumerate(page.lines) for word in line]


_RENDERERS = {"text": render_text, "formatted_text": render_formatted_text, "hocr": render_hocr,
              "alto": render_alto, "positions": render_text}


def render(page: Page, output_format: str) -> str:
    """The ``output_col`` value for ``output_format`` (``positions`` puts plain text there)."""
    return _RENDERERS[output_format](page)
