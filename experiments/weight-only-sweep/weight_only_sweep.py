"""What weight-only quantization of a recognizer's FP32 layers costs: rec word accuracy with none, all, all but the
first, or only the first of its FP32 conv/matmul weights put on the int8 (or int16) grid that opt's weight-only
pass stores (``export.weight_only``), on IC15 test crops and zh_synth dev lines, through Paddle Inference.

    python experiments/weight-only-sweep/weight_only_sweep.py RUN-artifacts/quantized [--variants none int8 int16 ...] \
        [--out experiments/weight-only-sweep/weight-only-sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from edge_ocr.atomic import write_text  # noqa: E402
from edge_ocr.evaluation.domains import shared_dir  # noqa: E402
from edge_ocr.host.export.weight_only import fp32_weights, snap_fp32_weights  # noqa: E402
from edge_ocr.models import resolve_models  # noqa: E402

VARIANTS = {  # name: (bits, which of the FP32 weights, in program order)
    "none": (0, slice(0, 0)),
    "int16": (16, slice(None)),
    "int8": (8, slice(None)),
    "int8-all-but-first": (8, slice(1, None)),
    "int8-first-only": (8, slice(0, 1)),
}


def snapped_models(quantized: str, bits: int, chosen: list[str], out: str) -> str:
    """A model folder: ``quantized``'s det and cls (linked) and its rec with ``chosen`` weights on the grid."""
    paths = resolve_models(quantized)
    os.makedirs(out)
    for role in ("det", "cls"):
        os.symlink(getattr(paths, role), os.path.join(out, role))
    shutil.copy(paths.dictionary, out)
    snap_fp32_weights(paths.rec, os.path.join(out, "rec"), bits, only=chosen)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("quantized", help="a compress run's quantized models (RUN-artifacts/quantized)")
    parser.add_argument("--variants", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--rec-labels", default=os.path.join(shared_dir(),
                                                             "data", "ic15_rec", "rec_gt_test.txt"))
    parser.add_argument("--zh-labels", default=os.path.join(ROOT, "data", "synth", "rec_dev.txt"))
    parser.add_argument("--out", default=os.path.join(ROOT, "experiments", "weight-only-sweep", "weight-only-sweep"))
    args = parser.parse_args()
    axes = fp32_weights(resolve_models(args.quantized).rec)
    names = list(axes)
    rows = []
    with tempfile.TemporaryDirectory(prefix="weight-only-sweep-") as work:
        for variant in args.variants:
            bits, part = VARIANTS[variant]
            chosen = names[part]
            models = snapped_models(args.quantized, bits or 8, chosen, os.path.join(work, variant))
            report = os.path.join(work, f"{variant}.json")
            subprocess.run([sys.executable, "-m", "edge_ocr", "eval", "--models", models, "--rec-labels",
                            args.rec_labels, "--domain", f"zh_synth:rec={args.zh_labels},e2e=no", "--json", report],
                           check=True, capture_output=True, text=True)
            domains = json.load(open(report))["domains"]
            accuracy = {name: part["rec"]["accuracy"] for name, part in domains.items()}
            rows.append({"variant": variant, "bits": bits, "weights": chosen, "accuracy": accuracy})
            print(variant, accuracy, flush=True)
    command = "python experiments/weight-only-sweep/weight_only_sweep.py " + " ".join(sys.argv[1:])
    write_text(args.out + ".json", json.dumps({"command": command, "quantized": args.quantized, "rows": rows},
                                              indent=1))
    domains = list(rows[0]["accuracy"])
    lines = ["# Weight-only quantization of the recognizer's FP32 layers", "", f"`{command}`", "",
             f"FP32 weights of `{args.quantized}`'s recognizer, in program order: {', '.join(names)}. Word accuracy "
             "through Paddle Inference (the rest of the recognizer as quantized).", "",
             "| variant | weights on the grid | " + " | ".join(domains) + " |", "|---|---|" + "---|" * len(domains)]
    for row in rows:
        lines.append(f"| {row['variant']} | {len(row['weights'])} | "
                     + " | ".join(f"{row['accuracy'][d]:.4f}" for d in domains) + " |")
    write_text(args.out + ".md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
