"""Fine-tuning the text-direction classifier (0° / 180°) on word crops.

Every crop of a rec label file gives two examples: as is (class "0") and rotated by 180° (class "180"), which is all
the direction classifier has to learn.
Cross-entropy, Adam with warm-up + cosine decay, clipping, frozen BN by default, periodic evaluation (accuracy on
both orientations of the dev crops), the best model exported as an inference model, resume, metrics.csv + curve.png.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from edge_ocr.cls import resize_norm_padded
from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation.labels import read_rec_labels
from edge_ocr.images import load_image

from .loop import (
    TrainConfig,
    TrainLog,
    export_best,
    make_optimizer,
    restore,
    save_checkpoint,
    seed_all,
    set_train,
    split_parts,
    start_best,
    take_step,
)
from .qat import quantize_aware

INPUT_SHAPE = (3, 48, 192)


@dataclass
class ClsTrainConfig(TrainConfig):
    steps: int = 100
    batch_size: int = 32
    lr: float = 5e-5


class ClsData:
    """Word crops, each as (crop, 0) and (crop rotated 180°, 1), resized and padded to 3×48×192."""

    def __init__(self, label_file: str, part: slice = slice(None), limit: int | None = None):
        self.images, self.labels = [], []
        for sample in read_rec_labels(label_file)[part][:limit]:
            crop = load_image(sample.image).image
            for label, image in ((0, crop), (1, crop[::-1, ::-1])):
                self.images.append(resize_norm_padded(np.ascontiguousarray(image), *INPUT_SHAPE[1:]))
                self.labels.append(label)
        if not self.images:
            raise EdgeOCRError(f"{label_file}: no usable samples")


def evaluate_cls(net, data: ClsData, batch_size: int = 64) -> dict:
    import paddle

    net.eval()
    correct = 0
    with paddle.no_grad():
        for start in range(0, len(data.images), batch_size):
            probs = net(paddle.to_tensor(np.stack(data.images[start : start + batch_size]))).numpy()
            correct += int((probs.argmax(axis=1) == np.array(data.labels[start : start + batch_size])).sum())
    return {"accuracy": round(correct / len(data.images), 6), "samples": len(data.images)}


def train_cls(init_models: str, train_labels: str, eval_labels: str, out_dir: str,
              config: ClsTrainConfig | None = None, resume: bool = False, train_limit: int | None = None,
              eval_limit: int | None = None, dev_tail: int | None = None, progress: bool = True) -> dict:
    """Fine-tune the official classifier; returns the best evaluation (step 0 = the official weights)."""
    import paddle

    from ..nets.pruned import build_network

    config = config or ClsTrainConfig()
    rng = seed_all(config.seed)
    train_part, dev_part = split_parts(train_labels, eval_labels, eval_limit, dev_tail)
    train, dev = ClsData(train_labels, train_part, train_limit), ClsData(eval_labels, dev_part)
    net = build_network("cls", init_models, config.prune_plan, config.init_weights)
    quanters = [quantize_aware(net, pact=config.pact, keep_fp32_first=config.keep_fp32_first)] if config.qat else []
    optimizer, schedule = make_optimizer(net.parameters(), config)
    log_file = TrainLog(out_dir, ["step", "loss", "lr", "eval_accuracy"], resume)
    step, best = restore(out_dir, [net], optimizer) if resume else (0, None)
    if best is None:
        best = {**evaluate_cls(net, dev), "step": 0}
        start_best(out_dir, net, quanters, [None, *INPUT_SHAPE])
        log_file.write(step=0, eval_accuracy=best["accuracy"])
    set_train(net, config.freeze_bn)
    shape = [None, *INPUT_SHAPE]
    bar = tqdm(total=config.steps, initial=step, desc="train cls", disable=not progress)
    while step < config.steps:
        ids = rng.integers(len(train.images), size=config.batch_size)
        x = paddle.to_tensor(np.stack([train.images[i] for i in ids]))
        y = paddle.to_tensor(np.array([train.labels[i] for i in ids], np.int64))
        loss = paddle.nn.functional.cross_entropy(net(x), y)
        row = take_step(loss, optimizer, schedule, step)
        step += 1
        bar.update(1)
        if step % config.eval_every == 0 or step == config.steps:
            scores = evaluate_cls(net, dev)
            row["eval_accuracy"] = scores["accuracy"]
            if scores["accuracy"] > best["accuracy"]:
                best = {**scores, "step": step}
                export_best(net, quanters, os.path.join(out_dir, "best"), shape)
            set_train(net, config.freeze_bn)
            save_checkpoint(out_dir, [net], optimizer, step, best, asdict(config))
        log_file.write(**row)
    bar.close()
    export_best(net, quanters, os.path.join(out_dir, "final"), shape)
    log_file.plot("eval_accuracy")
    return best
