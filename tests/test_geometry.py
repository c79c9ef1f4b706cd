"""dask_ocr.geometry: parsing regions, clipping, cropping with a border, quads and joined crops."""

from __future__ import annotations

import numpy as np
import pytest

from dask_ocr.errors import RegionError
from dask_ocr.geometry import (
    Region,
    clip_region,
    crop_quad,
    crop_region,
    join_crops,
    order_quad,
    parse_region,
    region_record,
    sub_quad,
)

QUAD = np.array([[100, 10], [300, 10], [300, 30], [100, 30]], dtype=float)


def test_parse_region_accepts_every_shape():
    from_box = parse_region({"box": [1, 2, 11, 7]})
    assert from_box.box == (1, 2, 11, 7) and from_box.score == 1.0
    assert parse_region([1, 2, 11, 7]).box == (1, 2, 11, 7)
    poly = parse_region({"polygon": np.array([np.array([0, 0]), np.array([4, 0]), np.array([4, 3]), np.array([0, 3])]),
                         "score": 0.5})
    assert poly.box == (0, 0, 4, 3) and poly.score == 0.5
    assert parse_region([[0, 0], [5, 1], [5, 4], [0, 3]]).box == (0, 0, 5, 4)


@pytest.mark.parametrize("bad", [{}, {"box": [1, 2, 3]}, {"box": [5, 5, 1, 1]}, {"box": [0, 0, float("nan"), 4]},
                                 {"polygon": [[0, 0], [1, 1]]}, "abc"])
def test_parse_region_rejects_malformed(bad):
    with pytest.raises(RegionError):
        parse_region(bad)


def test_clip_region():
    inside = parse_region([2, 2, 8, 8])
    assert clip_region(inside, 10, 10) is inside
    assert clip_region(parse_region([-5, -5, 5, 5]), 10, 10).box == (0, 0, 5, 5)
    assert clip_region(parse_region([20, 20, 30, 30]), 10, 10) is None
    assert clip_region(parse_region([3, 3, 3, 9]), 10, 10) is None


def test_crop_axis_aligned_with_border_repeats_edges_past_the_image():
    image = np.arange(20 * 30 * 3, dtype=np.uint8).reshape(20, 30, 3)
    crop = crop_region(image, parse_region([5, 4, 15, 10]))
    assert np.array_equal(crop, image[4:10, 5:15])
    assert np.array_equal(crop_region(image, parse_region([5, 4, 15, 10]), border_width=2), image[2:12, 3:17])
    grown = crop_region(image, parse_region([1, 1, 15, 10]), border_width=3)
    assert grown.shape == (15, 20, 3)
    assert np.array_equal(grown[2:, 2:], image[0:13, 0:18])          # inside: the image itself
    assert np.array_equal(grown[0, 2:], image[0, 0:18])              # above: the top row repeated
    assert np.array_equal(grown[2:, 0], image[0:13, 0])              # left: the first column repeated


def test_crop_rotated_quad_is_rectified():
    image = np.full((100, 100, 3), 255, np.uint8)
    image[40:60, 20:80] = 0  # a dark bar; crop a quad rotated around it
    angle = np.deg2rad(10)
    centre, half = np.array([50.0, 50.0]), np.array([[-30, -10], [30, -10], [30, 10], [-30, 10]], float)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    crop = crop_region(image, Region(half @ rotation.T + centre))
    assert abs(crop.shape[1] - 60) <= 1 and abs(crop.shape[0] - 20) <= 1


def test_order_quad_and_record():
    quad = order_quad(np.array([[10, 10], [0, 0], [10, 0], [0, 10]]))
    assert quad.tolist() == [[0, 0], [10, 0], [10, 10], [0, 10]]
    record = region_record(Region(np.array([[0.4, 0.6], [9.2, 0.6], [9.2, 5.1], [0.4, 5.1]]), 0.9), 9, 9)
    assert record["box"] == [0, 0, 9, 6] and record["score"] == pytest.approx(0.9)


def test_sub_quad_takes_a_slice_of_the_width():
    assert sub_quad(QUAD, 0.25, 0.5).tolist() == [[150, 10], [200, 10], [200, 30], [150, 30]]


def test_join_crops_places_segments_at_one_height():
    small = np.zeros((10, 20, 3), np.uint8)
    tall = np.full((20, 20, 3), 255, np.uint8)
    joined, segments = join_crops([small, tall], gap=1.0)
    assert joined.shape == (20, 40 + 20 + 20, 3)               # small doubled to 40 wide, gap 20
    assert segments == [(0.0, 0.5), (0.75, 1.0)]
    assert (joined[:, 40:60] == 0).all()                        # the gap takes the left crop's background


def test_crop_quad_grows_by_the_border():
    region = parse_region([10, 20, 30, 40])
    assert crop_quad(region).tolist() == [[10, 20], [30, 20], [30, 40], [10, 40]]
    assert crop_quad(region, 2).tolist() == [[8, 18], [32, 18], [32, 42], [8, 42]]
