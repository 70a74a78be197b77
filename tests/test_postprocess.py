"""Detection post-processing, box order, cropping and CTC decoding on hand-built inputs."""

import numpy as np
import pytest

from edge_ocr.config import DetParams
from edge_ocr.det import boxes_from_prob_map, clip_and_filter, normalize_to_chw, resize_for_det, unclip
from edge_ocr.geometry import crop_text_line, reading_order
from edge_ocr.rec import ctc_greedy_decode


def test_resize_rules():
    p = DetParams()
    out, rh, rw = resize_for_det(np.zeros((720, 1280, 3), np.uint8), p)
    assert out.shape[:2] == (544, 960) and rh == pytest.approx(544 / 720) and rw == 960 / 1280
    small, _, _ = resize_for_det(np.zeros((100, 50, 3), np.uint8), p)
    assert small.shape[:2] == (96, 64)  # not upscaled, rounded to multiples of 32
    tiny, _, _ = resize_for_det(np.zeros((1, 1, 3), np.uint8), p)
    assert tiny.shape[:2] == (32, 32)


def test_normalization_equals_paddleocr_arithmetic():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    mean, std, scale = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 1 / 255
    expected = ((image.astype("float32") * np.float32(scale) - np.array(mean, np.float32)) / np.array(std, np.float32))
    assert np.array_equal(normalize_to_chw(image, mean, std, scale), expected.transpose(2, 0, 1))


def test_one_text_region_gives_one_unclipped_box():
    prob = np.zeros((100, 200), np.float32)
    prob[40:50, 30:130] = 0.9  # a 100 x 10 text kernel
    boxes, scores = boxes_from_prob_map(prob, DetParams(), dest_width=400, dest_height=200)
    assert len(boxes) == 1 and scores[0] == pytest.approx(0.9, abs=0.01)
    xs, ys = boxes[0][:, 0], boxes[0][:, 1]
    # The contour spans pixel centres 30..129 x 40..49 (99 x 9); unclip grows it by
    # area * 1.5 / perimeter = 891 * 1.5 / 216 = 6.19 px, then everything is scaled x2 to the destination.
    d = 99 * 9 * 1.5 / 216
    assert xs.min() == pytest.approx(2 * (30 - d), abs=1.5) and xs.max() == pytest.approx(2 * (129 + d), abs=1.5)
    assert ys.min() == pytest.approx(2 * (40 - d), abs=1.5) and ys.max() == pytest.approx(2 * (49 + d), abs=1.5)


def test_low_score_and_tiny_regions_are_dropped():
    prob = np.zeros((100, 200), np.float32)
    prob[10:20, 10:100] = 0.5  # above thresh 0.3, below box_thresh 0.6
    prob[60:62, 60:62] = 0.99  # 2 px: below min_size
    assert len(boxes_from_prob_map(prob, DetParams(), 200, 100)[0]) == 0


def test_unclip_distance():
    square = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], np.float32)
    grown = np.array(unclip(square, 1.5)[0])
    assert grown[:, 0].min() == pytest.approx(-37.5, abs=1) and grown[:, 0].max() == pytest.approx(137.5, abs=1)


def test_clip_and_filter():
    boxes = np.array([[[-5, -5], [50, -5], [50, 20], [-5, 20]], [[10, 10], [12, 10], [12, 40], [10, 40]]], np.float32)
    kept = clip_and_filter(boxes, 30, 40)
    assert len(kept) == 1
    assert kept[0].tolist() == [[0, 0], [39, 0], [39, 20], [0, 20]]


def test_reading_order_groups_lines():
    def box(x, y):
        return np.array([[x, y], [x + 10, y], [x + 10, y + 5], [x, y + 5]], np.float32)

    boxes = [box(50, 100), box(10, 104), box(30, 10), box(0, 12)]
    assert reading_order(boxes) == [3, 2, 1, 0]


def test_crop_is_upright_and_tall_crops_rotate():
    image = np.zeros((100, 100, 3), np.uint8)
    image[20:30, 10:60] = 255
    wide = crop_text_line(image, np.array([[10, 20], [60, 20], [60, 30], [10, 30]], np.float32))
    assert wide.shape[:2] == (10, 50) and wide.mean() > 250
    tall = crop_text_line(image, np.array([[10, 10], [20, 10], [20, 60], [10, 60]], np.float32))
    assert tall.shape[:2] == (10, 50)


def test_ctc_greedy_decode():
    charset = ["blank", "a", "b", " "]
    steps = [1, 1, 0, 1, 2, 2, 0, 3, 0]  # a a _ a b b _ space _  ->  "aab "
    probs = np.full((1, len(steps), 4), 0.1, np.float32)
    for t, c in enumerate(steps):
        probs[0, t, c] = 0.7
    probs[0, 0, 1] = 0.9
    (text, score), = ctc_greedy_decode(probs, charset)
    assert text == "aab "
    assert score == pytest.approx(np.mean([0.9, 0.7, 0.7, 0.7]))
    (empty, zero), = ctc_greedy_decode(np.eye(4, dtype=np.float32)[[0, 0, 0]][None], charset)
    assert empty == "" and zero == 0.0
