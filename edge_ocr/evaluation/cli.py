"""``edge-ocr eval``: score models or a bundle on detection, end-to-end and recognition labels."""

from __future__ import annotations

import argparse

from ..cli import add_model_args, command, pipeline_options, positive_int
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


def eval_inputs(config: EvalConfig) -> list[str]:
    """Every file an eval run reads: its label files and the images they list (outputs must not replace any)."""
    from .labels import read_det_labels, read_rec_labels

    found: list[str] = []
    for domain in config.resolved_domains():
        domain.check()
        if domain.det:
            found += [domain.det] + [sample.image for sample in read_det_labels(domain.det)]
        if domain.rec:
            found += [domain.rec] + [sample.image for sample in read_rec_labels(domain.rec)]
    return found


def unreadable_samples(report: dict) -> tuple[int, int]:
    """(samples that could not be read, samples in all) over every domain of a report."""
    failed = total = 0
    for part in (report.get("domains") or {"": report}).values():
        failed += len(part.get("failed_images", [])) + len(part.get("rec", {}).get("failed", []))
        total += part.get("images", 0) + part.get("rec", {}).get("samples", 0)
    return failed, total


def run_eval(args: argparse.Namespace) -> int:
    import sys

    from ..atomic import check_output_file
    from ..atomic import write_text as write_text_atomic
    from ..cli import check_outputs_apart, model_files, write_or_print
    from ..errors import EdgeOCRError, printable

    config = eval_config(args)
    outputs = [(option, path) for option, path in (("--json", args.json), ("--markdown", args.markdown),
                                                    ("--save-predictions", args.save_predictions)) if path]
    check_outputs_apart(outputs, eval_inputs(config) + model_files(args))  # before any work, as predict does
    for _, target in outputs:
        check_output_file(target)
    result = run_evaluation(config)
    report, predictions = result.data, result.predictions
    markdown = to_markdown(report)
    print("\n".join(printable(line) for line in markdown.splitlines()))  # paths in it may hold control characters
    written = True
    if args.json:
        written &= write_or_print(args.json, report, "--json")
    if args.markdown:
        try:
            write_text_atomic(args.markdown, markdown)
        except (OSError, EdgeOCRError) as exc:
            print(f"edge-ocr: error: cannot write {printable(args.markdown)} ({printable(exc)}); the table was "
                  "printed on stdout above", file=sys.stderr)
            written = False
    if args.save_predictions:
        written &= write_or_print(args.save_predictions, predictions, "--save-predictions")
    failed, total = unreadable_samples(report)
    if failed:
        where = " (the JSON report lists each one)" if args.json else ""
        print(f"edge-ocr: {failed} of {total} sample(s) could not be read and were scored as misses{where}",
              file=sys.stderr)
        return 1
    return 0 if written else 1
