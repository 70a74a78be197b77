"""Dygraph networks with the official weights: import, parity with the inference model, export."""

import os

import numpy as np
import pytest

from edge_ocr.engines import create_engine
from edge_ocr.errors import EdgeOCRError


@pytest.fixture(scope="module")
def cls_batch(shared):
    from quantize.calibration import cls_calibration

    return cls_calibration(os.path.join(shared, "data", "ic15_rec", "rec_gt_train.txt"), limit=12)[0]


def test_cls_network_reproduces_the_official_model(models_dir, cls_batch, tmp_path):
    import paddle

    from quantize.nets.cls_mobilenetv3 import ClsMobileNetV3
    from quantize.nets.export import save_inference_model
    from quantize.nets.weights import import_weights

    official = os.path.join(models_dir, "ch_ppocr_mobile_v2.0_cls_infer")
    net = ClsMobileNetV3()
    mapping = import_weights(net, official)
    assert len(mapping) == len(net.state_dict())
    net.eval()
    reference = create_engine(official, "paddle").run(cls_batch)
    ours = net(paddle.to_tensor(cls_batch)).numpy()
    assert np.abs(reference - ours).max() < 1e-4
    exported = save_inference_model(net, str(tmp_path / "cls"), [None, 3, 48, 192])
    again = create_engine(exported, "paddle").run(cls_batch)
    assert np.abs(reference - again).max() < 1e-4


def test_weight_import_names_mismatches(models_dir):
    from quantize.nets.cls_mobilenetv3 import ClsMobileNetV3
    from quantize.nets.weights import import_weights

    with pytest.raises(EdgeOCRError, match="does not match program tensor|left without"):
        import_weights(ClsMobileNetV3(num_classes=3), os.path.join(models_dir, "ch_ppocr_mobile_v2.0_cls_infer"))
    with pytest.raises(EdgeOCRError, match="does not match program tensor"):
        import_weights(ClsMobileNetV3(), os.path.join(models_dir, "ch_PP-OCRv2_rec_infer"))
