"""Fine-tuning the detector: DB loss on polygon labels, optionally with CML and CopyPaste.

CML (PP-OCRv2): a frozen teacher (the official FP32 detector) and two students trained together: DB loss on the
ground truth for each student, the teacher's binarised map as a DB target for each (distillation), and a symmetric
KL between the students' maps (mutual learning). CopyPaste adds text instances from another training image.
Augmentations: random scale and crop to the training size keeping text, small rotation, horizontal flip and colour
jitter. The evaluation is the det Hmean of ``edge-ocr eval`` on the eval labels; the best student is exported.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from tqdm import tqdm

from edge_ocr.config import DetParams
from edge_ocr.det import TextDetector, normalize_to_chw
from edge_ocr.errors import EdgeOCRError
from edge_ocr.evaluation import DetCounts, read_det_labels, score_detection
from edge_ocr.evaluation.labels import DONT_CARE
from edge_ocr.images import load_image

from .augment import copy_paste
from .db_labels import make_db_labels
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

DET_DISTILL = (None, "cml", "teacher", "mimic")


@dataclass
class DetTrainConfig(TrainConfig):
    batch_size: int = 2
    size: int = 640
    # None, "cml" (teacher + two students), "teacher" (teacher + one student) or "mimic" (teacher only, no
    # ground truth: a pruned detector learns to reproduce the FP32 one instead of drifting towards the train labels)
    distill: str | None = None
    copy_paste: bool = False


def augment(image: np.ndarray, boxes: list[dict], size: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
    """Random scale + rotation (±10°) + crop to size×size around text, horizontal flip, colour jitter."""
    h, w = image.shape[:2]
    scale = size / max(h, w) * rng.uniform(0.8, 1.6)
    angle = rng.uniform(-10, 10)
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    care = [b for b in boxes if b["transcription"] not in DONT_CARE] or boxes
    if care:
        cx, cy = np.mean(np.asarray(rng.choice(care)["points"], np.float32), axis=0)
        center = matrix @ np.array([cx, cy, 1.0])
    else:
        center = matrix @ np.array([w / 2, h / 2, 1.0])
    matrix[:, 2] += size / 2 - center + rng.uniform(-size / 4, size / 4, 2)
    out = cv2.warpAffine(image, matrix, (size, size), borderValue=(0, 0, 0))
    moved = []
    for b in boxes:
        pts = np.hstack([np.asarray(b["points"], np.float32), np.ones((len(b["points"]), 1), np.float32)]) @ matrix.T
        moved.append({"points": pts.tolist(), "transcription": b["transcription"]})
    if rng.random() < 0.5:
        out = out[:, ::-1].copy()
        for b in moved:
            b["points"] = [[size - 1 - x, y] for x, y in b["points"]]
    out = np.clip(out.astype(np.float32) * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    return out, moved


class DetData:
    def __init__(self, label_file: str, part: slice = slice(None), limit: int | None = None):
        self.samples = read_det_labels(label_file)[part][:limit]
        if not self.samples:
            raise EdgeOCRError(f"{label_file}: no samples")
        self.images = [load_image(s.image).image for s in self.samples]
        self.boxes = [[{"points": b.points, "transcription": b.text} for b in s.boxes] for s in self.samples]

    def example(self, index: int, config: DetTrainConfig, rng: np.random.Generator):
        image, boxes = self.images[index], self.boxes[index]
        if config.copy_paste and len(self.images) > 1:
            donor = int(rng.integers(len(self.images) - 1))
            donor += donor >= index
            image, boxes = copy_paste(image, boxes, self.images[donor], self.boxes[donor], rng)
        image, boxes = augment(image, boxes, config.size, rng)
        p = DetParams()
        x = normalize_to_chw(image, p.mean, p.std, p.scale)
        labels = make_db_labels(config.size, config.size, [np.asarray(b["points"]) for b in boxes],
                                [b["transcription"] in DONT_CARE for b in boxes])
        return x, labels


class _NetEngine:
    """Runs a dygraph detector in eval mode behind the runtime's Engine interface."""

    name, model_path = "dygraph", ""

    def __init__(self, net):
        self.net = net

    def run(self, batch: np.ndarray) -> np.ndarray:
        import paddle

        with paddle.no_grad():
            return self.net(paddle.to_tensor(batch)).numpy()


def evaluate_det(net, data: DetData) -> dict:
    net.eval()
    detector = TextDetector(_NetEngine(net))
    counts = DetCounts()
    for image, sample in zip(data.images, data.samples):
        boxes, _ = detector(image)
        counts += score_detection(sample.boxes, [b.tolist() for b in boxes])
    return counts.to_dict()


def train_det(init_models: str, train_labels: str, eval_labels: str, out_dir: str,
              config: DetTrainConfig | None = None, resume: bool = False, train_limit: int | None = None,
              eval_limit: int | None = None, dev_tail: int | None = None, progress: bool = True) -> dict:
    """Fine-tune the detector from the official weights; returns the best evaluation."""
    import paddle

    from ..nets.registry import load_official
    from . import losses

    config = config or DetTrainConfig()
    if config.distill not in DET_DISTILL:
        raise EdgeOCRError(f"det distillation is one of {', '.join(d for d in DET_DISTILL if d)}")
    rng = seed_all(config.seed)
    train_part, dev_part = split_parts(train_labels, eval_labels, eval_limit, dev_tail)
    train, dev = DetData(train_labels, train_part, train_limit), DetData(eval_labels, dev_part)
    from ..nets.pruned import build_network

    students = [build_network("det", init_models, config.prune_plan, config.init_weights)
                for _ in range(2 if config.distill == "cml" else 1)]
    quanters = [quantize_aware(s, pact=config.pact, keep_fp32_first=config.keep_fp32_first)
                for s in students] if config.qat else []
    teacher = load_official("det", init_models) if config.distill else None
    if teacher is not None:
        teacher.eval()
    optimizer, schedule = make_optimizer([p for s in students for p in s.parameters()], config)
    log_file = TrainLog(out_dir, ["step", "loss", "lr", "eval_hmean", "eval_precision", "eval_recall"], resume)
    step, best = restore(out_dir, students, optimizer) if resume else (0, None)
    if best is None:
        scores = evaluate_det(students[0], dev)
        best = {**scores, "step": 0}
        start_best(out_dir, students[0], quanters, [None, 3, None, None])
        log_file.write(step=0, eval_hmean=scores["hmean"], eval_precision=scores["precision"],
                       eval_recall=scores["recall"])
    for s in students:
        set_train(s, config.freeze_bn)
    bar = tqdm(total=config.steps, initial=step, desc="train det", disable=not progress)
    while step < config.steps:
        ids = rng.integers(len(train.images), size=config.batch_size)
        examples = [train.example(int(i), config, rng) for i in ids]
        x = paddle.to_tensor(np.stack([e[0] for e in examples]))
        labels = {k: paddle.to_tensor(np.stack([e[1][k] for e in examples])) for k in examples[0][1]}
        maps = [s(x) for s in students]
        loss = 0 if config.distill == "mimic" else sum(losses.db_loss(m, labels)["loss"] for m in maps)
        if teacher is not None:
            with paddle.no_grad():
                target = teacher(x)
            loss = loss + sum(losses.map_distillation_loss(m["shrink"], target) for m in maps)
            if config.distill == "mimic":  # the teacher's soft map too: box scores are mean probabilities
                loss = loss + sum(losses.soft_map_loss(m["shrink"], target) for m in maps)
            if len(maps) == 2:
                loss = loss + losses.map_dml_loss(maps[0]["shrink"], maps[1]["shrink"])
        row = take_step(loss, optimizer, schedule, step)
        step += 1
        bar.update(1)
        if step % config.eval_every == 0 or step == config.steps:
            scores = evaluate_det(students[0], dev)
            row.update(eval_hmean=scores["hmean"], eval_precision=scores["precision"], eval_recall=scores["recall"])
            if scores["hmean"] > best["hmean"]:
                best = {**scores, "step": step}
                export_best(students[0], quanters, os.path.join(out_dir, "best"), [None, 3, None, None])
            for s in students:
                set_train(s, config.freeze_bn)
            save_checkpoint(out_dir, students, optimizer, step, best, asdict(config))
        log_file.write(**row)
    bar.close()
    export_best(students[0], quanters, os.path.join(out_dir, "final"), [None, 3, None, None])
    log_file.plot("eval_hmean")
    with open(os.path.join(out_dir, "best.json"), "w") as handle:
        json.dump(best, handle, indent=1)
    return best

