"""Property tests (Hypothesis) for the parts hostile input reaches: decoding, DB post-processing, CTC decoding,
text-line crops and the detection metric.

The suite runs the "suite" profile (300 examples per property, a few seconds each); ``benchmarks/property_soak.py``
runs the same properties under the "soak" profile (EDGE_OCR_HYPOTHESIS=soak, thousands of examples) and keeps the
counts in ``benchmarks/results/property-soak.json``.
"""

from __future__ import annotations

import os

import cv2
import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge_ocr.config import DetParams
from edge_ocr.det import boxes_from_prob_map, clip_and_filter
from edge_ocr.errors import ImageError
from edge_ocr.evaluation.labels import GtBox
from edge_ocr.evaluation.metrics import Polygon, is_simple_polygon, score_detection
from edge_ocr.geometry import crop_text_line
from edge_ocr.images import decode_image
from edge_ocr.rec import ctc_greedy_decode

_COMMON = {"deadline": None, "database": None, "suppress_health_check": [HealthCheck.too_slow]}
SUITE_EXAMPLES, SOAK_EXAMPLES = 300, int(os.environ.get("EDGE_OCR_HYPOTHESIS_EXAMPLES", "5000"))
settings.register_profile("suite", max_examples=SUITE_EXAMPLES, **_COMMON)
settings.register_profile("soak", max_examples=SOAK_EXAMPLES, **_COMMON)
settings.load_profile(os.environ.get("EDGE_OCR_HYPOTHESIS", "suite"))

FORMATS = (".png", ".jpg", ".bmp", ".tif", ".webp", ".ppm", ".jp2")


# ------------------------------------------------------------------------------------------ decode


@st.composite
def encoded_images(draw):
    """A small image of any layout OpenCV writes (gray / BGR / BGRA, 8 or 16 bit), encoded in any format."""
    ext = draw(st.sampled_from(FORMATS))
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    channels = draw(st.sampled_from([1, 3, 4] if ext in (".png", ".tif", ".webp") else [1, 3]))
    dtype = np.uint16 if ext in (".png", ".tif") and draw(st.booleans()) else np.uint8
    shape = (height, width) if channels == 1 else (height, width, channels)
    image = draw(hnp.arrays(dtype, shape, elements=st.integers(0, np.iinfo(dtype).max)))
    ok, data = cv2.imencode(ext, image)
    assume(ok)
    return ext, image.shape, data.tobytes()


@given(encoded_images())
def test_every_small_image_decodes_to_its_size_as_bgr8(case):
    ext, shape, data = case
    out = decode_image(data, "x" + ext).image
    assert out.dtype == np.uint8 and out.shape == shape[:2] + (3,)


@given(encoded_images(), st.data())
def test_damaged_bytes_decode_or_give_an_image_error(case, data):
    """Truncated, bit-flipped or spliced files: a BGR image or an ImageError, never another exception."""
    _, _, encoded = case
    blob = bytearray(encoded)
    for _ in range(data.draw(st.integers(1, 8))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    blob = blob[:cut] + data.draw(st.binary(max_size=32))
    try:
        out = decode_image(bytes(blob), "damaged").image
    except ImageError:
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


@given(st.binary(max_size=256), st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"BM",
                                                  b"RIFF\x00\x00\x00\x00WEBP", b"P6\n", b"P7\n", b"PF\n",
                                                  b"#?RADIANCE\n"]))
def test_arbitrary_bytes_after_a_magic_number(payload, magic):
    try:
        decode_image(magic + payload, "blob")
    except ImageError:
        pass


# ------------------------------------------------------------------------------------------ DB post-processing


def _prob_maps():
    values = st.one_of(st.floats(0, 1, width=32), st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0, 0.5]))
    return hnp.arrays(np.float32, st.tuples(st.integers(1, 48), st.integers(1, 48)), elements=values)


@given(_prob_maps(), st.integers(1, 2000), st.integers(1, 2000), st.floats(0.05, 4.0), st.booleans())
def test_db_boxes_are_finite_inside_the_image_and_above_the_threshold(prob, width, height, unclip, slow):
    params = DetParams(unclip_ratio=unclip, score_mode="slow" if slow else "fast")
    boxes, scores = boxes_from_prob_map(prob, params, width, height)
    assert boxes.dtype == np.int32 and boxes.shape == (len(scores), 4, 2)
    assert all(np.isfinite(s) and s >= params.box_thresh for s in scores)
    assert (boxes[:, :, 0] >= 0).all() and (boxes[:, :, 0] <= width).all()
    assert (boxes[:, :, 1] >= 0).all() and (boxes[:, :, 1] <= height).all()
    kept = clip_and_filter(boxes.astype(np.float32), height, width)
    assert np.isfinite(kept).all() and (kept[:, :, 0] <= width - 1).all() and (kept[:, :, 1] <= height - 1).all()


# ------------------------------------------------------------------------------------------ CTC decoding

CHARSET = ["blank", "a", "b", "c", " "]


@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 30), st.just(len(CHARSET))),
                  elements=st.one_of(st.floats(0, 1, width=32), st.sampled_from([np.nan, np.inf]))))
def test_ctc_decode_gives_charset_text_and_a_probability(probs):
    decoded = ctc_greedy_decode(probs, CHARSET)
    assert len(decoded) == len(probs)
    for row, (text, score) in zip(probs, decoded):
        assert set(text) <= set("abc ") and 0.0 <= score <= 1.0
        if not np.isfinite(row).all():
            assert (text, score) == ("", 0.0)
        assert len(text) <= len(row)


@given(st.lists(st.integers(0, len(CHARSET) - 1), min_size=1, max_size=40))
def test_ctc_decode_of_a_one_hot_path_merges_repeats_and_drops_blanks(path):
    probs = np.eye(len(CHARSET), dtype=np.float32)[path][None]
    expected = "".join(CHARSET[c] for i, c in enumerate(path) if c != 0 and (i == 0 or path[i - 1] != c))
    assert ctc_greedy_decode(probs, CHARSET)[0][0] == expected


# ------------------------------------------------------------------------------------------ crops

_IMAGE = np.random.default_rng(0).integers(0, 255, (60, 90, 3), dtype=np.uint8)


@given(hnp.arrays(np.float32, (4, 2), elements=st.floats(-200, 300, width=32)), st.floats(0.5, 3.0))
def test_any_quadrilateral_crops_to_a_bgr_image(box, rotate_ratio):
    crop = crop_text_line(_IMAGE, box, rotate_ratio)
    assert crop.dtype == np.uint8 and crop.ndim == 3 and crop.shape[2] == 3 and min(crop.shape[:2]) >= 1


# ------------------------------------------------------------------------------------------ metric

_points = st.lists(st.tuples(st.integers(-20, 60), st.integers(-20, 60)), min_size=3, max_size=8)


@given(_points, _points)
def test_iou_is_a_fraction_for_any_polygons(a, b):
    """Self-intersecting, traced twice, flat or pinched: IoU stays in [0, 1]. Intersection vertices are rounded
    to the 1/16-pixel grid, so the two argument orders agree closely, not bit for bit, and exactly for a simple
    polygon with itself."""
    first, second = Polygon(a), Polygon(b)
    iou = first.iou(second)
    assert 0.0 <= iou <= 1.0
    if is_simple_polygon(a) and is_simple_polygon(b) and min(first.area, second.area) >= 100:
        assert abs(iou - second.iou(first)) <= 0.01
    if is_simple_polygon(a):
        assert first.iou(Polygon(a)) == 1.0


@given(_points)
def test_simple_polygons_match_themselves(points):
    if is_simple_polygon(points):
        counts = score_detection([GtBox(points, "A")], [points])
        assert (counts.matched, counts.gt_care, counts.det_care) == (1, 1, 1)


@given(st.lists(st.tuples(_points, st.sampled_from(["A", "###"])), max_size=5), st.lists(_points, max_size=5))
def test_detection_counts_are_consistent(gt, predictions):
    counts = score_detection([GtBox(p, t) for p, t in gt], predictions)
    assert 0 <= counts.matched <= min(counts.gt_care, counts.det_care)
    assert counts.det_care <= len(predictions) and counts.gt_care <= sum(t == "A" for _, t in gt)
    assert 0.0 <= counts.hmean <= 1.0


def test_profile_is_loaded():
    """The suite's example count is the profile's (the soak script relies on the same switch)."""
    soak = os.environ.get("EDGE_OCR_HYPOTHESIS") == "soak"
    assert settings.default.max_examples == (SOAK_EXAMPLES if soak else SUITE_EXAMPLES)


