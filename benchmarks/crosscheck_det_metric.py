"""Cross-check edge-ocr's detection Hmean against an independent Shapely implementation (peer venv).

    python benchmarks/crosscheck_det_metric.py PREDICTIONS.json [--labels test_label.txt]

PREDICTIONS.json is what ``edge-ocr eval --save-predictions`` writes. Both scorers see the same boxes;
the script fails (exit 1) unless P, R and Hmean agree to 3 decimals. Writes benchmarks/results/crosscheck-det.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import RESULTS, peer_python, shared_dir, write_json  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("predictions")
    parser.add_argument("--labels", default=os.path.join(shared_dir(), "data", "icdar2015", "test_label.txt"))
    parser.add_argument("--out", default=os.path.join(RESULTS, "crosscheck-det.json"))
    args = parser.parse_args()

    from edge_ocr.evaluation import DetCounts, read_det_labels, score_detection

    with open(args.predictions) as handle:
        predictions = {os.path.abspath(p["image"]): p["boxes"] for p in json.load(handle)["det"]}
    samples = [s for s in read_det_labels(args.labels) if os.path.abspath(s.image) in predictions]
    ours = DetCounts()
    payload = []
    for sample in samples:
        boxes = predictions[os.path.abspath(sample.image)]
        ours += score_detection(sample.boxes, boxes)
        payload.append({"gt": [{"points": b.points, "text": b.text} for b in sample.boxes], "det": boxes})
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"samples": payload}, handle)
    try:
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "shapely_det_eval.py")
        out = subprocess.run([peer_python("paddleocr"), script, handle.name], capture_output=True, text=True,
                             check=True)
    finally:
        os.remove(handle.name)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    ours_d = ours.to_dict()
    agree = all(round(ours_d[k], 3) == round(theirs[k], 3) for k in ("precision", "recall", "hmean"))
    report = {"command": f"python benchmarks/crosscheck_det_metric.py {args.predictions}", "images": len(samples),
              "edge_ocr": ours_d, "shapely_reference": theirs, "agree_to_3_decimals": agree}
    write_json(args.out, report)
    print(json.dumps(report, indent=1))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
