"""PaddleOCR 2.8.1's own pipeline as a peer process; runs inside benchmarks/.venvs/paddleocr.

Serve mode (used by compare_paddleocr.py so both pipelines are timed side by side, image by image): reads one
image path per stdin line and answers one line ``@@RESULT {"image", "lines", "ms"}``. The time covers
``PaddleOCR.ocr(path)``: file read and decode, det, cls, rec and all pre/post-processing.
"""

import argparse
import logging
import os
import time

from serve import serve


def build(models: str, threads: int):
    logging.disable(logging.WARNING)
    from paddleocr import PaddleOCR

    return PaddleOCR(
        use_angle_cls=True, ocr_version="PP-OCRv2", rec_image_shape="3, 32, 320",
        det_limit_side_len=960, det_limit_type="max", use_gpu=False, enable_mkldnn=True,
        cpu_threads=threads, show_log=False, lang="ch",
        det_model_dir=os.path.join(models, "ch_PP-OCRv2_det_infer"),
        rec_model_dir=os.path.join(models, "ch_PP-OCRv2_rec_infer"),
        cls_model_dir=os.path.join(models, "ch_ppocr_mobile_v2.0_cls_infer"),
        rec_char_dict_path=os.path.join(models, "ppocr_keys_v1.txt"),
    )


def ocr_one(ocr, path: str) -> dict:
    start = time.perf_counter()
    out = ocr.ocr(path, cls=True)
    ms = (time.perf_counter() - start) * 1000
    lines = []
    for box, (text, score) in (out[0] or []) if out else []:
        lines.append({"box": [[int(round(x)), int(round(y))] for x, y in box], "text": text, "score": float(score)})
    return {"image": path, "lines": lines, "ms": ms}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", required=True, help="folder laid out like ../shared/models/ppocrv2")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    serve(lambda: build(args.models, args.threads), ocr_one)


if __name__ == "__main__":
    main()
