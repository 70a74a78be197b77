"""``edge-ocr eval``: score models or a bundle on detection, end-to-end and recognition labels."""

from __future__ import annotations

import argparse

from ..cli import add_model_args, command, pipeline_options, positive_int, write_json_atomic
from .api import EvalConfig, evaluate, evaluate_domain, headline, headlines, run_evaluation, to_markdown

__all__ = ["evaluate", "evaluate_domain", "headline", "headlines", "to_markdown"]  # the API, also from here


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


def eval_config(args: argparse.Namespace) -> EvalConfig:
    """The parsed command line as the API's config (the one place eval's options become values)."""
    return EvalConfig(pipeline=pipeline_options(args), domains=list(args.domain), det_labels=args.det_labels,
                      rec_labels=args.rec_labels, limit=args.limit)


def run_eval(args: argparse.Namespace) -> int:
    from ..atomic import check_output_file

    for target in (args.json, args.markdown, args.save_predictions):  # before any work, as predict does
        if target:
            check_output_file(target)
    result = run_evaluation(eval_config(args))
    report, predictions = result.data, result.predictions
    print(to_markdown(report))
    if args.json:
        write_json_atomic(args.json, report)
    if args.markdown:
        from ..atomic import write_text as write_text_atomic

        write_text_atomic(args.markdown, to_markdown(report))
    if args.save_predictions:
        write_json_atomic(args.save_predictions, predictions)
    return 0
