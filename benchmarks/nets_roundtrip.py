"""The dygraph networks, exported again with paddle.jit.save, against the official models on all test images.

    python benchmarks/nets_roundtrip.py     ->  benchmarks/results/nets-roundtrip.json

Runs ``edge-ocr nets export --init ../shared/models/ppocrv2`` into a temporary folder, then OCRs the 500 ICDAR2015
test images with both model folders (Paddle Inference) and compares lines and texts.
"""

from __future__ import annotations

import glob
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import RESULTS, machine, shared_dir, write_json  # noqa: E402
from benchmarks.compare_paddleocr import compare  # noqa: E402


def main() -> None:
    from edge_ocr import OCRPipeline
    from edge_ocr.host.quantize.nets.registry import export_models

    shared = shared_dir()
    official = os.path.join(shared, "models", "ppocrv2")
    images = sorted(glob.glob(os.path.join(shared, "data", "icdar2015", "ch4_test_images", "*.jpg")))
    with tempfile.TemporaryDirectory() as work:
        exported = export_models(official, os.path.join(work, "exported"))
        ours, theirs = OCRPipeline.from_models(exported), OCRPipeline.from_models(official)
        a = [theirs.ocr_file(p).to_dict() for p in images]
        b = [ours.ocr_file(p).to_dict() for p in images]
    report = {"command": "python benchmarks/nets_roundtrip.py", "machine": machine(), "images": len(images),
              "exported_vs_official": compare(a, b)}
    write_json(os.path.join(RESULTS, "nets-roundtrip.json"), report)
    c = report["exported_vs_official"]
    print(f"{c['images_same_line_count']}/{c['images']} images same line count, "
          f"{c['lines_same_text']}/{c['lines']} lines same text, max corner diff {c['max_corner_diff_px_paired']} px")


if __name__ == "__main__":
    main()
