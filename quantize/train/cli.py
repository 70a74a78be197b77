"""``edge-ocr train``: fine-tune one network (det, rec or cls) from the official weights."""

from __future__ import annotations

import argparse
import os

from edge_ocr.cli import command, positive_int
from edge_ocr.errors import EdgeOCRError

# distillation forms per network (det.py / rec.py check them too; importing those here would load paddle)
DET_DISTILL = ("teacher", "cml", "mimic")
REC_DISTILL = ("teacher", "udml", "udml+teacher")


@command("train")
def _add_train(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="fine-tune a PP-OCRv2 network (det, rec or cls) from the official weights")
    parser.add_argument("kind", choices=("det", "rec", "cls"),
                        help="which network; cls trains on rec-format word crops (each also rotated 180°)")
    parser.add_argument("--train-labels", required=True)
    parser.add_argument("--eval-labels", required=True)
    parser.add_argument("--init", required=True, metavar="MODELS_DIR")
    parser.add_argument("--out", required=True, metavar="DIR")
    parser.add_argument("--distill", choices=sorted({*DET_DISTILL, *REC_DISTILL}),
                        help="rec: udml (two students, DML + feature distance), teacher (the same against the frozen "
                             "official FP32 model) or both; det: cml (teacher + two students), teacher, or mimic "
                             "(the teacher's maps only, no ground-truth loss)")
    parser.add_argument("--copy-paste", action="store_true", help="det: CopyPaste augmentation")
    parser.add_argument("--size", type=positive_int, default=640, help="det: training crop size")
    parser.add_argument("--enhanced-ctc", action="store_true", help="add the centre loss of enhanced CTC")
    parser.add_argument("--augment", action="store_true", help="rec: word-crop augmentations on training batches")
    parser.add_argument("--steps", type=positive_int, default=200)
    parser.add_argument("--batch-size", type=positive_int,
                        help="default per network: det 2 (640×640 crops), rec 16, cls 32")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--eval-every", type=positive_int, default=50)
    parser.add_argument("--eval-limit", type=positive_int, help="first N eval samples")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.json")
    parser.add_argument("--train-bn", action="store_true", help="update BatchNorm statistics (default: frozen)")
    parser.add_argument("--qat", action="store_true",
                        help="quantization-aware training; OUT/best is then a quantized model for export --quantized")
    parser.add_argument("--pact", action="store_true", help="with --qat: PACT clipping of activations")
    parser.add_argument("--lstm-rank", type=int, default=None, metavar="R",
                        help="rec: factor the first LSTM layer's input projection to rank R (weighted by the train "
                             "crops' LSTM inputs) before training; with --qat it ships in int8")
    parser.add_argument("--keep-fp32-first", type=int, default=0, metavar="N",
                        help="with --qat: the first N conv/linear layers stay FP32 (rec: 16 as in PTQ)")
    parser.add_argument("--prune-plan", metavar="PLAN.json", help="train the network pruned to this plan "
                        "(edge-ocr prune writes it)")
    parser.add_argument("--init-weights", metavar="W.pdparams",
                        help="start from these weights (a training run's best.pdparams / final.pdparams)")
    parser.add_argument("--dev-tail", type=positive_int, metavar="N",
                        help="evaluate on the last N samples of --eval-labels (held out of training when they are "
                             "the train labels)")
    parser.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    plan = None
    if args.prune_plan:
        from ..nets.pruned import load_plan

        plan = load_plan(args.prune_plan)
    if args.pact and not args.qat:
        raise EdgeOCRError("--pact goes with --qat")
    sized = {"batch_size": args.batch_size} if args.batch_size else {}  # else the network's own default
    common = dict(steps=args.steps, **sized, lr=args.lr, eval_every=args.eval_every, distill=args.distill,
                  freeze_bn=not args.train_bn, qat=args.qat, pact=args.pact, prune_plan=plan,
                  init_weights=args.init_weights, keep_fp32_first=args.keep_fp32_first)
    if args.kind == "cls":
        from .cls import ClsTrainConfig, train_cls

        if args.distill or args.prune_plan or args.copy_paste or args.enhanced_ctc:
            raise EdgeOCRError("the classifier trains without --distill, --prune-plan, --copy-paste or --enhanced-ctc")
        config = ClsTrainConfig(steps=args.steps, **sized, lr=args.lr, eval_every=args.eval_every,
                                freeze_bn=not args.train_bn, qat=args.qat, pact=args.pact,
                                keep_fp32_first=args.keep_fp32_first, init_weights=args.init_weights)
        best = train_cls(args.init, args.train_labels, args.eval_labels, args.out, config, resume=args.resume,
                         eval_limit=args.eval_limit, dev_tail=args.dev_tail)
        metric = f"direction accuracy {best['accuracy']:.4f}"
    elif args.kind == "det":
        from .det import DetTrainConfig, train_det

        if args.distill not in (None, *DET_DISTILL):
            raise EdgeOCRError("the detector trains with --distill cml, teacher or mimic")
        config = DetTrainConfig(copy_paste=args.copy_paste, size=args.size, **common)
        best = train_det(args.init, args.train_labels, args.eval_labels, args.out, config, resume=args.resume,
                         eval_limit=args.eval_limit, dev_tail=args.dev_tail)
        metric = f"det Hmean {best['hmean']:.4f}"
    else:
        from .rec import RecTrainConfig, train_rec

        if args.distill not in (None, *REC_DISTILL):
            raise EdgeOCRError("the recognizer trains with --distill udml, teacher or udml+teacher")
        config = RecTrainConfig(enhanced_ctc=args.enhanced_ctc, augment=args.augment,
                                lstm_input_rank=args.lstm_rank, **common)
        best = train_rec(args.init, args.train_labels, args.eval_labels, args.out, config, resume=args.resume,
                         eval_limit=args.eval_limit, dev_tail=args.dev_tail)
        metric = f"word accuracy {best['accuracy']:.4f}"
    print(f"best eval {metric} at step {best.get('step')}; last model in {args.out}/final, best in {args.out}/best "
          "(when it beat the starting weights)")
    return 0


@command("synth")
def _add_synth(sub: argparse._SubParsersAction) -> None:
    from .synth_text import SynthSizes

    sizes = SynthSizes()
    parser = sub.add_parser("synth", help="generate Chinese + English + digits text: rec line crops and det/e2e "
                                          "scene images with exact labels (train and dev splits)")
    parser.add_argument("--out", required=True, metavar="DIR", help="e.g. data/synth (the zh_synth domain's folder)")
    parser.add_argument("--seed", type=int, default=0, help="the same seed writes the same bytes")
    parser.add_argument("--rec-train", type=int, default=sizes.rec_train, metavar="N")
    parser.add_argument("--rec-dev", type=int, default=sizes.rec_dev, metavar="N")
    parser.add_argument("--e2e-train", type=int, default=sizes.e2e_train, metavar="N")
    parser.add_argument("--e2e-dev", type=int, default=sizes.e2e_dev, metavar="N")
    parser.add_argument("--train-phrases", type=float, default=0.15, metavar="SHARE",
                        help="share of train lines that are phrases with spaces (dev lines never are)")
    parser.add_argument("--backgrounds", type=int, default=60, metavar="N",
                        help="train photos (text painted out) used as backgrounds; 0: textures only")
    parser.set_defaults(func=run_synth)


def run_synth(args: argparse.Namespace) -> int:
    from .synth_text import SynthSizes, default_sources, generate_synth

    counts = (args.rec_train, args.rec_dev, args.e2e_train, args.e2e_dev)
    if min(counts) < 0:
        raise EdgeOCRError("split sizes must be 0 or more")
    sources = default_sources()
    sources.background_count = args.backgrounds
    if not 0 <= args.train_phrases <= 1:
        raise EdgeOCRError("--train-phrases is a share between 0 and 1")
    summary = generate_synth(args.out, SynthSizes(*counts), seed=args.seed, sources=sources,
                             train_phrases=args.train_phrases)
    print(f"wrote {args.out}: rec {args.rec_train} train / {args.rec_dev} dev crops, e2e {args.e2e_train} train / "
          f"{args.e2e_dev} dev images, {summary['distinct_characters']} distinct characters, "
          f"{summary['seconds']} s")
    return 0


@command("read-lines")
def _add_read_lines(sub: argparse._SubParsersAction) -> None:
    from edge_ocr.evaluation.domains import REPO, TD500_DEV_IMAGES, builtin_domains

    parser = sub.add_parser("read-lines", help="cut the lines of a det-labelled photo set and label them with the "
                                               "FP32 recognizer's sure readings (train crops + a dev split)")
    parser.add_argument("--det-labels", default=builtin_domains()["td500"].det, metavar="FILE",
                        help="detection labels whose lines to read (default: MSRA-TD500 train)")
    parser.add_argument("--out", default=os.path.join(REPO, "data", "td500_lines"), metavar="DIR",
                        help="writes rec_train.txt, rec_dev.txt and their crops (default: the td500_lines domain's)")
    parser.add_argument("--models", metavar="DIR", help="FP32 inference models (default: PP-OCRv2)")
    parser.add_argument("--dev-tail", type=int, default=TD500_DEV_IMAGES, metavar="N",
                        help="the last N images are the dev split (default: the td500 domain's)")
    parser.add_argument("--min-score", type=float, default=0.9, help="keep lines FP32 reads at least this surely")
    parser.add_argument("--boxes", choices=("labels", "detector"), default="labels",
                        help="cut the labelled boxes, or the FP32 detector's (the crops the pipeline gives the "
                             "recognizer: train data for what end-to-end reads)")
    parser.set_defaults(func=run_read_lines)


def run_read_lines(args: argparse.Namespace) -> int:
    from .line_readings import read_lines

    if not os.path.isfile(args.det_labels):
        raise EdgeOCRError(f"{args.det_labels} does not exist")
    if not 0 < args.min_score <= 1:
        raise EdgeOCRError("--min-score is between 0 and 1")
    summary = read_lines(args.det_labels, args.out, args.models, args.dev_tail, args.min_score, boxes=args.boxes)
    for split in ("train", "dev"):
        part = summary[split]
        print(f"{split}: {part['kept']} of {part['lines']} lines of {part['images']} images kept "
              f"({part['kept_with_chinese']} with Chinese, {part['kept_with_spaces']} with spaces)")
    print(f"wrote {args.out}/rec_train.txt and rec_dev.txt in {summary['seconds']} s")
    return 0
