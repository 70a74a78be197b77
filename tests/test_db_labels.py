"""DB training targets on hand-built polygons."""

import numpy as np
import pytest

from edge_ocr.host.quantize.train.db_labels import make_db_labels


def test_rectangle_targets():
    rect = np.array([[20, 20], [120, 20], [120, 60], [20, 60]], np.float32)  # 100 x 40
    labels = make_db_labels(100, 160, [rect], [False])
    d = 4000 * (1 - 0.16) / 280  # D = A (1 - r^2) / L = 12.0
    ys, xs = np.nonzero(labels["shrink_map"])
    assert xs.min() == pytest.approx(20 + d, abs=1.5) and xs.max() == pytest.approx(120 - d, abs=1.5)
    assert ys.min() == pytest.approx(20 + d, abs=1.5) and ys.max() == pytest.approx(60 - d, abs=1.5)
    assert labels["shrink_mask"].min() == 1.0
    border = labels["threshold_map"]
    assert border[20, 70] == pytest.approx(0.7, abs=0.01)  # on the edge: 1 - 0 -> thresh_max
    assert border[40, 70] == pytest.approx(0.3, abs=0.01)  # 20 px inside (> D): thresh_min
    assert border[20 - 6, 70] == pytest.approx(0.3 + 0.4 * (1 - 6 / d), abs=0.02)  # half-way outside
    assert labels["threshold_mask"][20 - 6, 70] == 1 and labels["threshold_mask"][0, 0] == 0


def test_dont_care_and_tiny_polygons_are_masked_out():
    big = np.array([[10, 10], [90, 10], [90, 50], [10, 50]], np.float32)
    tiny = np.array([[100, 10], [104, 10], [104, 14], [100, 14]], np.float32)
    labels = make_db_labels(80, 160, [big, tiny], [True, False])
    assert labels["shrink_map"].sum() == 0
    assert labels["shrink_mask"][30, 50] == 0 and labels["shrink_mask"][12, 102] == 0
    assert labels["shrink_mask"][70, 150] == 1


@pytest.mark.train
def test_db_loss_on_real_labels_decreases_with_training(models_dir, shared):
    """Targets from a real ICDAR2015 training image drive the DB loss of the detector down in a few steps."""
    import json
    import os

    import cv2
    import paddle

    from edge_ocr.config import DetParams
    from edge_ocr.det import normalize_to_chw
    from edge_ocr.host.quantize.nets.registry import load_official
    from edge_ocr.host.quantize.train.loop import set_train
    from edge_ocr.host.quantize.train.losses import db_loss

    root = os.path.join(shared, "data", "icdar2015")
    path, boxes = open(os.path.join(root, "train_label.txt"), encoding="utf-8").readline().rstrip("\n").split("\t", 1)
    image = cv2.imread(os.path.join(root, path))
    small = cv2.resize(image, (960, 544))
    polygons = [np.array(b["points"], np.float32) * [960 / image.shape[1], 544 / image.shape[0]]
                for b in json.loads(boxes)]
    ignore = [b["transcription"] in ("###", "*") for b in json.loads(boxes)]
    labels = {k: paddle.to_tensor(v[None]) for k, v in make_db_labels(544, 960, polygons, ignore).items()}
    assert float(labels["shrink_map"].sum()) > 100  # real text to learn from
    p = DetParams()
    x = paddle.to_tensor(normalize_to_chw(small, p.mean, p.std, p.scale)[None])
    net = load_official("det", models_dir)
    set_train(net, freeze_bn=True)
    optimizer = paddle.optimizer.Adam(1e-3, parameters=net.parameters())
    history = []
    for _ in range(4):
        loss = db_loss(net(x), labels)["loss"]
        loss.backward()
        optimizer.step()
        optimizer.clear_grad()
        history.append(float(loss))
    assert history[-1] < history[0]
