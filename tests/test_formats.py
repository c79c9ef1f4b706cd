"""dask_ocr.formats: every renderer on hand-built pages (no model, no image), value by value.

The same formats on real pages, through ``recognize``, are checked in ``test_integration.py``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from dask_ocr.formats import (
    OUTPUT_FORMATS,
    page_positions,
    render,
    render_alto,
    render_formatted_text,
    render_hocr,
    render_text,
)
from dask_ocr.layout import Char, Page, Word

XHTML = "{http://www.w3.org/1999/xhtml}"
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"


def quad(x0, y0, x1, y1) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=float)


def word(text, x0, y0, confidence=0.9, region=0, with_chars=False, char_width=10, height=20) -> Word:
    x1 = x0 + char_width * len(text)
    chars = ()
    if with_chars:
        chars = tuple(Char(c, quad(x0 + char_width * i, y0, x0 + char_width * (i + 1), y0 + height), 1.0 - 0.1 * i)
                      for i, c in enumerate(text))
    return Word(text, quad(x0, y0, x1, y0 + height), confidence, region, chars)


@pytest.fixture
def page() -> Page:
    """A receipt: ``TOTAL 9.00`` on one line (two regions), ``CASH`` (with characters) below."""
    return Page(400, 200, (
        (word("TOTAL", 20, 10, 0.9, region=0), word("9.00", 220, 12, 0.8, region=1)),
        (word("CASH", 20, 40, 0.7, region=2, with_chars=True),),
    ))


EMPTY = Page(120, 60, ())


def test_text_joins_words_and_lines(page):
    assert render_text(page) == "TOTAL 9.00\nCASH"
    assert render_text(EMPTY) == ""
    assert render(page, "text") == render(page, "positions") == "TOTAL 9.00\nCASH"   # positions: plain text
    assert set(OUTPUT_FORMATS) == {"text", "formatted_text", "hocr", "alto", "positions"}
    with pytest.raises(KeyError):
        render(page, "pdf")


def test_formatted_text_puts_words_at_their_columns():
    def word_at(text, x0, y0):
        quad = np.array([[x0, y0], [x0 + 10 * len(text), y0], [x0 + 10 * len(text), y0 + 20], [x0, y0 + 20]], float)
        return Word(text, quad, 0.9, 0)

    page = Page(400, 400, ((word_at("TOTAL", 20, 10), word_at("9.00", 220, 12)), (word_at("CASH", 20, 40),),
                           (word_at("THANKS", 80, 150),)))
    assert render_formatted_text(page) == "TOTAL               9.00\nCASH\n\n\n      THANKS"
    assert render_formatted_text(Page(10, 10, ())) == ""


def test_formatted_text_caps_blank_lines_and_keeps_words_apart():
    far = Page(400, 2000, ((word("A", 0, 0),), (word("B", 0, 1000),)))
    assert render_formatted_text(far) == "A\n\n\nB"                             # at most 2 blank lines
    assert render_formatted_text(far, max_blank_lines=0) == "A\nB"
    touching = Page(400, 40, ((word("ab", 0, 0), word("cd", 15, 0)),))         # overlapping boxes
    assert render_formatted_text(touching) == "ab cd"                          # still one space apart


def test_hocr_structure_boxes_and_confidences(page):
    document = render_hocr(page)
    assert document.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html')
    root = ET.fromstring(document.encode())
    assert root.tag == f"{XHTML}html"
    capabilities = root.find(f".//{XHTML}meta[@name='ocr-capabilities']").get("content")
    assert capabilities == "ocr_page ocr_line ocrx_word"
    page_div = root.find(f".//{XHTML}div[@class='ocr_page']")
    assert page_div.get("title") == "bbox 0 0 400 200; ppageno 0"
    lines = page_div.findall(f"{XHTML}span[@class='ocr_line']")
    assert [line.get("title") for line in lines] == ["bbox 20 10 260 32; x_size 22", "bbox 20 40 60 60; x_size 20"]
    words = root.findall(f".//{XHTML}span[@class='ocrx_word']")
    assert [(w.text, w.get("id"), w.get("title")) for w in words] == [
        ("TOTAL", "word_1_1_1", "bbox 20 10 70 30; x_wconf 90"),
        ("9.00", "word_1_1_2", "bbox 220 12 260 32; x_wconf 80"),
        ("CASH", "word_1_2_1", "bbox 20 40 60 60; x_wconf 70"),
    ]
    assert "".join(lines[0].itertext()) == "TOTAL 9.00"                        # words separated by a space


def test_alto_structure_positions_and_confidences(page):
    root = ET.fromstring(render_alto(page).encode())
    assert root.tag == f"{ALTO}alto"
    assert root.find(f".//{ALTO}MeasurementUnit").text == "pixel"
    page_element = root.find(f".//{ALTO}Page")
    assert (page_element.get("WIDTH"), page_element.get("HEIGHT")) == ("400", "200")
    block = root.find(f".//{ALTO}TextBlock")
    assert [block.get(k) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")] == ["20", "10", "240", "50"]
    first, second = root.findall(f".//{ALTO}TextLine")
    assert [(s.get("CONTENT"), s.get("HPOS"), s.get("VPOS"), s.get("WIDTH"), s.get("HEIGHT"), s.get("WC"))
            for s in first.findall(f"{ALTO}String")] == [("TOTAL", "20", "10", "50", "20", "0.900"),
                                                         ("9.00", "220", "12", "40", "20", "0.800")]
    space = first.find(f"{ALTO}SP")
    assert (space.get("HPOS"), space.get("VPOS"), space.get("WIDTH")) == ("70", "10", "150")
    assert [child.tag.removeprefix(ALTO) for child in first] == ["String", "SP", "String"]
    assert first.find(f"{ALTO}String").get("CC") is None                    # no character confidences
    cash = second.find(f"{ALTO}String")
    assert cash.get("CC") == "0123"                # 9 * (1 - confidence): 1.0, 0.9, 0.8, 0.7


def test_empty_page_gives_valid_documents():
    assert ET.fromstring(render_hocr(EMPTY).encode()).find(f".//{XHTML}div").get("title").startswith("bbox 0 0 120 60")
    alto = ET.fromstring(render_alto(EMPTY).encode())
    assert alto.find(f".//{ALTO}Page").get("WIDTH") == "120" and alto.find(f".//{ALTO}TextBlock") is None
    assert page_positions(EMPTY) == [] and render_formatted_text(EMPTY) == ""


def test_xml_formats_drop_characters_xml_cannot_hold():
    page = Page(100, 40, ((word("a\x00b\x0bc", 0, 0),),))
    hocr = ET.fromstring(render_hocr(page).encode())
    assert hocr.find(f".//{XHTML}span[@class='ocrx_word']").text == "abc"
    alto = ET.fromstring(render_alto(page).encode())
    assert alto.find(f".//{ALTO}String").get("CONTENT") == "abc"
    assert re.search("[\x00\x0b]", render_text(page))                       # plain text keeps them


def test_positions_are_the_page_matrix(page):
    positions = page_positions(page)
    assert [(p["text"], p["line"], p["region"]) for p in positions] == [("TOTAL", 0, 0), ("9.00", 0, 1),
                                                                        ("CASH", 1, 2)]
    assert positions[0] == {"text": "TOTAL", "x": 20.0, "y": 10.0, "width": 50.0, "height": 20.0,
                            "confidence": 0.9, "line": 0, "region": 0, "chars": None}
    chars = positions[2]["chars"]
    assert [c["text"] for c in chars] == list("CASH")
    assert chars[1] == {"text": "A", "x": 30.0, "y": 40.0, "width": 10.0, "height": 20.0, "confidence": 0.9}
    assert all(isinstance(v, float) for p in positions for k, v in p.items() if k in ("x", "y", "width", "height"))
