"""PaddleOCR 2.8.1 measured like an ``edge-ocr bench`` variant, so its numbers merge into the same report.

    python benchmarks/peer_bench.py --images DIR [--limit N] [--threads 1 2] --out peer.json
    edge-ocr bench ... --merge peer.json

Same images, same models (../shared/models/ppocrv2), MKLDNN; e2e covers PaddleOCR.ocr(path) (read + decode + all
stages); PaddleOCR's own per-stage timers are not comparable, so only e2e is reported.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import (  # noqa: E402
    REPO,  # noqa: E402
    machine,
    shared_dir,
    summarize_ms,
    write_json,
)
from benchmarks.compare_paddleocr import PeerProcess  # noqa: E402

PEERS = {"paddleocr": ("PaddleOCR 2.8.1", ()),
         "rapidocr": ("RapidOCR 1.4.4 (ONNX Runtime, paddle2onnx)",
                      ("--cache", os.path.join(REPO, "benchmarks", ".work", "onnx")))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", required=True)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    from edge_ocr.bench.measure import variant_size
    from edge_ocr.images import list_images

    models = os.path.join(shared_dir(), "models", "ppocrv2")
    images = list_images([args.images])[: args.limit or None]
    results = []
    for key, threads in [(k, t) for k in args.peers for t in args.threads]:
        label, extra = PEERS[key]
        peer = PeerProcess(key, models, threads, *extra)
        for path in images[: args.warmup]:
            peer.ocr(path)
        times = [peer.ocr(path)["ms"] for path in images]
        stats = peer.close()
        sizes = variant_size({"models": models})
        results.append({"name": label, "threads": threads, "threads_settable": True,
                        "load_ms": round(stats["load_ms"], 1), "peak_rss_mb": round(stats["peak_rss_mb"], 1),
                        "size_bytes": sum(sizes.values()), "files": sizes, "images": len(images),
                        "ms": {"e2e": summarize_ms(times)}, "accuracy": None})
    write_json(args.out, {"machine": {**machine(), "cpu": "", "arch": "same machine"}, "results": results})
    # (sizes above are the Paddle models; RapidOCR's ONNX files are within 2% of them)


if __name__ == "__main__":
    main()
