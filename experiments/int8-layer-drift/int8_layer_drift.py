"""Where an int8 recognizer's ARM ``.nb`` departs from its fake-quant program: the program is cut after each int8
layer (at the input of each activation quantizer, the LSTM output and the final output), each cut converted with opt
and run on Paddle Lite's ARM runtime (natively, or under qemu), and compared with Paddle Inference's value of the same
tensor on the same crops.

    python experiments/int8-layer-drift/int8_layer_drift.py NAME=QUANTIZED_REC_DIR [NAME=...] [--crops 4] [--out PREFIX]

A conversion error shows as a jump at one layer; int8 rounding that another CPU flips shows as a difference that
grows steadily along the chain. Writes PREFIX.{json,md} (default experiments/int8-layer-drift/int8-layer-drift).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from edge_ocr.atomic import write_json, write_text  # noqa: E402
from edge_ocr.evaluation.domains import shared_dir  # noqa: E402

SHARED = shared_dir()
QUANTIZERS = ("fake_quantize_dequantize_moving_average_abs_max", "fake_quantize_range_abs_max",
              "fake_quantize_moving_average_abs_max", "quantize_linear")


def drift(model_dir: str, batch: np.ndarray, work: str) -> list[dict]:
    import paddle

    from edge_ocr.engines.lite import LiteEngine, convert_to_nb, runtime_target
    from edge_ocr.host.export.charset import static_inference_model

    rows = []
    with static_inference_model(model_dir) as (scope, exe, program, feeds, fetches):
        block = program.global_block()
        cuts = []
        for op in block.ops:
            if op.type in QUANTIZERS:
                cuts.append(op.input("X")[0])
            elif op.type == "rnn":
                cuts.append(op.output("Out")[0])
        cuts = list(dict.fromkeys(cuts))
        reference = exe.run(program, feed={feeds[0]: batch}, fetch_list=[block.var(c) for c in cuts])
        for name, expected in zip(cuts, reference):
            folder = os.path.join(work, name.replace("/", "_"))
            paddle.static.save_inference_model(os.path.join(folder, "inference"), [block.var(feeds[0])],
                                               [block.var(name)], exe, program=program)
            nb = convert_to_nb(folder, folder + ".nb", target="arm")
            engine = LiteEngine(nb, threads=1, runtime="native" if runtime_target() == "arm" else "qemu")
            got = engine.run(batch)
            engine.close()
            delta = np.abs(got - expected)
            rows.append({"tensor": name, "shape": list(got.shape), "max_abs_diff": float(delta.max()),
                         "mean_abs_diff": float(delta.mean()),
                         "relative": float(delta.mean() / (np.abs(expected).mean() + 1e-12))})
            print(rows[-1], flush=True)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="NAME=QUANTIZED_REC_DIR")
    parser.add_argument("--crops", type=int, default=4, help="the first N IC15 test word crops")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "int8-layer-drift"))
    args = parser.parse_args()
    import cv2

    from edge_ocr.cls import resize_norm_padded

    folder = os.path.join(SHARED, "data", "ic15_rec", "test")
    batch = np.stack([resize_norm_padded(cv2.imread(os.path.join(folder, f"word_{i}.png")), 32, 320)
                      for i in range(1, args.crops + 1)]).astype(np.float32)
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for item in args.models:
            name, _, model_dir = item.partition("=")
            results[name] = drift(model_dir, batch, os.path.join(work, name))
    report = {"command": "python experiments/int8-layer-drift/int8_layer_drift.py " + " ".join(sys.argv[1:]),
              "crops": args.crops,
              "arm_runtime": "Paddle Lite's aarch64 library (under qemu-aarch64 on x86: emulated, 1 thread)",
              "models": results}
    write_json(args.out + ".json", report)
    lines = ["# int8 recognizers: ARM .nb against the fake-quant program, layer by layer", "",
             f"`{report['command']}`", "", "Relative = mean abs diff / mean abs value of the tensor, on the first "
             f"{args.crops} IC15 test crops.", ""]
    for name, rows in results.items():
        lines += [f"## {name}", "", "| cut after | shape | max abs diff | relative |", "|---|---|---|---|"]
        lines += [f"| {r['tensor']} | {r['shape']} | {r['max_abs_diff']:.4g} | {r['relative']:.2e} |" for r in rows]
        lines.append("")
    write_text(args.out + ".md", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
