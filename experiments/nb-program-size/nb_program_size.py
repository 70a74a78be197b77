"""What each step of the .nb program's diet saves, and proof that the bundle computes the same: one set of quantized
models exported three ways (opt's program as it is; without the attributes Paddle Lite never reads; that program
compacted, the default), each model run on the ARM runtime on the same inputs and compared bit for bit.

    python experiments/nb-program-size/nb_program_size.py QUANTIZED_DIR [--weight-only rec] [--bits 16] [--name NAME]

QUANTIZED_DIR: compress's ``RUN-artifacts/quantized-weights-int16`` (or ``quantized``); ``--weight-only``: the roles
compress packs (the recognizer's FP32 stem). Writes experiments/nb-program-size/nb-program-size[-NAME].{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks.common import machine, shared_dir  # noqa: E402
from edge_ocr.atomic import write_json, write_text  # noqa: E402

STEPS = (("opt as it is", dict(keep_attrs=True, compact_program=False)),
         ("unread attributes dropped", dict(keep_attrs=False, compact_program=False)),
         ("and the program compacted (default)", dict(keep_attrs=False, compact_program=True)))


def inputs(shared: str) -> dict[str, np.ndarray]:
    """Fixed inputs per model: 3 IC15 test word crops (cls, rec) and one test image (det)."""
    import cv2

    from edge_ocr.cls import resize_norm_padded
    from edge_ocr.config import DetParams
    from edge_ocr.det import preprocess_det

    crops = [cv2.imread(os.path.join(shared, "data", "ic15_rec", "test", f"word_{i}.png")) for i in (1, 2, 3)]
    image = cv2.imread(os.path.join(shared, "data", "icdar2015", "ch4_test_images", "img_11.jpg"))
    params = DetParams(limit_side_len=480)  # a smaller side keeps the emulated run short
    return {"det": preprocess_det(image, params),
            "cls": np.stack([resize_norm_padded(c, 48, 192) for c in crops]).astype(np.float32),
            "rec": np.stack([resize_norm_padded(c, 32, 320) for c in crops]).astype(np.float32)}


def measure(quantized: str, weight_only: tuple[str, ...], bits: int, shared: str) -> dict:
    import platform

    from edge_ocr.engines.lite import LiteEngine
    from edge_ocr.host.export.bundle import export_bundle

    runtime = "auto" if platform.machine() in ("aarch64", "arm64") else "qemu"
    batches = inputs(shared)
    rows, outputs = [], {}
    with tempfile.TemporaryDirectory(prefix="nb-size-") as work:
        for label, options in STEPS:
            out = export_bundle(quantized, os.path.join(work, str(len(rows))), target="arm", weight_bits=bits,
                                weight_only=weight_only, **options)
            sizes = {role: os.path.getsize(os.path.join(out, f"{role}.nb")) for role in ("det", "cls", "rec")}
            same = {}
            for role, batch in batches.items():
                engine = LiteEngine(os.path.join(out, f"{role}.nb"), threads=1, runtime=runtime)
                try:
                    result = engine.run(batch)
                finally:
                    engine.close()
                outputs.setdefault(role, result)
                same[role] = bool(np.array_equal(result, outputs[role]))
            rows.append({"step": label, "options": options, "nb_bytes": sizes, "total_nb_bytes": sum(sizes.values()),
                         "bit_identical_to_first": same})
    return {"rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("quantized")
    parser.add_argument("--weight-only", nargs="*", default=["rec"], metavar="ROLE")
    parser.add_argument("--bits", type=int, default=16)
    parser.add_argument("--name", default="")
    args = parser.parse_args()
    start = time.time()
    result = measure(args.quantized, tuple(args.weight_only), args.bits, shared_dir())
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "nb-program-size" + (f"-{args.name}" if args.name else ""))
    report = {"command": " ".join(["python", "experiments/nb-program-size/nb_program_size.py", *sys.argv[1:]]),
              "machine": machine(),
              "runtime": "Paddle Lite's aarch64 library (../shared/arm), emulated under qemu-aarch64 unless on ARM",
              "seconds": round(time.time() - start, 1), "quantized": args.quantized, **result}
    write_json(out + ".json", report)
    lines = ["# .nb program size, step by step", "", f"`{report['command']}`", "",
             "Bytes of each model's .nb; 'same' = its ARM output is bit for bit the first row's on the same input.", "",
             "| step | det.nb | cls.nb | rec.nb | total | same on ARM (det / cls / rec) |", "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        sizes, same = row["nb_bytes"], row["bit_identical_to_first"]
        lines.append(f"| {row['step']} | {sizes['det']:,} | {sizes['cls']:,} | {sizes['rec']:,} | "
                     f"{row['total_nb_bytes']:,} | {' / '.join('yes' if same[r] else 'NO' for r in same)} |")
    write_text(out + ".md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(all(row["bit_identical_to_first"].values()) for row in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
