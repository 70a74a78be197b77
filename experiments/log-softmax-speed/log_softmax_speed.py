"""Paddle's CPU ``F.log_softmax`` against ``quantize.train.losses.log_softmax`` over the recognizer's classes:
forward and backward wall time on one N × T × classes batch, best of ``--repeats``.

    python experiments/log-softmax-speed/log_softmax_speed.py [--shape 64 80 6625] [--repeats 3]

Writes experiments/log-softmax-speed/log-softmax-speed.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from edge_ocr.atomic import write_json, write_text  # noqa: E402


def timed(fn, x, repeats: int) -> tuple[float, float]:
    forward = backward = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        loss = fn(x).mean()
        middle = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        x.clear_gradient()
        forward, backward = min(forward, middle - start), min(backward, end - middle)
    return forward, backward


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", nargs=3, type=int, default=[64, 80, 6625])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "log-softmax-speed"))
    args = parser.parse_args()
    import paddle
    import paddle.nn.functional as F

    from edge_ocr.bench.measure import machine_info
    from edge_ocr.host.quantize.train.losses import log_softmax

    paddle.set_device("cpu")
    x = paddle.to_tensor(np.random.default_rng(0).normal(0, 4, args.shape).astype("float32"), stop_gradient=False)
    rows = {}
    for name, fn in (("paddle F.log_softmax", lambda t: F.log_softmax(t, axis=-1)),
                     ("x - max - log sum exp (losses.log_softmax)", lambda t: log_softmax(t, axis=-1))):
        forward, backward = timed(fn, x, args.repeats)
        rows[name] = {"forward_s": round(forward, 4), "backward_s": round(backward, 4)}
        print(name, rows[name], flush=True)
    info = machine_info()
    report = {"command": "python experiments/log-softmax-speed/log_softmax_speed.py " + " ".join(sys.argv[1:]),
              "shape": args.shape,
              "machine": f"{info['cpu']}, {info['cores']} cores", "paddle": paddle.__version__, "rows": rows}
    write_json(args.out + ".json", report)
    lines = ["# log_softmax on CPU over the recognizer's classes", "", f"`{report['command']}`", "",
             f"{report['machine']}; Paddle {report['paddle']}; batch {' × '.join(map(str, args.shape))}; best of "
             f"{args.repeats}.", "", "| implementation | forward (s) | backward (s) |", "|---|---|---|"]
    lines += [f"| {name} | {r['forward_s']} | {r['backward_s']} |" for name, r in rows.items()]
    write_text(args.out + ".md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
