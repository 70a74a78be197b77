"""Each bundle's own ARM .nb files (Paddle Lite's aarch64 library, natively on ARM or under qemu here) against the
quantized inference models they were exported from (Paddle Inference, x86), image by image: the texts each reads.

    python experiments/arm-vs-simulation/arm_vs_simulation.py NAME=BUNDLE [NAME=BUNDLE ...] [--images IMG ...]
        [--out PREFIX]

A compress bundle's quantized models are found in BUNDLE-artifacts/quantized. Writes PREFIX.{json,md}
(default experiments/arm-vs-simulation/arm-vs-simulation).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from edge_ocr import OCRPipeline  # noqa: E402
from edge_ocr.atomic import write_json, write_text  # noqa: E402
from edge_ocr.engines.lite import runtime_target  # noqa: E402
from edge_ocr.evaluation.domains import shared_dir  # noqa: E402

SHARED = shared_dir()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", metavar="NAME=BUNDLE")
    parser.add_argument("--images", nargs="+",
                        default=[os.path.join(SHARED, "data", "icdar2015", "ch4_test_images", "img_11.jpg")])
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "arm-vs-simulation"))
    args = parser.parse_args()
    engine = "lite" if runtime_target() == "arm" else "lite-qemu"
    rows = []
    for item in args.bundles:
        name, _, bundle = item.partition("=")
        arm = OCRPipeline.from_bundle(bundle, threads=1, engine=engine)
        simulated = OCRPipeline.from_models(os.path.join(bundle.rstrip("/") + "-artifacts", "quantized"),
                                            engine="paddle", threads=1)
        for image in args.images:
            texts = {side: [line.text for line in pipeline.ocr_file(image).lines]
                     for side, pipeline in (("arm", arm), ("simulated", simulated))}
            rows.append({"bundle": name, "image": os.path.basename(image), **texts,
                         "same": texts["arm"] == texts["simulated"]})
            print(rows[-1], flush=True)
    report = {"command": "python experiments/arm-vs-simulation/arm_vs_simulation.py " + " ".join(sys.argv[1:]),
              "arm_runtime": engine + (" (emulated: qemu-aarch64, Raspberry Pi 4 cpuinfo, 1 thread)"
                                       if engine == "lite-qemu" else ""), "rows": rows}
    write_json(args.out + ".json", report)
    lines = ["# ARM bundles against their quantized models", "", f"`{report['command']}`", "",
             f"ARM side: {report['arm_runtime']}; simulated side: the quantized inference models in Paddle Inference.",
             "", "| bundle | image | ARM .nb reads | quantized models read | same |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['bundle']} | {row['image']} | {' / '.join(row['arm'])} | "
                     f"{' / '.join(row['simulated'])} | {'yes' if row['same'] else '**no**'} |")
    write_text(args.out + ".md", "\n".join(lines) + "\n")
    return 0 if all(row["same"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
