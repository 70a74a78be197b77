"""A few training steps lower the loss on a tiny set; resume restores the state."""

import csv
import json
import os

import pytest

from quantize.train_rec import RecTrainConfig, train_rec


@pytest.fixture(scope="module")
def tiny(shared, tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    src = os.path.join(shared, "data", "ic15_rec")
    lines = open(os.path.join(src, "rec_gt_train.txt"), encoding="utf-8").read().splitlines()[:4]
    with open(root / "train.txt", "w", encoding="utf-8") as handle:
        for line in lines:
            path, text = line.split("\t", 1)
            handle.write(f"{os.path.join(src, path)}\t{text}\n")
    return str(root / "train.txt")


def _losses(out):
    with open(os.path.join(out, "metrics.csv")) as handle:
        return [float(r["loss"]) for r in csv.DictReader(handle) if r["loss"]]


def test_rec_steps_lower_the_loss_and_export(models_dir, tiny, tmp_path):
    out = str(tmp_path / "run")
    config = RecTrainConfig(steps=6, batch_size=4, lr=5e-4, warmup_steps=1, eval_every=3, enhanced_ctc=True)
    best = train_rec(models_dir, tiny, tiny, out, config, progress=False)
    history = _losses(out)
    assert len(history) == 6 and min(history[-2:]) < history[0]
    assert best["accuracy"] >= 0 and os.path.isfile(os.path.join(out, "best", "inference.pdmodel"))
    assert os.path.isfile(os.path.join(out, "curve.png"))


def test_udml_and_resume(models_dir, tiny, tmp_path):
    out = str(tmp_path / "run")
    config = RecTrainConfig(steps=2, batch_size=4, warmup_steps=1, eval_every=2, distill="udml")
    train_rec(models_dir, tiny, tiny, out, config, progress=False)
    assert json.load(open(os.path.join(out, "checkpoint.json")))["step"] == 2
    assert os.path.isfile(os.path.join(out, "student1.pdparams"))
    config.steps = 4
    train_rec(models_dir, tiny, tiny, out, config, resume=True, progress=False)
    assert json.load(open(os.path.join(out, "checkpoint.json")))["step"] == 4
    assert len(_losses(out)) == 4  # 2 steps, then 2 more after resuming
