"""The recognizer's first LSTM input projection factored through a rank-r Linear (``factor_lstm_input``): what each
rank costs before any training, and how many bytes it moves from the FP32 ``rnn`` op to an int8-able Linear.

    python experiments/lstm-lowrank/lstm_lowrank.py [--ranks 512 256 192 128 96 64] [--crops 300]
        [--labels REC_LABELS ...] [--moment-labels TRAIN_LABELS ...] [--moment-crops 400]

Two truncations: plain SVD of the weights, and (with ``--moment-labels``) the one that minimises the gate
pre-activations' error on the features the LSTM really sees, from the first ``--moment-crops`` crops of each train
label file (before the evaluated tail). Accuracy: exact word accuracy of the dygraph network on each label file's
last ``--crops`` lines (a train split's tail or a dev set, never a test set), against the unfactored network on the
same crops. Writes experiments/lstm-lowrank/lstm-lowrank.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import cv2
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from edge_ocr.atomic import write_json, write_text  # noqa: E402
from edge_ocr.config import RecParams  # noqa: E402
from edge_ocr.evaluation.domains import shared_dir  # noqa: E402
from edge_ocr.evaluation.labels import read_rec_labels  # noqa: E402
from edge_ocr.rec import TextRecognizer  # noqa: E402

SHARED = shared_dir()
HIDDEN4 = 256  # 4 gates × 64


class DygraphEngine:
    name = "dygraph"

    def __init__(self, net) -> None:
        self.net, self.model_path = net, "dygraph"

    def run(self, batch: np.ndarray) -> np.ndarray:
        import paddle

        with paddle.no_grad():
            return self.net(paddle.to_tensor(batch)).numpy()


def accuracy(net, samples, dictionary: str) -> float:
    recognizer = TextRecognizer(DygraphEngine(net), dictionary, RecParams())
    crops = [cv2.imread(s.image) for s in samples]
    texts = [text for text, _ in recognizer(crops)]
    return float(np.mean([t == s.text for t, s in zip(texts, samples)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=os.path.join(SHARED, "models", "ppocrv2"))
    parser.add_argument("--labels", nargs="+", default=[os.path.join(SHARED, "data", "ic15_rec", "rec_gt_train.txt")])
    parser.add_argument("--ranks", nargs="+", type=int, default=[512, 256, 192, 128, 96, 64])
    parser.add_argument("--crops", type=int, default=300)
    parser.add_argument("--moment-labels", nargs="*", default=[],
                        help="train label files whose crops give E[x xT] of the LSTM input (whitened truncation)")
    parser.add_argument("--moment-crops", type=int, default=400, help="first N crops of each --moment-labels file")
    parser.add_argument("--distill-steps", type=int, default=0,
                        help="also distill each whitened factoring's head from the official recognizer on the "
                             "--moment-labels crops for this many steps (quantize.train.lstm_distill.distill_head)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "lstm-lowrank"))
    args = parser.parse_args()

    from edge_ocr.host.quantize.nets.rec_lcnet_crnn import factor_lstm_input
    from edge_ocr.host.quantize.nets.registry import load_official
    from edge_ocr.models import resolve_models

    dictionary = resolve_models(args.models).dictionary
    net = load_official("rec", args.models)
    net.eval()
    sets = {os.path.basename(path): read_rec_labels(path)[-args.crops:] for path in args.labels}
    moment = None
    if args.moment_labels:
        from edge_ocr.cls import resize_norm_padded
        from edge_ocr.host.quantize.nets.rec_lcnet_crnn import feature_moment
        from edge_ocr.host.quantize.train.lstm_distill import backbone_features, distill_head

        evaluated = {os.path.abspath(s.image) for samples in sets.values() for s in samples}
        train = [s for path in args.moment_labels for s in read_rec_labels(path)[: args.moment_crops]
                 if os.path.abspath(s.image) not in evaluated]
        images = np.stack([resize_norm_padded(cv2.imread(s.image), 32, 320) for s in train])
        features = backbone_features(net, images)  # once: the weighting and every distillation use them
        moment = feature_moment(features[i: i + 256] for i in range(0, len(features), 256))
    methods = ["svd"] + (["whitened"] if moment is not None else []) + (
        ["whitened+distilled"] if moment is not None and args.distill_steps else [])
    rows = []
    for method, rank in [(None, None)] + [(m, r) for m in methods for r in args.ranks]:
        start = time.perf_counter()
        model = net if rank is None else factor_lstm_input(net, rank, moment if method != "svd" else None)
        if method == "whitened+distilled":
            distill_head(net, model, features, args.distill_steps)
        model.eval()
        channels = 512
        rnn_input_fp32 = 2 * HIDDEN4 * (rank or channels)
        row = {"method": method, "rank": rank, "rnn_input_weights_fp32": rnn_input_fp32,
               "linear_weights_int8": channels * rank if rank else 0,
               "bytes": 4 * rnn_input_fp32 + (channels * rank if rank else 0),
               "accuracy": {name: accuracy(model, samples, dictionary) for name, samples in sets.items()},
               "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    report = {"command": "python experiments/lstm-lowrank/lstm_lowrank.py " + " ".join(sys.argv[1:]),
              "crops": args.crops,
              "labels": args.labels, "moment_labels": args.moment_labels, "moment_crops": args.moment_crops,
              "distill_steps": args.distill_steps,
              "rows": rows, "note": "dygraph FP32; svd / whitened: the error of the truncation alone"}
    write_json(args.out + ".json", report)
    base = rows[0]["bytes"]
    lines = ["# LSTM input projection, factored", "", f"`{report['command']}`", "",
             "Truncation: `svd` of the weights alone; `whitened`: weighted by E[x xT] of the LSTM's inputs on train "
             "crops (minimum error of the gate pre-activations); `whitened+distilled`: then the head (shared Linear, "
             "LSTM, FCs) distilled from the official recognizer on the same train crops, backbone frozen.", "",
             "| truncation | rank | FP32 rnn input weights | int8 Linear weights | bytes (FP32 + int8) | saved | "
             + " | ".join(f"acc. {name}" for name in sets) + " |",
             "|---|---|---|---|---|---|" + "---|" * len(sets)]
    for row in rows:
        lines.append(f"| {row['method'] or '-'} | {row['rank'] or 'none (official)'} | "
                     f"{row['rnn_input_weights_fp32']:,} | "
                     f"{row['linear_weights_int8']:,} | {row['bytes']:,} | {base - row['bytes']:,} | "
                     + " | ".join(f"{row['accuracy'][name]:.4f}" for name in sets) + " |")
    write_text(args.out + ".md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
