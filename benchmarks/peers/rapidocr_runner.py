"""RapidOCR (rapidocr-onnxruntime 1.4.4) running PP-OCRv2 converted to ONNX with paddle2onnx; a peer process.

Runs inside benchmarks/.venvs/rapidocr. Same serve protocol as paddleocr_runner.py: one image path per stdin line,
one ``@@RESULT {"image", "lines", "ms"}`` line back; an empty line ends with ``@@STATS``. Timing covers
``RapidOCR(path)``: read + decode + det + cls + rec + post-processing. Settings follow PP-OCRv2's (960 max side,
ImageNet normalisation for det, box_thresh 0.6, unclip 1.5, no dilation, rec 3x32x320).
"""

import argparse
import os
import subprocess
import sys
import time

import yaml
from serve import serve

MODELS = {"Det": "ch_PP-OCRv2_det_infer", "Cls": "ch_ppocr_mobile_v2.0_cls_infer", "Rec": "ch_PP-OCRv2_rec_infer"}


def to_onnx(models: str, cache: str) -> dict:
    os.makedirs(cache, exist_ok=True)
    paths = {}
    for stage, name in MODELS.items():
        out = os.path.join(cache, name + ".onnx")
        if not os.path.isfile(out):
            subprocess.run([os.path.join(os.path.dirname(sys.executable), "paddle2onnx"),
                            "--model_dir", os.path.join(models, name), "--model_filename", "inference.pdmodel",
                            "--params_filename", "inference.pdiparams", "--save_file", out, "--opset_version", "11"],
                           check=True, capture_output=True)
        paths[stage] = out
    return paths


def build(models: str, threads: int, cache: str):
    import rapidocr_onnxruntime
    from rapidocr_onnxruntime import RapidOCR

    with open(os.path.join(os.path.dirname(rapidocr_onnxruntime.__file__), "config.yaml")) as handle:
        config = yaml.safe_load(handle)
    onnx = to_onnx(models, cache)
    for stage in ("Det", "Cls", "Rec"):
        config[stage].update(model_path=onnx[stage], intra_op_num_threads=threads, inter_op_num_threads=1)
    config["Det"].update(limit_side_len=960, limit_type="max", mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225],
                         thresh=0.3, box_thresh=0.6, unclip_ratio=1.5, use_dilation=False, score_mode="fast")
    config["Rec"].update(rec_img_shape=[3, 32, 320], rec_keys_path=os.path.join(models, "ppocr_keys_v1.txt"))
    path = os.path.join(cache, f"rapidocr-ppocrv2-{threads}.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(config, handle)
    return RapidOCR(config_path=path)


def ocr_one(engine, path: str) -> dict:
    start = time.perf_counter()
    result, _ = engine(path)
    ms = (time.perf_counter() - start) * 1000
    lines = [{"box": [[int(round(x)), int(round(y))] for x, y in box], "text": text, "score": float(score)}
             for box, text, score in (result or [])]
    return {"image": path, "lines": lines, "ms": ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", required=True, help="where the ONNX models and config are kept")
    args = parser.parse_args()
    serve(lambda: build(args.models, args.threads, args.cache), ocr_one)


if __name__ == "__main__":
    main()
