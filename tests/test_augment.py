"""CopyPaste produces valid, non-overlapping, labelled polygons on real ICDAR2015 training images."""

import json
import os

import cv2
import numpy as np

from edge_ocr.host.quantize.train.augment import _bbox, _overlaps, copy_paste


def _read(shared, index):
    lines = open(os.path.join(shared, "data", "icdar2015", "train_label.txt"), encoding="utf-8").read().splitlines()
    path, labels = lines[index].split("\t", 1)
    return cv2.imread(os.path.join(shared, "data", "icdar2015", path)), json.loads(labels)


def test_copy_paste_adds_non_overlapping_instances(shared):
    image, boxes = _read(shared, 0)
    donor, donor_boxes = _read(shared, 5)
    rng = np.random.default_rng(0)
    out, labels = copy_paste(image, boxes, donor, donor_boxes, rng, max_instances=3)
    pasted = labels[len(boxes):]
    assert labels[: len(boxes)] == boxes and 1 <= len(pasted) <= 3
    donor_texts = {b["transcription"] for b in donor_boxes}
    h, w = out.shape[:2]
    for label in pasted:
        assert label["transcription"] in donor_texts and label["transcription"] not in ("###", "*")
        pts = np.array(label["points"])
        assert len(pts) >= 4 and (pts[:, 0] >= 0).all() and (pts[:, 0] <= w).all() and (pts[:, 1] <= h).all()
        assert cv2.contourArea(pts.astype(np.float32)) > 4
    boxes_all = [_bbox(b["points"]) for b in labels]
    for i in range(len(boxes), len(labels)):
        for j in range(len(labels)):
            if i != j:
                assert not _overlaps(boxes_all[i], boxes_all[j], margin=0)
    assert not np.array_equal(out, image) and np.array_equal(cv2.imread(os.path.join(
        shared, "data", "icdar2015", "ch4_training_images", "img_1.jpg")), image)  # the input is not modified


def test_rec_augment_keeps_the_crop_a_readable_image():
    import numpy as np

    from edge_ocr.host.quantize.train.augment import rec_augment

    rng = np.random.default_rng(0)
    crop = np.full((32, 120, 3), 255, np.uint8)
    crop[8:24, 10:110] = 0  # a dark "word"
    changed = 0
    for _ in range(50):
        out = rec_augment(crop, rng, p=0.8)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
        assert 0.84 * 32 <= out.shape[0] <= 32 and 0.92 * 120 <= out.shape[1] <= 120
        dark = out.mean(axis=2) < 128  # the word is still there, not cut away
        assert dark[:, : out.shape[1] // 2].any() and dark[:, out.shape[1] // 2 :].any()
        changed += not np.array_equal(out, crop)
    assert changed > 40
    assert rec_augment(crop[:2, :2], rng, p=1.0).shape == (2, 2, 3)  # too small to touch
