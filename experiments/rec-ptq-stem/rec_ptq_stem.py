"""Why the PTQ recipe keeps the recognizer's stem in FP32: rec accuracy when the first K layers stay FP32.

    python experiments/rec-ptq-stem/rec_ptq_stem.py [--dev 80] [--calib 48] [--algo abs_max]

Dev crops are the last ``--dev`` of the IC15 word *train* labels, calibration the first ``--calib``; the quantized
models run through Paddle Inference's fake-quant ops (simulated int8). Writes
experiments/rec-ptq-stem/rec-ptq-stem.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks.common import machine, shared_dir, write_json  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=int, default=80)
    parser.add_argument("--calib", type=int, default=48)
    parser.add_argument("--algo", default="abs_max")
    parser.add_argument("--keep", type=int, nargs="+", default=[0, 8, 12, 16, 24])
    args = parser.parse_args()

    import numpy as np

    from edge_ocr.engines.lite import convert_to_nb
    from edge_ocr.host.quantize.compress.program import quantizable_layers
    from edge_ocr.host.quantize.compress.ptq import quantize_ptq
    from edge_ocr.host.quantize.compress.sensitivity import _RecTask

    shared = shared_dir()
    model = os.path.join(shared, "models", "ppocrv2", "ch_PP-OCRv2_rec_infer")
    task = _RecTask(os.path.join(shared, "data", "ic15_rec", "rec_gt_train.txt"), args.dev, args.calib,
                    os.path.join(shared, "models", "ppocrv2", "ppocr_keys_v1.txt"))
    layers = quantizable_layers(model)
    _, fp32 = task.run(model)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for keep in args.keep:
            out = quantize_ptq(model, task.calibration, os.path.join(work, f"k{keep}"), algo=args.algo,
                               skip_layers=[layer.weight for layer in layers[:keep]])
            _, accuracy = task.run(out)
            nb = convert_to_nb(out, os.path.join(work, f"k{keep}.nb"), target="arm")
            rows.append({"keep_first_fp32": keep, "fp32_params_kept": int(sum(np.prod(x.shape) for x in layers[:keep])),
                         "rec_accuracy": accuracy, "drop_points": round((fp32 - accuracy) * 100, 2),
                         "arm_rec_nb_bytes": os.path.getsize(nb)})
            print(rows[-1], flush=True)
    write_json(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rec-ptq-stem.json"),
               {"command": "python experiments/rec-ptq-stem/rec_ptq_stem.py", "machine": machine(), "algo": args.algo,
                "dev_crops": args.dev, "calibration_crops": args.calib, "fp32_rec_accuracy": fp32, "rows": rows})


if __name__ == "__main__":
    main()
