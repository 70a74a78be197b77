"""Parity and speed of edge-ocr against PaddleOCR 2.8.1's own pipeline, same models, same images, one run.

    python benchmarks/compare_paddleocr.py [--limit N] [--threads 2] [--lite]

1. PaddleOCR 2.8.1 (its own venv, benchmarks/.venvs/paddleocr) runs ``PaddleOCR.ocr(path)`` on every image.
2. edge-ocr runs ``OCRPipeline.ocr_file(path)`` with the Paddle Inference engine on the same images.
3. With ``--lite``, edge-ocr also runs the x86 ``.nb`` conversion of the same models on Paddle Lite.
Both timings include reading and decoding the file and all pre/post-processing; warm-up images are excluded.
Parity: same number of lines per image, identical text on >= 99% of lines, box corners within 2 px.
Writes benchmarks/results/parity.json and parity.md.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import RESULTS, machine, peer_python, shared_dir, summarize_ms, write_json, write_text  # noqa: E402


def _rect_iou(a: list, b: list) -> float:
    ax0, ay0 = min(p[0] for p in a), min(p[1] for p in a)
    ax1, ay1 = max(p[0] for p in a), max(p[1] for p in a)
    bx0, by0 = min(p[0] for p in b), min(p[1] for p in b)
    bx1, by1 = max(p[0] for p in b), max(p[1] for p in b)
    inter = max(0, min(ax1, bx1) - max(ax0, bx0)) * max(0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def match_lines(ref_lines: list[dict], our_lines: list[dict], min_iou: float = 0.5) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of lines by box IoU (highest first)."""
    pairs = sorted(((_rect_iou(a["box"], b["box"]), i, j) for i, a in enumerate(ref_lines)
                    for j, b in enumerate(our_lines)), reverse=True)
    used_ref, used_our, matched = set(), set(), []
    for iou, i, j in pairs:
        if iou <= min_iou:
            break
        if i not in used_ref and j not in used_our:
            used_ref.add(i)
            used_our.add(j)
            matched.append((i, j))
    return matched


def compare(reference: list[dict], ours: list[dict], box_tol: float = 2.0) -> dict:
    """Compare two result lists (same images, same order).

    Lines are paired by box IoU > 0.5; a line without a partner counts as a differing line. "same text" is the
    share of all lines (pairs + unpaired) whose paired text is identical.
    """
    images = same_count = lines = same_text = boxes_ok = same_order = 0
    worst_box = 0.0
    diffs = []
    for ref, our in zip(reference, ours):
        images += 1
        ref_lines, our_lines = ref["lines"], our["lines"]
        same_count += len(ref_lines) == len(our_lines)
        pairs = match_lines(ref_lines, our_lines)
        same_order += len(pairs) == len(ref_lines) == len(our_lines) and all(i == j for i, j in pairs)
        lines += len(ref_lines) + len(our_lines) - len(pairs)
        for i, j in pairs:
            a, b = ref_lines[i], our_lines[j]
            same_text += a["text"] == b["text"]
            dist = max(max(abs(pa[0] - pb[0]), abs(pa[1] - pb[1])) for pa, pb in zip(a["box"], b["box"]))
            worst_box = max(worst_box, dist)
            boxes_ok += dist <= box_tol
            if a["text"] != b["text"] and len(diffs) < 100:
                diffs.append({"image": ref["image"], "reference": a["text"], "other": b["text"]})
        if len(pairs) != max(len(ref_lines), len(our_lines)) and len(diffs) < 100:
            diffs.append({"image": ref["image"], "reference_lines": len(ref_lines), "other_lines": len(our_lines),
                          "paired": len(pairs)})
    return {
        "images": images,
        "images_same_line_count": same_count,
        "images_same_lines_in_same_order": same_order,
        "lines": lines,
        "lines_same_text": same_text,
        "text_agreement": round(same_text / lines, 5) if lines else 1.0,
        "lines_box_within_tol": boxes_ok,
        "max_corner_diff_px_paired": worst_box,
        "box_tol_px": box_tol,
        "differences": diffs,
    }


class PeerProcess:
    """A peer OCR system in its own venv and process (benchmarks/peers/*_runner.py), one image at a time."""

    def __init__(self, peer: str, models: str, threads: int, *extra: str) -> None:
        runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", f"{peer}_runner.py")
        self.proc = subprocess.Popen([peer_python(peer), runner, "--models", models, "--threads", str(threads),
                                      *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._read("@@READY")

    def _read(self, marker: str) -> str:
        for line in self.proc.stdout:
            if line.startswith(marker):
                return line[len(marker):].strip()
        raise RuntimeError(f"PaddleOCR peer exited (code {self.proc.wait()})")

    def ocr(self, path: str) -> dict:
        self.proc.stdin.write(path + "\n")
        self.proc.stdin.flush()
        return json.loads(self._read("@@RESULT"))

    def close(self) -> dict:
        """Stop the peer; returns its load time and peak resident memory."""
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        stats = json.loads(self._read("@@STATS"))
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        return stats


def timed(pipeline, path: str) -> tuple[dict, float]:
    start = time.perf_counter()
    result = pipeline.ocr_file(path).to_dict()
    return result, (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="first N test images only (0: all 500)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=50, help="images per alternation in folder mode")
    parser.add_argument("--lite", action="store_true", help="also run the x86 .nb models on Paddle Lite")
    parser.add_argument("--out", default=os.path.join(RESULTS, "parity"), help="output stem (.json and .md)")
    args = parser.parse_args()

    from tqdm import tqdm

    from edge_ocr import OCRPipeline
    from edge_ocr.parallel import PipelinePool

    shared = shared_dir()
    models = os.path.join(shared, "models", "ppocrv2")
    images = sorted(glob.glob(os.path.join(shared, "data", "icdar2015", "ch4_test_images", "*.jpg")),
                    key=lambda p: int(os.path.basename(p)[4:-4]))
    if args.limit:
        images = images[: args.limit]

    peer = PeerProcess("paddleocr", models, args.threads)
    ours = OCRPipeline.from_models(models, engine="paddle", threads=args.threads)
    pool = PipelinePool(lambda: OCRPipeline.from_models(models, engine="paddle", threads=1), args.threads)
    pool.warm_up()
    for path in images[: args.warmup]:
        peer.ocr(path)
        ours.ocr_file(path)
    list(pool.map(images[: args.warmup * args.threads]))

    # Chunks alternate: PaddleOCR, edge-ocr image by image, edge-ocr folder mode, so that all three see the
    # same machine load. (Alternating single images would let one side's idle OpenMP threads spin while the
    # other side runs.)
    peer_results, peer_ms, our_results, our_ms, fast_results = [], [], [], [], []
    fast_wall = 0.0
    for start in tqdm(range(0, len(images), args.chunk), desc="chunks", unit="chunk"):
        chunk = images[start : start + args.chunk]
        for path in chunk:
            answer = peer.ocr(path)
            peer_ms.append(answer.pop("ms"))
            peer_results.append(answer)
        for path in chunk:
            result, ms = timed(ours, path)
            our_results.append(result)
            our_ms.append(ms)
        mark = time.perf_counter()
        fast_results += [r.to_dict() for r in pool.map(chunk)]
        fast_wall += (time.perf_counter() - mark) * 1000
    peer.close()
    pool.close()

    n = len(images)
    report = {
        "command": "python benchmarks/compare_paddleocr.py" + (f" --limit {args.limit}" if args.limit else "")
        + (" --lite" if args.lite else ""),
        "machine": machine(),
        "threads": args.threads,
        "images": n,
        "timing_includes": "file read + decode, det, cls, rec, all pre/post-processing; warm-up excluded; "
                           "PaddleOCR and edge-ocr alternate in chunks of 50 images in one run",
        "paddleocr_2_8_1": {"mode": f"1 pipeline x {args.threads} threads", "ms_per_image": summarize_ms(peer_ms),
                            "wall_ms_per_image": round(sum(peer_ms) / n, 2)},
        "edge_ocr_paddle": {"mode": f"1 pipeline x {args.threads} threads", "ms_per_image": summarize_ms(our_ms),
                            "wall_ms_per_image": round(sum(our_ms) / n, 2),
                            "vs_paddleocr": compare(peer_results, our_results)},
        "edge_ocr_paddle_workers": {"mode": f"{args.threads} pipelines x 1 thread (edge-ocr predict DIR)",
                                    "wall_ms_per_image": round(fast_wall / n, 2),
                                    "vs_paddleocr": compare(peer_results, fast_results)},
    }
    report["speed_ratio_latency"] = round(sum(our_ms) / sum(peer_ms), 3)
    report["speed_ratio_folder"] = round(fast_wall / sum(peer_ms), 3)
    if args.lite:
        lite = OCRPipeline.from_models(models, engine="lite")
        lite_results, lite_ms = [], []
        for path in tqdm(images, desc="lite", unit="img"):
            result, ms = timed(lite, path)
            lite_results.append(result)
            lite_ms.append(ms)
        report["edge_ocr_lite_x86"] = {"mode": "1 pipeline, x86 .nb (no thread setting in the x86 wheel)",
                                       "ms_per_image": summarize_ms(lite_ms),
                                       "wall_ms_per_image": round(sum(lite_ms) / n, 2),
                                       "vs_paddleocr": compare(peer_results, lite_results),
                                       "vs_edge_ocr_paddle": compare(our_results, lite_results)}
    write_json(args.out + ".json", report)
    write_text(args.out + ".md", to_markdown(report))
    print(to_markdown(report))


def to_markdown(report: dict) -> str:
    m = report["machine"]
    keys = [("PaddleOCR 2.8.1", "paddleocr_2_8_1"), ("edge-ocr, Paddle Inference", "edge_ocr_paddle"),
            ("edge-ocr, Paddle Inference, folder mode", "edge_ocr_paddle_workers"),
            ("edge-ocr, Paddle Lite x86 .nb", "edge_ocr_lite_x86")]
    out = [f"# edge-ocr vs PaddleOCR 2.8.1 on {report['images']} ICDAR2015 test images", "",
           f"Machine: {m['cpu']}, {m['cores']} cores, {report['threads']} threads, MKLDNN. "
           f"Timing: {report['timing_includes']}.", f"Command: `{report['command']}`", "",
           "| pipeline | mode | ms/img (wall) | median | p90 | same line count | same text | boxes within 2 px |"
           " max corner diff |", "|---|---|---|---|---|---|---|---|---|"]
    for name, key in keys:
        if key not in report:
            continue
        entry = report[key]
        ms = entry.get("ms_per_image", {})
        cmp_ = entry.get("vs_paddleocr")
        if cmp_:
            parity = (f"{cmp_['images_same_line_count']}/{cmp_['images']} | {cmp_['text_agreement'] * 100:.2f}% "
                      f"({cmp_['lines_same_text']}/{cmp_['lines']}) | {cmp_['lines_box_within_tol']}/{cmp_['lines']} | "
                      f"{cmp_['max_corner_diff_px_paired']} px")
        else:
            parity = "reference | | |"
        out.append(f"| {name} | {entry['mode']} | {entry['wall_ms_per_image']} | {ms.get('median', '')} | "
                   f"{ms.get('p90', '')} | {parity} |")
    out += ["", f"edge-ocr / PaddleOCR time per image: **{report['speed_ratio_latency']}×** image by image, "
            f"**{report['speed_ratio_folder']}×** in folder mode.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
