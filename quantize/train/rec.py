"""Fine-tuning the recognizer: CTC (or enhanced CTC) on labelled word crops, optionally with U-DML.

U-DML (PP-OCRv2): two students start from the same weights and learn together: CTC on the ground truth for each,
DML (symmetric KL) between their outputs and an L2 distance between their backbone features. Adam, cosine schedule
with linear warm-up, gradient clipping, periodic evaluation (word accuracy, as ``edge-ocr eval``), the best model
kept and exported as an inference model, a resumable checkpoint, metrics.csv and a PNG curve. On several GPUs it runs
unchanged under ``python -m paddle.distributed.launch`` (the model is wrapped in ``paddle.DataParallel`` when more
than one trainer is running).
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from edge_ocr.cls import resize_norm_padded
from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation.labels import read_rec_labels
from edge_ocr.evaluation.metrics import score_recognition
from edge_ocr.images import load_image
from edge_ocr.rec import ctc_greedy_decode, load_charset

from .augment import rec_augment
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

log = logging.getLogger(__name__)


@dataclass
class RecTrainConfig(TrainConfig):
    distill: str | None = None  # None, "udml", "teacher" or "udml+teacher" (see DISTILL)
    enhanced_ctc: bool = False
    center_weight: float = 0.05
    width: int = 320
    augment: bool = False  # word-crop augmentations (quantize.train.augment.rec_augment) on the training batches
    lstm_input_rank: int | None = None  # factor the first LSTM layer's input projection to this rank (SVD start)
    lstm_distill_steps: int = 200  # then distill the factored LSTM alone on cached features before training
    # weight of CTC on the labels; 0 with a teacher: distillation only, the student learns to read what FP32 reads
    # (its spaces, its case) rather than the conventions of the label files (IC15 words have no spaces)
    label_weight: float = 1.0


# U-DML: two students, DML on outputs + L2 on backbone features; "teacher": the same two terms against the frozen
# official FP32 recognizer (distillation: what recovers a pruned or quantized student).
DISTILL = (None, "udml", "teacher", "udml+teacher")


def encode(text: str, index: dict[str, int]) -> list[int]:
    return [index[c] for c in text if c in index]


class RecData:
    """Word crops resized and padded to 3×32×width as in training, with their label indices."""

    def __init__(self, label_file: str, charset: list[str], width: int, part: slice = slice(None),
                 limit: int | None = None, keep_crops: bool = False):
        index = {c: i for i, c in enumerate(charset) if i > 0}
        self.width, self.items, self.crops = width, [], []
        for sample in read_rec_labels(label_file)[part][:limit]:
            label = encode(sample.text, index)
            if not label:
                continue
            crop = load_image(sample.image).image
            self.items.append((resize_norm_padded(crop, 32, width), label, sample.text))
            if keep_crops:  # augmented batches are resized from the original crops
                self.crops.append(crop)
        if not self.items:
            raise EdgeOCRError(f"{label_file}: no usable samples")

    def batch(self, ids: list[int], rng: np.random.Generator | None = None):
        """Images, padded label indices and label lengths; with ``rng``, the crops are augmented first."""
        import paddle

        if rng is not None and self.crops:
            images = np.stack([resize_norm_padded(rec_augment(self.crops[i], rng), 32, self.width) for i in ids])
        else:
            images = np.stack([self.items[i][0] for i in ids])
        longest = max(len(self.items[i][1]) for i in ids)
        labels = np.zeros((len(ids), longest), np.int32)
        for row, i in enumerate(ids):
            labels[row, : len(self.items[i][1])] = self.items[i][1]
        lengths = np.array([len(self.items[i][1]) for i in ids], np.int64)
        return paddle.to_tensor(images), paddle.to_tensor(labels), paddle.to_tensor(lengths)


def evaluate(net, data: RecData, charset: list[str], batch_size: int = 32) -> dict:
    import paddle

    net.eval()
    pairs = []
    with paddle.no_grad():
        for start in range(0, len(data.items), batch_size):
            ids = list(range(start, min(len(data.items), start + batch_size)))
            images, _, _ = data.batch(ids)
            probs = net(images).numpy()
            for (text, _), i in zip(ctc_greedy_decode(probs, charset), ids):
                pairs.append((text, data.items[i][2]))
    return score_recognition(pairs).to_dict()


def train_rec(init_models: str, train_labels: str, eval_labels: str, out_dir: str,
              config: RecTrainConfig | None = None, resume: bool = False, train_limit: int | None = None,
              eval_limit: int | None = None, dev_tail: int | None = None, progress: bool = True) -> dict:
    """Fine-tune from the official weights in ``init_models``; returns the best evaluation."""
    import paddle

    from ..nets.registry import load_official
    from . import losses

    config = config or RecTrainConfig()
    if not config.label_weight and "teacher" not in (config.distill or "") and "udml" not in (config.distill or ""):
        raise ValueError("label_weight 0 needs a teacher or a second student to learn from")
    if config.distill not in DISTILL:
        raise EdgeOCRError(f"rec distillation is one of {', '.join(d for d in DISTILL if d)}")
    from edge_ocr.models import resolve_models

    charset = load_charset(resolve_models(init_models).dictionary)
    augment_rng = seed_all(config.seed)
    train_part, dev_part = split_parts(train_labels, eval_labels, eval_limit, dev_tail)
    train = RecData(train_labels, charset, config.width, train_part, train_limit, keep_crops=config.augment)
    dev = RecData(eval_labels, charset, config.width, dev_part)
    from ..nets.pruned import build_network

    distill = config.distill or ""
    students = [build_network("rec", init_models, config.prune_plan, config.init_weights)
                for _ in range(2 if "udml" in distill else 1)]
    if config.lstm_input_rank:  # int8-able Linear outside the rnn op; distillation recovers what the truncation cut
        from ..nets.rec_lcnet_crnn import factor_lstm_input
        from .lstm_distill import backbone_features, factored_and_distilled

        # cheap (backbone frozen, features cached): QAT then starts near the official network; every student
        # starts from the same factored weights
        features = backbone_features(students[0], np.stack([item[0] for item in train.items[:3000]]))
        first = factored_and_distilled(students[0], config.lstm_input_rank, features, config.lstm_distill_steps,
                                       config.seed)
        others = [factor_lstm_input(s, config.lstm_input_rank) for s in students[1:]]
        for other in others:
            other.set_state_dict(first.state_dict())
        students = [first, *others]
    teacher = load_official("rec", init_models) if "teacher" in distill else None
    if teacher is not None:
        teacher.eval()
    quanters = [quantize_aware(s, pact=config.pact, keep_fp32_first=config.keep_fp32_first)
                for s in students] if config.qat else []
    centers = paddle.create_parameter([len(charset), 96], "float32",
                                      default_initializer=paddle.nn.initializer.Constant(0.0))
    centers.stop_gradient = True
    params = [p for s in students for p in s.parameters()]
    optimizer, schedule = make_optimizer(params, config)
    if paddle.distributed.get_world_size() > 1:
        paddle.distributed.init_parallel_env()
        students = [paddle.DataParallel(s) for s in students]
    log_file = TrainLog(out_dir, ["step", "loss", "lr", "eval_accuracy", "eval_norm_edit_distance"], resume)
    step, best = restore(out_dir, students, optimizer) if resume else (0, None)
    if best is None:
        start_scores = evaluate(students[0], dev, charset)  # the official weights, as the reference
        best = {**start_scores, "step": 0}
        start_best(out_dir, students[0], quanters, [None, 3, 32, None])
        log_file.write(step=0, eval_accuracy=start_scores["accuracy"],
                       eval_norm_edit_distance=start_scores["norm_edit_distance"])
    for s in students:
        set_train(s, config.freeze_bn)
    order = list(range(len(train.items)))
    bar = tqdm(total=config.steps, initial=step, desc="train rec", disable=not progress)
    while step < config.steps:
        random.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            if step >= config.steps:
                break
            images, labels, lengths = train.batch(order[start : start + config.batch_size],
                                                  augment_rng if config.augment else None)
            outputs = [s(images, return_features=True) for s in students]  # (logits, backbone, mid)
            loss = 0
            if config.label_weight:
                for logits, _, _ in outputs:
                    loss = loss + config.label_weight * losses.ctc_loss(logits, labels, lengths)
            if config.enhanced_ctc:
                logits, _, mid = outputs[0]
                loss = loss + config.center_weight * losses.center_loss(mid, logits, centers)
                _update_centers(centers, mid, logits)
            if len(outputs) == 2:
                loss = loss + losses.dml_loss(outputs[0][0], outputs[1][0]) + losses.feature_distance(
                    outputs[0][1], outputs[1][1])
            if teacher is not None:
                with paddle.no_grad():  # the frozen teacher's logits: in eval mode its forward returns softmax,
                    target_features = teacher.backbone(images)  # and the softmax of probabilities is nearly flat
                    target_logits, _ = teacher.head(target_features)
                for logits, features, _ in outputs:
                    loss = loss + losses.dml_loss(logits, target_logits) + losses.feature_distance(
                        features, target_features)
            row = take_step(loss, optimizer, schedule, step)
            step += 1
            bar.update(1)
            if step % config.eval_every == 0 or step == config.steps:
                scores = evaluate(students[0], dev, charset)
                row.update(eval_accuracy=scores["accuracy"], eval_norm_edit_distance=scores["norm_edit_distance"])
                if scores["accuracy"] > best["accuracy"]:
                    best = {**scores, "step": step}
                    export_best(students[0], quanters, os.path.join(out_dir, "best"), [None, 3, 32, None])
                for s in students:
                    set_train(s, config.freeze_bn)
                save_checkpoint(out_dir, students, optimizer, step, best, asdict(config))
            log_file.write(**row)
    bar.close()
    export_best(students[0], quanters, os.path.join(out_dir, "final"), [None, 3, 32, None])
    log_file.plot("eval_accuracy")
    return best


def _update_centers(centers, features, logits, momentum: float = 0.9) -> None:
    """Move each predicted class's centre towards the mean feature of its steps (exponential moving average)."""
    import paddle

    with paddle.no_grad():
        predicted = logits.argmax(axis=2).flatten().numpy()
        feats = features.reshape([-1, features.shape[-1]]).numpy()
        table = centers.numpy()
        for cls in np.unique(predicted[predicted != 0]):
            table[cls] = momentum * table[cls] + (1 - momentum) * feats[predicted == cls].mean(axis=0)
        centers.set_value(table)
