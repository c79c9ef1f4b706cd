"""Page orientation and skew: the geometry helpers, the estimate (on drawn pages, with stand-in models),
the pipeline keeping every box in the original image's pixels, and real pages turned and skewed."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pandas as pd
import pytest

import dask_ocr
from dask_ocr.cluster import models as model_cache
from dask_ocr.decode import decode_image
from dask_ocr.geometry import (
    Region,
    affine_points,
    invert_affine,
    upright_matrix,
    warp_upright,
)
from dask_ocr.layout import Page, Word
from dask_ocr.metrics import bag_of_words
from dask_ocr.models.base import Recognition
from dask_ocr.orientation import PageAngle, detect_upright, estimate_angle, map_page, text_angle
from dask_ocr.schema import BINARY_DTYPE

from ocrdata import load_manifest, png

# ------------------------------------------------------------------------------- geometry


@pytest.mark.parametrize("quarter", [0, 1, 2, 3])
def test_quarter_turns_are_exact_and_match_their_matrix(quarter):
    image = np.random.default_rng(quarter).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    turned, matrix = warp_upright(image, 90 * quarter)
    assert turned.shape[:2] == ((5, 7) if quarter % 2 == 0 else (7, 5))
    for x, y in [(0, 0), (6, 4), (3, 1), (6, 0)]:
        u, v = affine_points(np.array([[x + 0.5, y + 0.5]]), matrix)[0] - 0.5  # pixel centre to pixel centre
        assert (turned[int(round(v)), int(round(u))] == image[y, x]).all()
    assert np.allclose(affine_points(affine_points(np.array([[1.0, 2.0]]), matrix), invert_affine(matrix)), [[1, 2]])


def test_a_skew_is_undone_on_a_canvas_that_holds_the_whole_page():
    image = np.full((200, 300, 3), 255, np.uint8)
    image[50:54, 100:104] = 0                                   # a dot at (102, 52)
    straight, matrix = warp_upright(image, 10)
    _, (width, height) = upright_matrix(300, 200, 10)
    assert straight.shape[:2] == (height, width) and width > 300 and height > 200
    ys, xs = np.nonzero(straight[:, :, 0] < 128)
    assert np.allclose([xs.mean() + 0.5, ys.mean() + 0.5], affine_points(np.array([[102, 52]]), matrix)[0], atol=1)
    assert (straight[0, 0] == 255).all()                         # corners take the paper's colour
    # 90.00001 degrees is interpolated, 90 exactly is a permutation: the same picture
    assert np.array_equal(warp_upright(image, 90.00001)[0], warp_upright(image, 90)[0])


def quad(cx, cy, length, height, angle):
    """A rectangle centred on (cx, cy), its long side turned ``angle`` degrees clockwise."""
    c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
    corners = np.array([[-length, -height], [length, -height], [length, height], [-length, height]]) / 2
    return Region(corners @ np.array([[c, s], [-s, c]]) + (cx, cy))


@pytest.mark.parametrize("angle", [0.0, 3.0, -8.0, 15.0, 89.0, -89.5, 45.0])
def test_text_angle_is_the_axis_of_the_long_regions(angle):
    lines = [quad(100 + 10 * i, 50 * i, 200 + 20 * i, 20, angle + (0.5 if i % 2 else -0.3)) for i in range(7)]
    noise = [quad(30, 30, 20, 18, 37.0), quad(60, 60, 200, 20, angle + 60)]      # a square, a stray rule
    found, members = text_angle(lines + noise)
    assert ((found - angle + 90) % 180 - 90) == pytest.approx(0, abs=0.6)
    assert set(members) == set(range(7))
    assert text_angle([quad(0, 0, 10, 9, 0)])[0] is None and text_angle([])[0] is None


def test_map_page_moves_words_and_characters():
    word = Word("ab", np.array([[10, 10], [30, 10], [30, 20], [10, 20]], float), 0.9, 0)
    page = Page(40, 50, ((word,),))
    _, matrix = warp_upright(np.zeros((40, 50, 3), np.uint8), 90)   # a 50x40 image turned to 40x50
    mapped = map_page(page, invert_affine(matrix), 50, 40)
    assert (mapped.width, mapped.height) == (50, 40)
    assert mapped.lines[0][0].box == (30, 10, 40, 30)             # x = 50 - y', y = x'


# ------------------------------------------------------------------------------- drawn pages, stand-in models
#
# A drawn page: three lines of two bars, each bar darker at the end where its "text" starts.  The stand-in
# detector finds the bars (dark connected components); the stand-in recognizer reads a crop as the bar it
# is (told apart by its length in pixels) with confidence 0.95 when it is dark on the left, 0.2 when upside down.

LENGTHS = [80, 140, 200, 260, 320, 380]
LINES = [(0, 5), (1, 4), (2, 3)]


def drawn_page() -> np.ndarray:
    image = np.full((400, 640, 3), 250, np.uint8)
    for row, (left, right) in enumerate(LINES):
        y, x = 80 + 110 * row, 40
        for number in (left, right):
            ramp = np.linspace(10, 140, LENGTHS[number]).astype(np.uint8)
            image[y:y + 16, x:x + LENGTHS[number]] = ramp[None, :, None]
            x += LENGTHS[number] + 60
    return image


def drawn_text() -> str:
    return "\n".join(f"w{left} w{right}" for left, right in LINES)


class BarDetector:
    def detect(self, images):
        return [self._bars(image) for image in images]

    @staticmethod
    def _bars(image):
        mask = (image.min(axis=2) < 180).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        boxes = [cv2.boxPoints(cv2.minAreaRect(c)).astype(np.float64) for c in contours if cv2.contourArea(c) > 50]
        return [Region(box, 0.9) for box in boxes]


class BarReader:
    def recognize(self, crops, batch_size=32, decoding=None):
        return [self._read(crop) for crop in crops]

    @staticmethod
    def _read(crop):
        grey = crop.mean(axis=2)
        quarter = max(1, grey.shape[1] // 4)
        upright = grey[:, :quarter].mean() < grey[:, -quarter:].mean()
        number = int(np.argmin([abs(crop.shape[1] - length) for length in LENGTHS]))  # crops keep their scale
        return Recognition(f"w{number}", 0.95 if upright else 0.2)


def turned(image: np.ndarray, orientation: int, skew: float = 0.0) -> np.ndarray:
    """``image`` turned clockwise by ``orientation`` and then by ``skew`` degrees."""
    page = np.ascontiguousarray(np.rot90(image, -orientation // 90))
    return warp_upright(page, -skew)[0] if skew else page


CASES = [(0, 0.0), (90, 0.0), (180, 0.0), (270, 0.0), (0, 8.0), (0, -3.0), (90, 5.0), (180, -12.0), (270, 2.0)]


@pytest.mark.parametrize("orientation, skew", CASES)
def test_estimate_angle_finds_the_quarter_turn_and_the_skew(orientation, skew):
    image = turned(drawn_page(), orientation, skew)
    found = estimate_angle(image, BarDetector().detect([image])[0], BarReader())
    assert found.orientation == orientation and found.skew == pytest.approx(skew, abs=0.5)
    assert estimate_angle(image, BarDetector().detect([image])[0], BarReader(), orientation=False,
                          deskew=False) == PageAngle()


@pytest.mark.parametrize("orientation, skew", [(90, 0.0), (180, -12.0)])
def test_detect_upright_gives_regions_in_the_pixels_of_the_image_given(orientation, skew):
    image = turned(drawn_page(), orientation, skew)
    regions, found = detect_upright(image, BarDetector(), BarReader())
    direct = BarDetector().detect([image])[0]
    assert len(regions) == len(direct) == 6
    centres = np.array([r.polygon.mean(axis=0) for r in regions])
    for region in direct:  # the same bars, give or take the half pixel of OpenCV's contours
        assert np.linalg.norm(centres - region.polygon.mean(axis=0), axis=1).min() < 1.5


@pytest.fixture
def stand_in_models(monkeypatch):
    models = {"detect": BarDetector(), "recognize": BarReader()}
    monkeypatch.setattr(model_cache, "get_model", lambda key: models[key.task])


def frame_of(images: list[np.ndarray], extra: list[bytes] = ()) -> pd.DataFrame:
    return pd.DataFrame({"content": pd.Series([png(i) for i in images] + list(extra), dtype=BINARY_DTYPE)})


def test_turned_pages_read_upright_with_boxes_in_the_original_pixels(stand_in_models):
    upright = drawn_page()
    images = [turned(upright, o, s) for o, s in CASES]
    out = frame_of(images).ocr.detect(orientation=True, deskew=True).ocr.recognize(positions_col="positions")
    assert out["orientation"].tolist() == [o for o, _ in CASES]
    assert np.allclose(out["skew"].astype(float), [s for _, s in CASES], atol=0.5)
    assert out["text"].tolist() == [drawn_text()] * len(CASES) and out["ocr_error"].isna().all()
    reference = {w["text"]: w for w in out["positions"].iloc[0]}
    for image, (orientation, skew), words in zip(images, CASES, out["positions"]):
        height, width = image.shape[:2]
        _, matrix = warp_upright(upright, -orientation)          # upright pixels -> pixels of this image
        if skew:
            matrix = _then(matrix, warp_upright(turned(upright, orientation), -skew)[1])
        for word in words:
            x, y = reference[word["text"]]["x"] + reference[word["text"]]["width"] / 2, \
                reference[word["text"]]["y"] + reference[word["text"]]["height"] / 2
            expected = affine_points(np.array([[x, y]]), matrix)[0]
            centre = (word["x"] + word["width"] / 2, word["y"] + word["height"] / 2)
            assert np.allclose(centre, expected, atol=4), (orientation, skew, word["text"])
            assert 0 <= word["x"] <= word["x"] + word["width"] <= width
            assert 0 <= word["y"] <= word["y"] + word["height"] <= height


def _then(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The affine map ``second`` after ``first``."""
    return np.column_stack([second[:, :2] @ first[:, :2], second[:, :2] @ first[:, 2] + second[:, 2]])


def test_hocr_boxes_and_drawn_regions_lie_on_the_original_image(stand_in_models):
    image = turned(drawn_page(), 90)
    out = frame_of([image]).ocr.detect(orientation=True).ocr.recognize(output_format="hocr")
    boxes = [tuple(map(int, m)) for m in re.findall(r"ocrx_word[^>]*bbox (\d+) (\d+) (\d+) (\d+)", out["text"][0])]
    assert len(boxes) == 6 and all(x1 <= 400 and y1 <= 640 for _, _, x1, y1 in boxes)
    assert all(y1 - y0 > x1 - x0 for x0, y0, x1, y1 in boxes)      # the words stand up, as on the image
    drawn = decode_image(out.ocr.draw_regions()["image_with_regions"][0])
    assert drawn.shape == image.shape


def test_every_row_comes_out_and_bad_geometry_is_the_rows_error(stand_in_models):
    df = frame_of([turned(drawn_page(), 180)], extra=[b"not an image"])
    out = df.ocr.detect(orientation=True, deskew=True)
    assert list(out.columns) == ["content", "regions", "orientation", "skew", "ocr_error"]
    assert out["orientation"].tolist()[0] == 180 and pd.isna(out["orientation"][1]) and out["ocr_error"][1]
    assert str(out["orientation"].dtype) == "int32[pyarrow]" and str(out["skew"].dtype) == "double[pyarrow]"
    assert list(frame_of([drawn_page()]).ocr.detect().columns) == ["content", "regions", "ocr_error"]
    out["orientation"] = pd.Series([45, 0], dtype="int32[pyarrow]")
    read = out.ocr.recognize()
    assert "multiple of 90" in read["ocr_error"][0] and read["text"].isna().all()


def test_a_skew_below_the_estimates_error_is_read_as_the_page_lies(stand_in_models):
    from dask_ocr import defaults

    df = frame_of([drawn_page()]).ocr.detect()
    plain = df.ocr.recognize(positions_col="positions")
    for skew, same in [(0.0, True), (defaults.DESKEW_MIN_ANGLE - 0.5, True), (defaults.DESKEW_MIN_ANGLE + 1.0, False)]:
        tilted = df.assign(orientation=pd.Series([0], dtype="int32[pyarrow]"),
                           skew=pd.Series([skew], dtype="double[pyarrow]")).ocr.recognize(positions_col="positions")
        unchanged = tilted["text"].tolist() == plain["text"].tolist() and \
            tilted["positions"].iloc[0] == plain["positions"].iloc[0]
        assert unchanged is same, skew                  # from the threshold on, lines are grouped deskewed


def test_dask_frames_carry_the_geometry_columns(stand_in_models):
    import dask.dataframe as dd

    images = [turned(drawn_page(), o, s) for o, s in CASES[:4]]
    ddf = dd.from_pandas(frame_of(images), npartitions=2).ocr.detect(orientation=True, deskew=True).ocr.recognize()
    assert {"orientation", "skew"} <= set(ddf.columns)
    out = ddf.compute(scheduler="sync")
    assert out["orientation"].tolist() == [0, 90, 180, 270] and out["text"].tolist() == [drawn_text()] * 4


# ------------------------------------------------------------------------------- real pages


def page_f1(record: dict, text: str) -> float:
    return bag_of_words([record["text"]], [text or ""], ignore_case=True).f1


REAL = [(90, 0.0), (180, 0.0), (270, 0.0), (0, 8.0), (180, -3.0)]


@pytest.mark.data
@pytest.mark.parametrize("dataset", ["funsd", "sroie"])
def test_real_pages_turned_and_skewed(dataset):
    record = load_manifest(dataset, 1)[0]
    image = decode_image(record["content"])
    out = frame_of([image] + [turned(image, o, s) for o, s in REAL]).ocr.detect(orientation=True, deskew=True)
    out = out.ocr.recognize()
    own_skew = out["skew"][0]                                   # the page's own tilt on the scanner
    assert out["orientation"].tolist() == [0] + [o for o, _ in REAL]
    assert np.allclose(out["skew"][1:].astype(float) - own_skew, [s for _, s in REAL], atol=1.0)
    upright = page_f1(record, out["text"][0])
    assert upright > 0.75
    for (orientation, skew), text in zip(REAL, out["text"][1:]):
        assert page_f1(record, text) >= upright - 0.04, (orientation, skew)


@pytest.mark.data
def test_document_pages_are_turned_upright_too(tmp_path):
    from dask_ocr.samples import images_to_pdf

    record = load_manifest("funsd", 1)[0]
    image = decode_image(record["content"])
    (tmp_path / "turned.pdf").write_bytes(images_to_pdf([png(turned(image, 180)), png(turned(image, 90, -5.0))]))
    pages = dask_ocr.read_documents(str(tmp_path / "turned.pdf")).compute()
    out = pages.ocr.detect(orientation=True, deskew=True).ocr.recognize()
    assert out["orientation"].tolist() == [180, 90]
    assert out["skew"][1] - out["skew"][0] == pytest.approx(-5.0, abs=1.0)
    assert all(page_f1(record, text) > 0.75 for text in out["text"])
