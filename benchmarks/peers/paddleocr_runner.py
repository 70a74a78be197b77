"""Run PaddleOCR 2.8.1's own pipeline over images; executed inside the peer venv (benchmarks/.venvs/paddleocr).

Writes JSON: {"results": [{"image", "lines": [{"box", "text", "score"}]}], "ms": [per-image ms], "settings": {...}}.
Timing per image covers PaddleOCR.ocr(path): file read and decode, det, cls, rec, post-processing.
"""

import argparse
import json
import logging
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True, help="folder laid out like ../shared/models/ppocrv2")
    parser.add_argument("--images", nargs="+", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    logging.disable(logging.WARNING)
    from paddleocr import PaddleOCR

    models = args.models
    ocr = PaddleOCR(
        use_angle_cls=True, ocr_version="PP-OCRv2", rec_image_shape="3, 32, 320",
        det_limit_side_len=960, det_limit_type="max", use_gpu=False, enable_mkldnn=True,
        cpu_threads=args.threads, show_log=False, lang="ch",
        det_model_dir=os.path.join(models, "ch_PP-OCRv2_det_infer"),
        rec_model_dir=os.path.join(models, "ch_PP-OCRv2_rec_infer"),
        cls_model_dir=os.path.join(models, "ch_ppocr_mobile_v2.0_cls_infer"),
        rec_char_dict_path=os.path.join(models, "ppocr_keys_v1.txt"),
    )
    for path in args.images[: args.warmup]:
        ocr.ocr(path, cls=True)
    results, times = [], []
    for path in args.images:
        start = time.perf_counter()
        out = ocr.ocr(path, cls=True)
        times.append((time.perf_counter() - start) * 1000)
        lines = []
        for box, (text, score) in (out[0] or []) if out else []:
            lines.append({"box": [[int(round(x)), int(round(y))] for x, y in box], "text": text, "score": float(score)})
        results.append({"image": path, "lines": lines})
    settings = {"threads": args.threads, "mkldnn": True, "warmup": args.warmup, "paddleocr": "2.8.1"}
    with open(args.out, "w") as handle:
        json.dump({"results": results, "ms": times, "settings": settings}, handle)


if __name__ == "__main__":
    main()
