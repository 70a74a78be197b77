"""What every training loop shares: BN freezing, optimizer + schedule, checkpoints, the metrics log and its plot."""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass


@dataclass
class TrainConfig:
    """What every training loop takes: schedule, evaluation, BatchNorm, QAT and the network to start from."""

    steps: int = 200
    batch_size: int = 16
    lr: float = 1e-4
    warmup_steps: int = 10
    clip_norm: float = 10.0
    eval_every: int = 50
    seed: int = 0
    freeze_bn: bool = True  # keep the official BatchNorm statistics: small CPU batches would move them
    qat: bool = False  # quantization-aware training: fake-quant layers in the students, int8 export
    pact: bool = False  # QAT: PACT clipping of activations
    keep_fp32_first: int = 0  # QAT: the first N conv/linear layers stay FP32
    prune_plan: dict | None = None  # train a network pruned to this plan (quantize.nets.pruned)
    init_weights: str | None = None  # start from these weights (.pdparams of the same, possibly pruned, network)


def seed_all(seed: int):
    """Seed Python, numpy and paddle; returns a numpy Generator for data sampling."""
    import random

    import numpy as np
    import paddle

    random.seed(seed)
    np.random.seed(seed)
    paddle.seed(seed)
    return np.random.default_rng(seed)


def set_train(net, freeze_bn: bool) -> None:
    """Training mode, with BatchNorm layers kept in eval mode (frozen running statistics) when ``freeze_bn``."""
    import paddle

    net.train()
    if freeze_bn:
        for layer in net.sublayers():
            if isinstance(layer, paddle.nn.layer.norm._BatchNormBase):
                layer.eval()


def make_optimizer(parameters, config):
    """Adam with linear warm-up into a cosine decay, and global-norm gradient clipping; (optimizer, schedule)."""
    import paddle

    schedule = paddle.optimizer.lr.LinearWarmup(
        paddle.optimizer.lr.CosineAnnealingDecay(config.lr, T_max=max(1, config.steps)),
        warmup_steps=config.warmup_steps, start_lr=config.lr / 10, end_lr=config.lr)
    optimizer = paddle.optimizer.Adam(schedule, parameters=parameters,
                                      grad_clip=paddle.nn.ClipGradByGlobalNorm(config.clip_norm))
    return optimizer, schedule


def take_step(loss, optimizer, schedule, step: int) -> dict:
    """Backward pass, optimizer step, cleared gradients and the next learning rate; the metrics-log row of the new
    step (``step`` is the number of steps taken before this one)."""
    loss.backward()
    optimizer.step()
    optimizer.clear_grad()
    schedule.step()
    return {"step": step + 1, "loss": float(loss), "lr": optimizer.get_lr()}


def save_checkpoint(out_dir: str, nets, optimizer, step: int, best: dict, config: dict) -> None:
    import paddle

    for i, net in enumerate(nets):
        paddle.save(net.state_dict(), os.path.join(out_dir, f"student{i}.pdparams"))
    paddle.save(optimizer.state_dict(), os.path.join(out_dir, "optimizer.pdopt"))
    tmp = os.path.join(out_dir, "checkpoint.json.tmp")
    with open(tmp, "w") as handle:
        json.dump({"step": step, "best": best, "config": config}, handle)
    os.replace(tmp, os.path.join(out_dir, "checkpoint.json"))


def restore(out_dir: str, nets, optimizer) -> tuple[int, dict | None]:
    """(step, best) from ``out_dir/checkpoint.json`` with weights and optimizer state loaded; (0, None) if absent."""
    import paddle

    path = os.path.join(out_dir, "checkpoint.json")
    if not os.path.isfile(path):
        return 0, None
    with open(path) as handle:
        state = json.load(handle)
    for i, net in enumerate(nets):
        net.set_state_dict(paddle.load(os.path.join(out_dir, f"student{i}.pdparams")))
    optimizer.set_state_dict(paddle.load(os.path.join(out_dir, "optimizer.pdopt")))
    return state["step"], state["best"]


class TrainLog:
    """metrics.csv (appended on resume) and curve.png (loss and an eval metric against steps)."""

    def __init__(self, out_dir: str, fields: list[str], resume: bool) -> None:
        os.makedirs(out_dir, exist_ok=True)
        self.out_dir, self.fields = out_dir, fields
        self.path = os.path.join(out_dir, "metrics.csv")
        if not (resume and os.path.isfile(self.path)):
            with open(self.path, "w", newline="") as handle:
                csv.writer(handle).writerow(fields)

    def write(self, **row) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, fieldnames=self.fields).writerow({k: row.get(k, "") for k in self.fields})

    def plot(self, metric: str) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return
        with open(self.path) as handle:
            rows = list(csv.DictReader(handle))
        trained = [r for r in rows if r["loss"]]
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([int(r["step"]) for r in trained], [float(r["loss"]) for r in trained], label="train loss")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        evals = [r for r in rows if r.get(metric)]
        if evals:
            ax2 = ax.twinx()
            ax2.plot([int(r["step"]) for r in evals], [float(r[metric]) for r in evals], "o-", color="C1")
            ax2.set_ylabel(metric)
        fig.tight_layout()
        fig.savefig(os.path.join(self.out_dir, "curve.png"), dpi=100)
        plt.close(fig)


def split_parts(train_labels: str, eval_labels: str, eval_limit: int | None,
                dev_tail: int | None) -> tuple[slice, slice]:
    """Which samples train and which evaluate. With ``dev_tail`` the evaluation takes the last ``dev_tail`` samples
    of ``eval_labels`` (a dev split: model selection without the test set); when those are the train labels too,
    they are held out of training. The tail of a file that an evaluation domain scores (TD500's train labels) is
    never trained or selected on: the parts end before it."""
    from edge_ocr.evaluation.domains import usable_part

    def reserved(labels: str) -> int:  # samples at the end of ``labels`` that an evaluation domain owns
        part = usable_part(labels) if os.path.exists(labels) else slice(None)
        return -part.stop if part is not None and part.stop else 0

    train_end = reserved(train_labels)
    if not dev_tail:
        return slice(-train_end or None), slice(eval_limit)
    held_out = os.path.exists(eval_labels) and os.path.samefile(train_labels, eval_labels)
    eval_end = reserved(eval_labels)
    return (slice(-(train_end + dev_tail) if held_out else -train_end or None),
            slice(-(eval_end + dev_tail), -eval_end or None))


def start_best(out_dir: str, net, quanters: list, input_shape: list) -> None:
    """A fresh run: an earlier run's best model goes; an FP32 run's starting weights are its first best, so a stage
    that never beats them on the dev split hands on those, not its last step. (A QAT run's start has no scales yet.)"""
    shutil.rmtree(os.path.join(out_dir, "best"), ignore_errors=True)
    if os.path.isfile(os.path.join(out_dir, "best.pdparams")):
        os.remove(os.path.join(out_dir, "best.pdparams"))
    if not quanters:
        export_best(net, quanters, os.path.join(out_dir, "best"), input_shape)


def export_best(net, quanters: list, out_dir: str, input_shape: list) -> str:
    """Export the best student: with its fake-quant ops when it trains quantization-aware. An FP32 student's
    weights also go to ``out_dir.pdparams``, where a later stage (QAT after pruning recovery) starts from them."""
    import paddle

    if quanters:
        from .qat import save_qat_model

        return save_qat_model(quanters[0], net, out_dir, input_shape)
    from ..nets.export import save_inference_model

    save_inference_model(net, out_dir, input_shape)
    paddle.save(net.state_dict(), out_dir.rstrip("/") + ".pdparams")
    return out_dir
