"""Per-layer quantization sensitivity: quantize one layer at a time (or all but one) and measure the damage.

For each quantizable layer, PTQ is run with every other layer skipped ("only" mode) or with that layer skipped
("all-but" mode); the result runs through Paddle Inference, which executes the fake-quant ops (simulated int8), on a
dev split carved from the train labels (never the test set). The damage is the output drift against FP32 and the
task metric (det Hmean or rec accuracy). The ranked report feeds ``compress --sensitivity ... --keep-fp32 K``.
"""

from __future__ import annotations

import logging
import os
import tempfile

import numpy as np
from tqdm import tqdm

from edge_ocr.config import DetParams, RecParams
from edge_ocr.det import TextDetector, preprocess_det
from edge_ocr.engines import create_engine
from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation import DetCounts, read_det_labels, read_rec_labels, score_detection
from edge_ocr.images import load_image
from edge_ocr.rec import TextRecognizer

from .program import DEFAULT_OP_TYPES, quantizable_layers
from .ptq import quantize_ptq

log = logging.getLogger(__name__)


class _DetTask:
    def __init__(self, label_file: str, dev: int, calib: int) -> None:
        samples = read_det_labels(label_file)
        if len(samples) < dev + 1:
            raise EdgeOCRError(f"{label_file} has too few samples for a dev split of {dev}")
        self.dev = [(load_image(s.image).image, s.boxes) for s in samples[-dev:]]
        self.calibration = [preprocess_det(load_image(s.image).image, DetParams()) for s in samples[:calib]]

    def run(self, model_dir: str) -> tuple[list[np.ndarray], float]:
        detector = TextDetector(create_engine(model_dir, "auto", threads=2))
        maps, counts = [], DetCounts()
        for image, gt in self.dev:
            prob = detector.engine.run(preprocess_det(image, detector.params))[0, 0]
            maps.append(prob)
            boxes, _ = detector.postprocess(prob, image.shape)
            counts += score_detection(gt, [b.tolist() for b in boxes])
        return maps, counts.hmean


class _RecTask:
    def __init__(self, label_file: str, dev: int, calib: int, dictionary: str) -> None:
        samples = read_rec_labels(label_file)
        if len(samples) < dev + 1:
            raise EdgeOCRError(f"{label_file} has too few samples for a dev split of {dev}")
        self.dictionary = dictionary
        self.dev = [(load_image(s.image).image, s.text) for s in samples[-dev:]]
        shaper = TextRecognizer.__new__(TextRecognizer)
        shaper.params = RecParams()
        self.calibration = [b for _, b in shaper.batches([load_image(s.image).image for s in samples[:calib]])]

    def run(self, model_dir: str) -> tuple[list[np.ndarray], float]:
        recognizer = TextRecognizer(create_engine(model_dir, "auto", threads=2), self.dictionary)
        crops = [crop for crop, _ in self.dev]
        outputs = [recognizer.engine.run(batch) for _, batch in recognizer.batches(crops)]
        texts = recognizer(crops)
        accuracy = float(np.mean([t == truth for (t, _), (_, truth) in zip(texts, self.dev)]))
        return outputs, accuracy


def _drift(reference: list[np.ndarray], other: list[np.ndarray]) -> float:
    """Mean over samples of the max abs difference (a softmax's mean difference hides flipped classes)."""
    return float(np.mean([np.abs(a - b).max() for a, b in zip(reference, other)]))


def layer_sensitivity(
    model_dir: str,
    kind: str,
    label_file: str,
    dictionary: str | None = None,
    dev: int = 20,
    calib: int = 8,
    algo: str = "avg",
    mode: str = "only",
    max_layers: int | None = None,
    progress: bool = True,
) -> dict:
    """Rank the quantizable layers of a det or rec model by the damage quantizing them does."""
    if kind not in ("det", "rec"):
        raise EdgeOCRError("sensitivity supports det and rec models")
    if mode not in ("only", "all-but"):
        raise EdgeOCRError("mode must be 'only' or 'all-but'")
    if "test" in os.path.basename(label_file).lower():
        raise EdgeOCRError(f"{label_file}: sensitivity uses a dev split of the train labels, never the test set")
    if kind == "rec" and not dictionary:
        raise EdgeOCRError("rec sensitivity needs the dictionary")
    task = _DetTask(label_file, dev, calib) if kind == "det" else _RecTask(label_file, dev, calib, dictionary)
    every = quantizable_layers(model_dir, DEFAULT_OP_TYPES)
    names = [layer.weight for layer in every]
    layers = every[: max_layers or None]
    reference, fp32_metric = task.run(model_dir)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        full_dir = quantize_ptq(model_dir, task.calibration, os.path.join(work, "all"), algo=algo)
        full_out, full_metric = task.run(full_dir)
        for layer in tqdm(layers, desc=f"{kind} sensitivity", unit="layer", disable=not progress):
            skip = [n for n in names if n != layer.weight] if mode == "only" else [layer.weight]
            out_dir = quantize_ptq(model_dir, task.calibration, os.path.join(work, "one"), algo=algo,
                                   skip_layers=skip)
            outputs, metric = task.run(out_dir)
            rows.append({"layer": layer.weight, "op_type": layer.op_type, "shape": list(layer.shape),
                         "params": int(np.prod(layer.shape)), "drift": _drift(reference, outputs),
                         "metric": metric,
                         # "only": damage the layer alone does; "all-but": what keeping it FP32 recovers.
                         "damage": (fp32_metric - metric) if mode == "only" else (metric - full_metric)})
    rows.sort(key=lambda r: (-r["damage"], -r["drift"]) if mode == "only" else (-r["damage"], r["drift"]))
    return {"kind": kind, "model": os.path.abspath(model_dir), "mode": mode, "algo": algo, "dev_samples": dev,
            "calibration_samples": calib, "metric_name": "det_hmean" if kind == "det" else "rec_accuracy",
            "fp32_metric": fp32_metric, "all_quantized_metric": full_metric,
            "all_quantized_drift": _drift(reference, full_out), "ranking": rows}
