"""``verify_bundle``: does a bundle compute what its source models compute?

The x86 twin of the bundle (the same quantized models converted for x86; the bundle itself when it targets x86)
runs through Paddle Lite on sample images and is compared with the FP32 source models run by Paddle Inference:
det probability maps (max/mean abs diff, share of pixels whose threshold decision flips), cls labels (share
flipped) and rec outputs (share of lines whose decoded text changes). Thresholds are stated and configurable.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass

import numpy as np

from edge_ocr.bundle import Bundle, load_bundle
from edge_ocr.cls import TextClassifier
from edge_ocr.det import TextDetector, preprocess_det
from edge_ocr.engines import create_engine
from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation import score_detection
from edge_ocr.evaluation.labels import GtBox
from edge_ocr.geometry import crop_text_line
from edge_ocr.images import list_images, load_image
from edge_ocr.models import resolve_models, sha256_file
from edge_ocr.rec import ctc_greedy_decode, load_charset

log = logging.getLogger(__name__)


@dataclass
class Thresholds:
    det_flip: float = 0.05  # share of det map pixels whose (p > thresh) decision may flip
    det_box_miss: float = 0.10  # share of source boxes the twin may fail to reproduce (IoU > 0.5)
    cls_flip: float = 0.10  # share of crops whose direction label may flip
    rec_change: float = 0.15  # share of lines whose decoded text may change

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _twin_for(bundle: Bundle, twin: str | None, quantized: str | None, work: str) -> Bundle:
    from edge_ocr.engines.lite import runtime_target

    if bundle.target == runtime_target() and not twin and not quantized:
        return bundle
    if twin:
        candidate = load_bundle(twin)
    elif quantized:
        from .bundle import export_bundle

        candidate = load_bundle(export_bundle(quantized, os.path.join(work, "twin"), target=runtime_target()))
    else:
        hint = bundle.path.rstrip("/") + "-artifacts/x86-twin"
        if not os.path.isdir(hint):
            raise EdgeOCRError(f"{bundle.path} targets {bundle.target}: give --twin X86_BUNDLE or --quantized DIR "
                               "(the models it was exported from) so that its x86 twin can run here")
        candidate = load_bundle(hint)
    for role, entry in bundle.manifest["models"].items():
        other = candidate.manifest["models"].get(role)
        if other is None or other["source"] != entry["source"]:
            raise EdgeOCRError(f"the twin's {role} model was not exported from the same source model as the bundle's")
    return candidate


def _finite_check(checks: list[dict], role: str, finite: bool) -> None:
    if not finite:
        checks.append({"check": f"{role}: twin outputs are finite", "value": 1.0, "limit": 0.0, "passed": False,
                       "detail": "NaN/inf from the x86 runtime (Paddle Lite 2.13's x86 int8 matmul/fc kernels "
                                 "return NaN): this model cannot be checked on x86"})


def verify_bundle(
    bundle_dir: str,
    models_dir: str,
    samples: list[str],
    twin: str | None = None,
    quantized: str | None = None,
    thresholds: Thresholds | None = None,
    max_images: int = 8,
) -> dict:
    """Compare the bundle (through its x86 twin) with the FP32 source models; ``passed`` says if all checks hold."""
    thresholds = thresholds or Thresholds()
    bundle = load_bundle(bundle_dir)  # a changed byte fails here (sha256 of every file)
    paths = resolve_models(models_dir)
    images = list_images(samples)[:max_images]
    if not images:
        raise EdgeOCRError("no sample images to verify with (--samples)")
    checks: list[dict] = []

    def check(name: str, value: float, limit: float, detail: str = "") -> None:
        checks.append({"check": name, "value": round(float(value), 6), "limit": limit, "passed": bool(value <= limit),
                       "detail": detail})

    same_dict = sha256_file(bundle.dictionary) == sha256_file(paths.dictionary)
    checks.append({"check": "dictionary matches the source models'", "value": float(same_dict), "limit": 1.0,
                   "passed": same_dict, "detail": os.path.basename(bundle.dictionary)})
    params = bundle.params
    with tempfile.TemporaryDirectory() as work:
        twin_bundle = _twin_for(bundle, twin, quantized, work)
        det_ref = TextDetector(create_engine(paths.det, "paddle"), params.det)
        det_twin = create_engine(twin_bundle.model_file("det"), "lite")
        diffs, means, flips, crops = [], [], [], []
        source_boxes = kept_boxes = 0
        finite = True
        for path in images:
            image = load_image(path).image
            x = preprocess_det(image, params.det)
            a, b = det_ref.engine.run(x)[0, 0], det_twin.run(x)[0, 0]
            finite &= bool(np.isfinite(b).all())
            diffs.append(np.abs(a - b).max())
            means.append(np.abs(a - b).mean())
            flips.append(((a > params.det.thresh) != (b > params.det.thresh)).mean())
            boxes, _ = det_ref.postprocess(a, image.shape)
            twin_boxes, _ = det_ref.postprocess(np.nan_to_num(b), image.shape)
            counts = score_detection([GtBox(box.tolist(), "x") for box in boxes], [t.tolist() for t in twin_boxes])
            source_boxes += counts.gt_care
            kept_boxes += counts.matched
            crops += [crop_text_line(image, box, params.crop.rotate_ratio) for box in boxes]
        _finite_check(checks, "det", finite)
        check("det: share of pixels whose threshold decision flips", np.mean(flips), thresholds.det_flip,
              f"max abs diff {max(diffs):.4f}, mean abs diff {np.mean(means):.5f}")
        missed = 1 - kept_boxes / source_boxes if source_boxes else 0.0
        check("det: share of source boxes the twin misses (IoU > 0.5)", missed, thresholds.det_box_miss,
              f"{source_boxes - kept_boxes}/{source_boxes}")
        result = {"det_max_abs_diff": float(max(diffs)), "det_mean_abs_diff": float(np.mean(means)),
                  "det_flip_share": float(np.mean(flips)), "crops": len(crops)}
        if crops and twin_bundle.model_file("cls") and paths.cls:
            ref = TextClassifier(create_engine(paths.cls, "paddle"), params.cls)
            engine = create_engine(twin_bundle.model_file("cls"), "lite")
            changed = total = 0
            finite = True
            for _, batch in ref.batches(crops):
                a, b = ref.engine.run(batch), engine.run(batch)
                finite &= bool(np.isfinite(b).all())
                changed += int((a.argmax(1) != b.argmax(1)).sum())
                total += len(batch)
            _finite_check(checks, "cls", finite)
            result["cls_flip_share"] = changed / total
            check("cls: share of crops whose label flips", changed / total, thresholds.cls_flip, f"{changed}/{total}")
        if crops:
            from edge_ocr.rec import TextRecognizer

            charset = load_charset(bundle.dictionary, params.rec.use_space_char)
            ref = TextRecognizer(create_engine(paths.rec, "paddle"), paths.dictionary, params.rec)
            engine = create_engine(twin_bundle.model_file("rec"), "lite")
            changed = total = 0
            max_diff = 0.0
            finite = True
            for _, batch in ref.batches(crops):
                a, b = ref.engine.run(batch), engine.run(batch)
                finite &= bool(np.isfinite(b).all())
                b = np.nan_to_num(b)
                if b.shape[-1] != len(charset):
                    raise EdgeOCRError(f"bundle dictionary has {len(charset)} classes, its rec model outputs "
                                       f"{b.shape[-1]}: wrong dictionary")
                max_diff = max(max_diff, float(np.abs(a - b).max()))
                texts_a = ctc_greedy_decode(a, ref.charset)
                texts_b = ctc_greedy_decode(b, charset)
                changed += sum(ta[0] != tb[0] for ta, tb in zip(texts_a, texts_b))
                total += len(batch)
            _finite_check(checks, "rec", finite)
            result["rec_text_change_share"] = changed / total
            result["rec_max_abs_diff"] = max_diff
            check("rec: share of lines whose decoded text changes", changed / total, thresholds.rec_change,
                  f"{changed}/{total}, max prob diff {max_diff:.4f}")
    return {"bundle": os.path.abspath(bundle_dir), "target": bundle.target, "twin": twin_bundle.path,
            "source_models": os.path.abspath(models_dir), "images": len(images), "thresholds": thresholds.to_dict(),
            "precision": {r: e["precision"] for r, e in bundle.manifest["models"].items()}, **result,
            "checks": checks, "passed": all(c["passed"] for c in checks)}
