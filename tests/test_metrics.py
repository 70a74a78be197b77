"""Metrics on hand-built cases whose answers are known."""

import numpy as np
import pytest

from edge_ocr.evaluation import (
    DetCounts,
    edit_distance,
    normalize_text,
    read_det_labels,
    read_rec_labels,
    score_detection,
    score_end_to_end,
    score_recognition,
)
from edge_ocr.evaluation.labels import GtBox, LabelError
from edge_ocr.evaluation.metrics import Polygon, is_simple_polygon


def rect(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def gt(points, text="WORD"):
    return GtBox(points, text)


def test_perfect_match():
    c = score_detection([gt(rect(0, 0, 100, 20)), gt(rect(0, 50, 80, 70))], [rect(0, 50, 80, 70), rect(0, 0, 100, 20)])
    assert (c.matched, c.gt_care, c.det_care) == (2, 2, 2) and c.hmean == 1.0


def test_miss_and_false_positive():
    boxes = [gt(rect(0, 0, 100, 20)), gt(rect(0, 50, 80, 70))]
    c = score_detection(boxes, [rect(0, 0, 100, 20), rect(300, 300, 340, 320)])
    assert (c.matched, c.gt_care, c.det_care) == (1, 2, 2)
    assert c.precision == 0.5 and c.recall == 0.5 and c.hmean == 0.5


def test_iou_threshold_is_strict():
    # IoU exactly 0.5 does not match (the protocol uses > 0.5).
    assert score_detection([gt(rect(0, 0, 100, 10))], [rect(0, 0, 50, 10)]).matched == 0  # IoU 0.5
    assert score_detection([gt(rect(0, 0, 100, 10))], [rect(0, 0, 51, 10)]).matched == 1


def test_prediction_inside_dont_care_is_ignored():
    boxes = [gt(rect(0, 0, 100, 20), "###"), gt(rect(0, 50, 80, 70))]
    c = score_detection(boxes, [rect(10, 2, 60, 18), rect(0, 50, 80, 70)])
    assert (c.matched, c.gt_care, c.det_care) == (1, 1, 1)  # the first prediction counts for nothing
    star = score_detection([gt(rect(0, 0, 100, 20), "*")], [rect(0, 0, 100, 20)])
    assert (star.gt_care, star.det_care) == (0, 0)


def test_one_prediction_covering_two_boxes():
    boxes = [gt(rect(0, 0, 50, 20)), gt(rect(55, 0, 105, 20))]
    c = score_detection(boxes, [rect(0, 0, 105, 20)])
    assert (c.matched, c.gt_care, c.det_care) == (0, 2, 1)  # IoU < 0.5 with each: one-to-one, no match


def test_rotated_quadrilaterals():
    diamond = [(50, 0), (100, 50), (50, 100), (0, 50)]
    assert Polygon(diamond).area == pytest.approx(5000)
    shifted = [(x + 10, y) for x, y in diamond]
    # Two rotated squares offset by 10 px: intersection is a 10-px-narrower diamond region.
    inter = Polygon(diamond).intersection(Polygon(shifted))
    assert inter == pytest.approx(5000 - 50 * 10 * 2 + 25, rel=0.02)
    assert score_detection([gt(diamond)], [shifted]).matched == 1
    assert score_detection([gt(diamond)], [[(x + 60, y) for x, y in diamond]]).matched == 0


def test_empty_images():
    assert score_detection([], []) == DetCounts(0, 0, 0)
    assert score_detection([], [rect(0, 0, 10, 10)]) == DetCounts(0, 0, 1)
    assert score_detection([gt(rect(0, 0, 10, 10))], []) == DetCounts(0, 1, 0)
    assert DetCounts().hmean == 0.0


def test_degenerate_prediction_counts_but_matches_nothing():
    line = [(0, 0), (50, 0), (100, 0), (20, 0)]  # zero area
    assert score_detection([gt(rect(0, 0, 100, 20))], [line]) == DetCounts(0, 1, 1)


def test_self_intersecting_labels_are_not_scored():
    bowtie = [(0, 0), (10, 10), (10, 0), (0, 10)]
    assert not is_simple_polygon(bowtie)
    assert score_detection([gt(bowtie)], [rect(0, 0, 10, 10)]) == DetCounts(0, 0, 1)


def test_end_to_end_needs_box_and_text():
    boxes = [gt(rect(0, 0, 100, 20), "Hello"), gt(rect(0, 50, 80, 70), "World!"), gt(rect(200, 0, 250, 20), "###")]
    preds = [rect(0, 0, 100, 20), rect(0, 50, 80, 70), rect(200, 0, 250, 20), rect(400, 400, 450, 420)]
    counts = score_end_to_end(boxes, preds, ["Hello", "world", "ignored", "extra"])
    assert (counts.exact.matched, counts.exact.gt_care, counts.exact.det_care) == (1, 2, 3)
    assert counts.normalized.matched == 2  # "world" == "World!" after normalisation
    report = counts.to_dict()
    assert report["hmean"] == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert report["hmean_normalized"] == pytest.approx(2 * (2 / 3) * 1.0 / (2 / 3 + 1.0))


def test_recognition_metrics():
    assert normalize_text("Hello, World-2!") == "helloworld2"
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("", "abc") == 3
    counts = score_recognition([("HELLO", "HELLO"), ("hello", "HELLO"), ("HELL", "HELLO"), ("", "")]).to_dict()
    assert counts["accuracy"] == 0.5 and counts["accuracy_normalized"] == 0.75
    assert counts["norm_edit_distance"] == pytest.approx(1 - (0 + 1.0 + 0.2 + 0) / 4)


def test_label_readers_and_errors(tmp_path):
    det = tmp_path / "det.txt"
    det.write_text('a.jpg\t[{"transcription": "X", "points": [[0,0],[1,0],[1,1],[0,1]]}]\n\n'
                   'b.jpg\t[]\n', encoding="utf-8")
    samples = read_det_labels(str(det))
    assert [s.image for s in samples] == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    assert samples[0].boxes[0].text == "X" and samples[1].boxes == []
    bad = tmp_path / "bad.txt"
    bad.write_text('a.jpg\t[]\nb.jpg\t[{"transcription": "X", "points": [[0,0],[1,0]]}]\n')
    with pytest.raises(LabelError, match=r"bad.txt:2: box 0 has 2 points"):
        read_det_labels(str(bad))
    bad.write_text('a.jpg\t[{"transcription": "X"\n')
    with pytest.raises(LabelError, match=r":1: invalid JSON"):
        read_det_labels(str(bad))
    rec = tmp_path / "rec.txt"
    rec.write_text("w1.png\tNew York\nw2.png no tab\n")
    with pytest.raises(LabelError, match=r"rec.txt:2: expected"):
        read_rec_labels(str(rec))
    rec.write_text("w1.png\tNew York\n")
    assert read_rec_labels(str(rec))[0].text == "New York"


def test_scoring_the_icdar2015_test_set(shared):
    """Jittered ground truth scored against itself: every care box is found (timing is in the eval report)."""
    import os

    samples = read_det_labels(os.path.join(shared, "data", "icdar2015", "test_label.txt"))
    rng = np.random.default_rng(0)
    predictions = [[[(x + rng.integers(-3, 4), y + rng.integers(-3, 4)) for x, y in box.points] for box in s.boxes]
                   for s in samples]
    total = DetCounts()
    for sample, preds in zip(samples, predictions):
        total += score_detection(sample.boxes, preds)
        score_end_to_end(sample.boxes, preds, [b.text for b in sample.boxes])
    assert len(samples) == 500 and total.gt_care == 2077
    assert total.recall > 0.9
