"""Output formats on real pages: structure, coordinates inside the image, and text equal to ``text``."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dask_ocr.formats import render_formatted_text
from dask_ocr.layout import Page, Word

from ocrdata import image_frame

XHTML = "{http://www.w3.org/1999/xhtml}"
ALTO = "{http://www.loc.gov/standards/alto/ns-v4#}"


@pytest.fixture(scope="module")
def pages(sroie_pages, funsd_pages):
    """Two receipts and a form, with detected regions and the plain-text reading."""
    frame = image_frame(sroie_pages[:2] + funsd_pages[:1]).ocr.detect()
    sizes = [Image.open(io.BytesIO(content)).size for content in frame["content"]]
    text = frame.ocr.recognize(positions_col="positions")
    return frame, sizes, text


def text_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line]


def same_positions(a, b) -> bool:
    """Equal page matrices, up to float noise in confidences (batch composition changes the last bits)."""
    def split(cells):
        words = [w for cell in cells for w in cell]
        return ([(w["text"], w["line"], w["region"], [c["text"] for c in w["chars"] or []]) for w in words],
                [v for w in words for v in [w["x"], w["width"], w["confidence"]]
                 + [c[k] for c in w["chars"] or [] for k in ("x", "confidence")]])

    (labels_a, numbers_a), (labels_b, numbers_b) = split(a), split(b)
    return labels_a == labels_b and numbers_a == pytest.approx(numbers_b, rel=1e-4, abs=1e-4)


def inside(box, size) -> bool:
    x0, y0, x1, y1 = box
    return 0 <= x0 <= x1 <= size[0] and 0 <= y0 <= y1 <= size[1]


def test_positions_match_the_text_and_lie_inside_the_image(pages):
    _, sizes, out = pages
    for text, words, size in zip(out["text"], out["positions"], sizes):
        assert len(words) > 20
        lines = {}
        for word in words:
            lines.setdefault(word["line"], []).append(word["text"])
            assert inside((word["x"], word["y"], word["x"] + word["width"], word["y"] + word["height"]), size)
            assert 0 <= word["confidence"] <= 1 and word["width"] > 0
            if word["chars"] is not None:
                assert "".join(c["text"] for c in word["chars"]) == word["text"]
                assert all(word["x"] - 1e-6 <= c["x"] <= word["x"] + word["width"] for c in word["chars"])
        assert [" ".join(lines[k]) for k in sorted(lines)] == text_lines(text)
    words = [word for cell in out["positions"] for word in cell]
    assert sum(word["chars"] is not None for word in words) > 0.9 * len(words)


def test_positions_format_fills_the_default_column(pages):
    frame, _, out = pages
    positions = frame.head(1).ocr.recognize(output_format="positions")
    assert positions["text"].iloc[0] == out["text"].iloc[0]
    assert same_positions(positions["positions"].iloc[:1], out["positions"].iloc[:1])


def test_formatted_text_keeps_lines_and_columns(pages):
    frame, _, out = pages
    formatted = frame.ocr.recognize(output_format="formatted_text")["text"]
    for layout_text, plain in zip(formatted, out["text"]):
        assert [" ".join(line.split()) for line in text_lines(layout_text)] == text_lines(plain)
        assert "\n\n" in layout_text                                  # a vertical gap became a blank line
        assert any(re.search(r"\S {3,}\S", line) for line in layout_text.split("\n"))  # columns kept apart


def test_formatted_text_puts_words_at_their_columns():
    def word(text, x0, y0):
        quad = np.array([[x0, y0], [x0 + 10 * len(text), y0], [x0 + 10 * len(text), y0 + 20], [x0, y0 + 20]], float)
        return Word(text, quad, 0.9, 0)

    page = Page(400, 400, ((word("TOTAL", 20, 10), word("9.00", 220, 12)), (word("CASH", 20, 40),),
                           (word("THANKS", 80, 150),)))
    assert render_formatted_text(page) == "TOTAL               9.00\nCASH\n\n\n      THANKS"
    assert render_formatted_text(Page(10, 10, ())) == ""


def test_hocr_is_valid_xhtml_with_boxes_and_confidences(pages):
    frame, sizes, out = pages
    documents = frame.ocr.recognize(output_format="hocr")["text"]
    for document, size, plain in zip(documents, sizes, out["text"]):
        root = ET.fromstring(document.encode())
        page = root.find(f".//{XHTML}div[@class='ocr_page']")
        assert page.get("title").startswith(f"bbox 0 0 {size[0]} {size[1]}")
        lines = root.findall(f".//{XHTML}span[@class='ocr_line']")
        assert [" ".join(w.text for w in line.findall(f"{XHTML}span[@class='ocrx_word']")) for line in lines] \
            == text_lines(plain)
        for word in root.iter(f"{XHTML}span"):
            if word.get("class") == "ocrx_word":
                bbox, wconf = re.fullmatch(r"bbox (\d+ \d+ \d+ \d+); x_wconf (\d+)", word.get("title")).groups()
                assert inside([int(v) for v in bbox.split()], size) and 0 <= int(wconf) <= 100


def test_alto_is_v4_xml_with_coordinates_and_confidences(pages):
    frame, sizes, out = pages
    documents = frame.ocr.recognize(output_format="alto")["text"]
    for document, size, plain in zip(documents, sizes, out["text"]):
        root = ET.fromstring(document.encode())
        assert root.tag == f"{ALTO}alto"
        page = root.find(f".//{ALTO}Page")
        assert (int(page.get("WIDTH")), int(page.get("HEIGHT"))) == size
        lines = root.findall(f".//{ALTO}TextLine")
        assert [" ".join(s.get("CONTENT") for s in line.findall(f"{ALTO}String")) for line in lines] \
            == text_lines(plain)
        for string in root.iter(f"{ALTO}String"):
            x, y, w, h = (int(string.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
            assert inside((x, y, x + w, y + h), size) and 0 <= float(string.get("WC")) <= 1
            assert string.get("CC") is None or len(string.get("CC")) == len(string.get("CONTENT"))


def test_empty_page_still_gives_valid_documents():
    blank = io.BytesIO()
    Image.new("RGB", (120, 60), "white").save(blank, format="PNG")
    frame = image_frame([{"content": blank.getvalue()}]).ocr.detect()
    assert list(frame["regions"].iloc[0]) == []
    for output_format, tag in [("hocr", f"{XHTML}html"), ("alto", f"{ALTO}alto")]:
        document = frame.ocr.recognize(output_format=output_format)["text"].iloc[0]
        assert ET.fromstring(document.encode()).tag == tag
    assert list(frame.ocr.recognize(output_format="positions")["positions"].iloc[0]) == []


def test_positions_survive_parquet_and_dask(tmp_path, pages):
    frame, _, out = pages
    ddf = dd.from_pandas(frame, npartitions=2).ocr.recognize(positions_col="positions")
    ddf[["text", "positions"]].to_parquet(tmp_path / "out")
    back = pd.read_parquet(tmp_path / "out")
    assert back["positions"].dtype == out["positions"].dtype
    assert back["text"].tolist() == out["text"].tolist()
    assert same_positions(back["positions"], out["positions"])


def test_bad_format_arguments_fail_early(pages):
    frame, _, _ = pages
    with pytest.raises(ValueError, match="output_format"):
        frame.ocr.recognize(output_format="pdf")
    with pytest.raises(ValueError, match="must differ"):
        frame.ocr.recognize(positions_col="text")
    with pytest.raises(ValueError, match="max_image_ratio"):
        frame.ocr.recognize(group_images=True, max_image_ratio=0)
