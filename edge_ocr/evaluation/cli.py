"""``edge-ocr eval``: score models or a bundle on detection, end-to-end and recognition labels."""

from __future__ import annotations

import argparse
import datetime
import time

from ..cli import add_model_args, build_pipeline, command, positive_int, write_json_atomic
from ..errors import EdgeOCRError


@command("eval")
def _add_eval(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="accuracy: det Hmean, end-to-end Hmean, recognition accuracy")
    add_model_args(parser)
    parser.add_argument("--det-labels", metavar="FILE", help="detection labels (det Hmean and end-to-end)")
    parser.add_argument("--rec-labels", metavar="FILE", help="recognition labels (word crops)")
    parser.add_argument("--domain", nargs="+", action="extend", default=[], metavar="NAME[:det=F,rec=F]",
                        help="score each of these domains: built in icdar2015, td500 (det only), zh_synth "
                             "(edge-ocr synth's dev splits), td500_lines (rec only: edge-ocr read-lines), or "
                             "NAME:det=FILE,rec=FILE[,tail=N][,e2e=no]; "
                             "--det-labels/--rec-labels are one more (icdar2015 when they are its files)")
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
    """The three numbers compression is judged by (of a single-domain report, or of one domain's part)."""
    return {"det_hmean": report.get("det", {}).get("hmean"), "e2e_hmean": report.get("e2e", {}).get("hmean"),
            "rec_accuracy": report.get("rec", {}).get("accuracy")}


def headlines(report: dict) -> dict[str, dict]:
    """``headline`` per domain."""
    return {name: headline(part) for name, part in report["domains"].items()}


def evaluate(args: argparse.Namespace, progress: bool = True) -> tuple[dict, dict]:
    """(report, predictions) for parsed ``eval`` arguments; also used by compress and bench.

    ``report["domains"][NAME]`` holds each domain's scores; a report of one domain also has them at the top level
    (the layout of reports written before domains existed)."""
    from .domains import domains_from_args

    domains = domains_from_args(getattr(args, "domain", None), args.det_labels, args.rec_labels)
    if not domains:
        raise EdgeOCRError("nothing to evaluate: give --det-labels and/or --rec-labels, or --domain")
    for domain in domains:
        domain.check()
    pipeline = build_pipeline(args)
    report: dict = {
        "settings": {
            "models": args.models, "bundle": args.bundle, "engine": args.engine, "threads": args.threads,
            "use_cls": pipeline.classifier is not None, "limit": args.limit, "det_labels": args.det_labels,
            "rec_labels": args.rec_labels, "det_model": getattr(args, "det_model", None),
            "params": pipeline.params.to_dict(),
        },
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "domains": {},
    }
    predictions: dict = {}
    start = time.perf_counter()
    for domain in domains:
        part, predictions[domain.name] = evaluate_domain(pipeline, domain, args.limit, progress)
        report["domains"][domain.name] = part
    if len(domains) == 1:
        report.update(report["domains"][domains[0].name])
        predictions = predictions[domains[0].name]
    report["seconds"] = round(time.perf_counter() - start, 1)
    return report, predictions


def evaluate_domain(pipeline, domain, limit: int | None, progress: bool = True) -> tuple[dict, dict]:
    """(scores, predictions) of one domain: det + e2e on its det labels, rec on its rec labels."""
    from .runner import evaluate_detection, evaluate_recognition

    part: dict = {"labels": domain.to_dict()}
    predictions: dict = {}
    if domain.det:
        det = evaluate_detection(pipeline, domain.det, limit, progress, tail=domain.tail)
        part["det"] = det.det.to_dict()
        part["det_after_drop_score"] = det.det_after_drop.to_dict()
        if domain.e2e:
            part["e2e"] = det.e2e.to_dict()
        part["images"] = det.images
        part["boxes"] = det.gt_boxes
        part["failed_images"] = det.failed
        part["seconds_scoring_det_e2e"] = round(det.seconds_scoring, 3)
        predictions["det"] = det.predictions
    if domain.rec:
        rec = evaluate_recognition(pipeline, domain.rec, limit, progress, tail=domain.tail)
        predictions["rec"] = rec.pop("predictions")
        part["rec"] = rec
    return part, predictions


def to_markdown(report: dict, title: str = "edge-ocr eval") -> str:
    s = report["settings"]
    source = f"bundle `{s['bundle']}`" if s["bundle"] else f"models `{s['models'] or 'default PP-OCRv2'}`"
    if s.get("det_model"):
        source += f", det model `{s['det_model']}`"
    domains = report.get("domains") or {"": report}
    names = list(domains)
    lines = [f"# {title}", "", f"{source}, engine {s['engine']}, {s['threads']} threads, cls {s['use_cls']}", "",
             "| metric | " + (" | ".join(names) if len(names) > 1 else "value") + " |",
             "|---|" + "---|" * len(names)]

    def row(label: str, cell) -> None:
        cells = [cell(part) for part in domains.values()]
        if any(c is not None for c in cells):
            lines.append(f"| {label} | " + " | ".join("–" if c is None else c for c in cells) + " |")

    def prh(section: str):
        return lambda p: (f"{p[section]['precision']:.4f} / {p[section]['recall']:.4f} / "
                          f"**{p[section]['hmean']:.4f}**") if section in p else None

    row("det precision / recall / Hmean", prh("det"))
    row("e2e precision / recall / Hmean", prh("e2e"))
    row("e2e Hmean (normalized text)", lambda p: f"{p['e2e']['hmean_normalized']:.4f}" if "e2e" in p else None)
    row("images / GT boxes", lambda p: f"{p['images']} / {p['boxes']}" if "det" in p else None)
    row("rec accuracy (exact)", lambda p: f"**{p['rec']['accuracy']:.4f}**" if "rec" in p else None)
    row("rec accuracy (normalized)", lambda p: f"{p['rec']['accuracy_normalized']:.4f}" if "rec" in p else None)
    row("rec 1 - norm. edit distance", lambda p: f"{p['rec']['norm_edit_distance']:.4f}" if "rec" in p else None)
    row("rec samples", lambda p: str(p["rec"]["samples"]) if "rec" in p else None)
    row("rec labels outside the charset",
        lambda p: str(p["rec"]["out_of_charset"]) if p.get("rec", {}).get("out_of_charset") else None)
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
