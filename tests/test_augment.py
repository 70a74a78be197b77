"""CopyPaste produces valid, non-overlapping, labelled polygons on real ICDAR2015 training images."""

import json
import os

import cv2
import numpy as np

from quantize.augment import _bbox, _overlaps, copy_paste


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
