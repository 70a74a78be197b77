"""An independent ICDAR 2015 detection scorer on Shapely, run in the peer venv (PaddleOCR depends on Shapely).

PaddleOCR 2.8.1's wheel and sdist do not ship ``ppocr/metrics``, so edge-ocr's Clipper-based metric is
cross-checked against this separate implementation of the Robust Reading protocol: IoU matrix, one-to-one
matching at IoU > 0.5 in ground-truth order, detections > 50% inside a don't-care region ignored, invalid
(non-simple) ground-truth polygons skipped.
Input: JSON {"samples": [{"gt": [{"points", "text"}], "det": [points]}]}; output: JSON P/R/Hmean.
"""

import json
import sys

import numpy as np
from shapely.geometry import Polygon


def score(samples):
    matched_sum = care_gt_sum = care_det_sum = 0
    for sample in samples:
        gt_pols, dont_care = [], []
        for box in sample["gt"]:
            poly = Polygon(box["points"])
            if not poly.is_valid or not poly.is_simple:
                continue
            if box["text"] in ("###", "*"):
                dont_care.append(len(gt_pols))
            gt_pols.append(poly)
        det_pols = [Polygon(points) for points in sample["det"]]
        det_ignored = []
        for d, det in enumerate(det_pols):
            for g in dont_care:
                inter = det.intersection(gt_pols[g]).area if det.is_valid else 0.0
                if det.area > 0 and inter / det.area > 0.5:
                    det_ignored.append(d)
                    break
        iou = np.zeros((len(gt_pols), len(det_pols)))
        for g, gp in enumerate(gt_pols):
            for d, dp in enumerate(det_pols):
                union = gp.union(dp).area
                iou[g, d] = gp.intersection(dp).area / union if union > 0 else 0.0
        gt_taken = np.zeros(len(gt_pols), bool)
        det_taken = np.zeros(len(det_pols), bool)
        for g in range(len(gt_pols)):
            for d in range(len(det_pols)):
                if gt_taken[g] or det_taken[d] or g in dont_care or d in det_ignored:
                    continue
                if iou[g, d] > 0.5:
                    gt_taken[g] = det_taken[d] = True
                    matched_sum += 1
        care_gt_sum += len(gt_pols) - len(dont_care)
        care_det_sum += len(det_pols) - len(det_ignored)
    recall = matched_sum / care_gt_sum if care_gt_sum else 0.0
    precision = matched_sum / care_det_sum if care_det_sum else 0.0
    hmean = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "hmean": hmean, "matched": matched_sum,
            "gt_care": care_gt_sum, "det_care": care_det_sum}


if __name__ == "__main__":
    with open(sys.argv[1]) as handle:
        data = json.load(handle)
    print(json.dumps(score(data["samples"])))
