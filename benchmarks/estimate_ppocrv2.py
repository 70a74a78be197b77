"""Estimated ARM latency of PP-OCRv2's models: FP32, our PaddleSlim PTQ int8, and PaddleOCR's official slim bundle
(``ch_PP-OCRv2_slim_lite_v2.10_arm``), on the Cortex-A72 (Raspberry Pi 4, 1.5 GHz), A76 (Snapdragon 855 big core,
2.84 GHz) and A55 (1.8 GHz), 1 thread, at fixed inputs: det 1x3x544x960 (an ICDAR 2015 image at the default side
limit), cls 1x3x48x192, rec 1x3x32x320. Writes ``benchmarks/results/estimate-ppocrv2.{md,json}``. Estimates, not
measurements: see ``benchmarks/results/estimate-validation.md`` for the method's error.

    .venv/bin/python benchmarks/estimate_ppocrv2.py [--targets cortex-a72@1.5 ...]
"""

from __future__ import annotations

import argparse
import datetime
import glob
import os
import sys

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import REPO, RESULTS, machine, shared_dir, write_json, write_text  # noqa: E402
from edge_ocr.bench.estimate import METHOD, estimate_model, latency_ms  # noqa: E402
from edge_ocr.bench.estimate.bundles import validation_text  # noqa: E402
from edge_ocr.bench.estimate.cores import calibration, parse_target  # noqa: E402

WORK = os.path.join(REPO, "benchmarks", ".work", "estimate-ppocrv2")
SHAPES = {"det": (1, 3, 544, 960), "cls": (1, 3, 48, 192), "rec": (1, 3, 32, 320)}
FOLDERS = {"det": "ch_PP-OCRv2_det_infer", "cls": "ch_ppocr_mobile_v2.0_cls_infer", "rec": "ch_PP-OCRv2_rec_infer"}
SLIM = {"det": "det_db.nb", "cls": "cls.nb", "rec": "rec_crnn.nb"}


def calibration_batches(role: str, count: int = 8) -> list[np.ndarray]:
    """A few real inputs: ICDAR 2015 training images for det, its word crops for cls and rec."""
    from edge_ocr.cls import resize_norm_padded
    from edge_ocr.config import DetParams
    from edge_ocr.det import preprocess_det

    data = os.path.join(shared_dir(), "data")
    if role == "det":
        paths = sorted(glob.glob(os.path.join(data, "icdar2015", "ch4_training_images", "*.jpg")))[:count]
        return [preprocess_det(cv2.imread(p), DetParams()) for p in paths]
    paths = sorted(glob.glob(os.path.join(data, "ic15_rec", "train", "*.png")))[:count]
    height, width = SHAPES[role][2:]
    return [resize_norm_padded(cv2.imread(p), height, width)[None] for p in paths]


def build(models: str) -> dict[str, dict[str, str]]:
    """{variant: {role: .nb}}: FP32 and PTQ int8 converted here, PaddleOCR's slim .nb as shipped."""
    from edge_ocr.engines.lite import convert_to_nb
    from edge_ocr.host.quantize.compress.ptq import quantize_ptq

    out: dict[str, dict[str, str]] = {"fp32": {}, "ptq-int8": {}, "paddleocr-slim": {}}
    os.makedirs(WORK, exist_ok=True)
    for role, folder in FOLDERS.items():
        source = os.path.join(models, folder)
        fp32 = os.path.join(WORK, f"{role}-fp32.nb")
        if not os.path.isfile(fp32):
            convert_to_nb(source, fp32, target="arm")
        int8 = os.path.join(WORK, f"{role}-ptq-int8.nb")
        if not os.path.isfile(int8):
            quantized = os.path.join(WORK, f"{role}-ptq")
            quantize_ptq(source, calibration_batches(role), quantized, algo="KL")
            convert_to_nb(quantized, int8, target="arm")
        out["fp32"][role], out["ptq-int8"][role] = fp32, int8
        out["paddleocr-slim"][role] = os.path.join(shared_dir(), "models", "reference",
                                                   "ch_PP-OCRv2_slim_lite_v2.10_arm", SLIM[role])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", nargs="+", default=["cortex-a72@1.5", "cortex-a76@2.84", "cortex-a55@1.8"])
    parser.add_argument("--models", default=os.path.join(shared_dir(), "models", "ppocrv2"))
    args = parser.parse_args()
    targets = [parse_target(t) for t in args.targets]
    variants = build(args.models)
    rows = []
    for target in targets:
        for role, shape in SHAPES.items():
            for variant, files in variants.items():
                cost = estimate_model(files[role], [shape], target.core)[0]
                est = latency_ms(cost, target)
                rows.append({"target": target.label, "model": role, "variant": variant, "shape": list(shape),
                             "ms": round(est["ms"], 1), "compute_ms": round(est["compute_ms"], 1),
                             "memory_ms": round(est["memory_ms"], 1), "instructions_m": round(cost.instructions / 1e6),
                             "mbytes": round(cost.bytes / 1e6, 1),
                             "families": {k: round(v / cost.cycles, 3) for k, v in
                                          sorted(cost.family_cycles.items(), key=lambda kv: -kv[1])},
                             "validation": validation_text({"calibration": calibration(target.core)})})
                print(f"{target.label} {role} {variant}: {rows[-1]['ms']} ms (est.)", flush=True)
    report = {"created": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine(),
              "command": "python benchmarks/estimate_ppocrv2.py " + " ".join(sys.argv[1:]), "method": METHOD,
              "rows": rows}
    write_json(os.path.join(RESULTS, "estimate-ppocrv2.json"), report)
    write_text(os.path.join(RESULTS, "estimate-ppocrv2.md"), to_markdown(report))
    print(to_markdown(report))
    return 0


def to_markdown(report: dict) -> str:
    lines = ["# PP-OCRv2 on ARM cores: FP32 vs PTQ int8 vs PaddleOCR slim — estimates, not measurements", "",
             f"{report['method']}. 1 thread. Made by `{report['command']}` ({report['created']}). Our int8 is "
             "PaddleSlim PTQ (KL, 8 ICDAR 2015 training images or word crops) of the official FP32 models; "
             "PaddleOCR slim is their shipped `ch_PP-OCRv2_slim_lite_v2.10_arm` .nb files.", "",
             "The memory term counts the weights each run streams, as validated on 224x224 classifiers (max error "
             "11 %, `estimate-validation.md`). The detector at 544x960 moves far more activation data than those "
             "models, beyond the caches, and that traffic is not modelled (Paddle Lite reuses buffers across ops, "
             "so per-op shapes cannot be read back): its estimates are closer to a lower bound than the "
             "classifiers' were. Compare variants by compute and instructions first.", "",
             "| target | model (input) | variant | est. ms | × FP32 | compute ms | memory ms | M instr. | "
             "top kernel families (share of compute) | validation error |",
             "|---|---|---|---:|---:|---:|---:|---:|---|---|"]
    base = {(r["target"], r["model"]): r["ms"] for r in report["rows"] if r["variant"] == "fp32"}
    for r in report["rows"]:
        top = ", ".join(f"{k} {100 * v:.0f} %" for k, v in list(r["families"].items())[:3])
        shape = "×".join(str(d) for d in r["shape"][1:])
        lines.append(f"| {r['target']} | {r['model']} ({shape}) | {r['variant']} | {r['ms']:.1f} | "
                     f"{r['ms'] / base[(r['target'], r['model'])]:.2f} | {r['compute_ms']:.1f} | "
                     f"{r['memory_ms']:.1f} | {r['instructions_m']} | {top} | {r['validation']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
