"""``edge-ocr eval``: score models or a bundle on detection, end-to-end and recognition labels."""

from __future__ import annotations

import argparse
import datetime
import os
import time

from ..cli import add_model_args, build_pipeline, command, positive_int, write_json_atomic
from ..errors import EdgeOCRError


@command("eval")
def _add_eval(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="accuracy: det Hmean, end-to-end Hmean, recognition accuracy")
    add_model_args(parser)
    parser.add_argument("--det-labels", metavar="FILE", help="detection labels (det Hmean and end-to-end)")
    parser.add_argument("--rec-labels", metavar="FILE", help="recognition labels (word crops)")
    parser.add_argument("--limit", type=positive_int, help="first N samples of each label file")
    parser.add_argument("--json", metavar="OUT.json", help="write the scores as JSON")
    parser.add_argument("--markdown", metavar="OUT.md", help="write the scores as a Markdown table")
    parser.add_argument("--save-predictions", metavar="FILE.json", help="write every prediction (for cross-checks)")
    parser.set_defaults(func=run_eval)


def eval_args(**values) -> argparse.Namespace:
    """The ``eval`` arguments with their defaults, overridden by ``values`` (for compress and bench)."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    _add_eval(sub)
    args = parser.parse_args(["eval"])
    for key, value in values.items():
        if not hasattr(args, key):
            raise TypeError(f"unknown eval argument {key}")
        setattr(args, key, value)
    return args


def headline(report: dict) -> dict:
    """The three numbers compression is judged by."""
    return {"det_hmean": report.get("det", {}).get("hmean"), "e2e_hmean": report.get("e2e", {}).get("hmean"),
            "rec_accuracy": report.get("rec", {}).get("accuracy")}


def evaluate(args: argparse.Namespace, progress: bool = True) -> tuple[dict, dict]:
    """(report, predictions) for parsed ``eval`` arguments; also used by compress and bench."""
    from .runner import evaluate_detection, evaluate_recognition

    if not args.det_labels and not args.rec_labels:
        raise EdgeOCRError("nothing to evaluate: give --det-labels and/or --rec-labels")
    for path in (args.det_labels, args.rec_labels):
        if path and not os.path.isfile(path):
            raise EdgeOCRError(f"label file {path} does not exist")
    pipeline = build_pipeline(args)
    report: dict = {
        "settings": {
            "models": args.models, "bundle": args.bundle, "engine": args.engine, "threads": args.threads,
            "use_cls": pipeline.classifier is not None, "limit": args.limit, "det_labels": args.det_labels,
            "rec_labels": args.rec_labels, "det_model": getattr(args, "det_model", None),
            "params": pipeline.params.to_dict(),
        },
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    predictions: dict = {}
    start = time.perf_counter()
    if args.det_labels:
        det = evaluate_detection(pipeline, args.det_labels, args.limit, progress)
        report["det"] = det.det.to_dict()
        report["det_after_drop_score"] = det.det_after_drop.to_dict()
        report["e2e"] = det.e2e.to_dict()
        report["images"] = det.images
        report["boxes"] = det.gt_boxes
        report["failed_images"] = det.failed
        report["seconds_scoring_det_e2e"] = round(det.seconds_scoring, 3)
        predictions["det"] = det.predictions
    if args.rec_labels:
        rec = evaluate_recognition(pipeline, args.rec_labels, args.limit, progress)
        predictions["rec"] = rec.pop("predictions")
        report["rec"] = rec
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report, predictions


def to_markdown(report: dict, title: str = "edge-ocr eval") -> str:
    s = report["settings"]
    source = f"bundle `{s['bundle']}`" if s["bundle"] else f"models `{s['models'] or 'default PP-OCRv2'}`"
    if s.get("det_model"):
        source += f", det model `{s['det_model']}`"
    lines = [f"# {title}", "", f"{source}, engine {s['engine']}, {s['threads']} threads, cls {s['use_cls']}", "",
             "| metric | value |", "|---|---|"]
    if "det" in report:
        d, e = report["det"], report["e2e"]
        lines += [f"| det precision / recall / Hmean | {d['precision']:.4f} / {d['recall']:.4f} / "
                  f"**{d['hmean']:.4f}** |",
                  f"| e2e precision / recall / Hmean | {e['precision']:.4f} / {e['recall']:.4f} / "
                  f"**{e['hmean']:.4f}** |",
                  f"| e2e Hmean (normalized text) | {e['hmean_normalized']:.4f} |",
                  f"| images / GT boxes | {report['images']} / {report['boxes']} |"]
    if "rec" in report:
        r = report["rec"]
        lines += [f"| rec accuracy (exact) | **{r['accuracy']:.4f}** |",
                  f"| rec accuracy (normalized) | {r['accuracy_normalized']:.4f} |",
                  f"| rec 1 - norm. edit distance | {r['norm_edit_distance']:.4f} |",
                  f"| rec samples | {r['samples']} |"]
    return "\n".join(lines) + "\n"


def run_eval(args: argparse.Namespace) -> int:
    from ..atomic import check_output_file

    for target in (args.json, args.markdown, args.save_predictions):  # before any work, as predict does
        if target:
            check_output_file(target)
    report, predictions = evaluate(args)
    print(to_markdown(report))
    if args.json:
        write_json_atomic(args.json, report)
    if args.markdown:
        from ..atomic import write_text as write_text_atomic

        write_text_atomic(args.markdown, to_markdown(report))
    if args.save_predictions:
        write_json_atomic(args.save_predictions, predictions)
    return 0
