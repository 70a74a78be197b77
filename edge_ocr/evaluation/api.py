"""``evaluate``: score models or a bundle on evaluation domains, from Python (``edge-ocr eval`` wraps it).

    from edge_ocr import evaluate
    report = evaluate("../shared/models/ppocrv2", ["icdar2015"], limit=20)
    print(report.headlines()["icdar2015"])       # {"det_hmean": ..., "e2e_hmean": ..., "rec_accuracy": ...}
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from ..errors import EdgeOCRError
from ..pipeline_options import PipelineOptions, open_pipeline
from .domains import Domain, domains_from_args, parse_domain


@dataclass
class EvalConfig:
    """What to score, on what. ``domains``: built-in names, ``NAME:det=F,rec=F[,tail=N][,e2e=no]`` specs or
    ``Domain`` objects; ``det_labels`` / ``rec_labels``: one more domain (``icdar2015`` when they are its files)."""

    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    domains: list[str | Domain] = field(default_factory=list)
    det_labels: str | None = None
    rec_labels: str | None = None
    limit: int | None = None  # first N samples of each label file
    progress: bool = True

    def resolved_domains(self) -> list[Domain]:
        specs = [d for d in self.domains if isinstance(d, str)]
        given = [d for d in self.domains if isinstance(d, Domain)]
        domains = domains_from_args(specs, self.det_labels, self.rec_labels) + given
        names = [d.name for d in domains]
        if len(set(names)) != len(names):
            raise EdgeOCRError(f"domain {', '.join(sorted({n for n in names if names.count(n) > 1}))} given twice")
        if not domains:
            raise EdgeOCRError("nothing to evaluate: give --det-labels and/or --rec-labels, or --domain")
        return domains


@dataclass
class EvalReport:
    """Scores per domain (``data["domains"][NAME]``), the settings they were made with, and every prediction."""

    data: dict
    predictions: dict

    def headlines(self) -> dict[str, dict]:
        """{domain: {det_hmean, e2e_hmean, rec_accuracy}}: the numbers compression is judged by."""
        return headlines(self.data)

    def to_markdown(self, title: str = "edge-ocr eval") -> str:
        return to_markdown(self.data, title)

    def to_dict(self) -> dict:
        return self.data


def headline(report: dict) -> dict:
    """The three numbers compression is judged by (of a single-domain report, or of one domain's part)."""
    return {"det_hmean": report.get("det", {}).get("hmean"), "e2e_hmean": report.get("e2e", {}).get("hmean"),
            "rec_accuracy": report.get("rec", {}).get("accuracy")}


def headlines(report: dict) -> dict[str, dict]:
    """``headline`` per domain."""
    return {name: headline(part) for name, part in report["domains"].items()}


def _is_bundle(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "manifest.json")) or (not os.path.isdir(path) and os.sep not in path
                                                                    and "/" not in path)


def evaluate(models_or_bundle=None, domains: Sequence[str | Domain] = (), *, config: EvalConfig | None = None,
             **options) -> EvalReport:
    """Score ``models_or_bundle`` (an inference-models folder, a bundle folder, a released bundle's name, an
    ``OCRPipeline``, or None for the default PP-OCRv2 models) on ``domains``.

    Keyword options: ``det_labels``, ``rec_labels``, ``limit``, ``progress`` (``EvalConfig``) and ``engine``,
    ``threads``, ``use_cls``, ``det_model`` and the threshold overrides (``PipelineOptions``)."""
    config = config or EvalConfig()
    eval_keys = {f.name for f in fields(EvalConfig)} - {"pipeline", "domains"}
    pipe_keys = {f.name for f in fields(PipelineOptions)} - {"models", "bundle"}
    unknown = sorted(set(options) - eval_keys - pipe_keys)
    if unknown:
        raise TypeError(f"evaluate() got unknown options {', '.join(unknown)}")
    for key in eval_keys & set(options):
        setattr(config, key, options[key])
    for key in pipe_keys & set(options):
        setattr(config.pipeline, key, options[key])
    if domains:
        config.domains = list(domains)
    pipeline = None
    if isinstance(models_or_bundle, str):
        if _is_bundle(models_or_bundle):
            config.pipeline.bundle, config.pipeline.models = models_or_bundle, None
        else:
            config.pipeline.models, config.pipeline.bundle = models_or_bundle, None
    elif models_or_bundle is not None:
        pipeline = models_or_bundle  # an OCRPipeline built by the caller
    return run_evaluation(config, pipeline)


def run_evaluation(config: EvalConfig, pipeline=None) -> EvalReport:
    """The report of ``config`` (``pipeline``: one already built, else ``config.pipeline`` opens one).

    ``data["domains"][NAME]`` holds each domain's scores; a report of one domain also has them at the top level
    (the layout of reports written before domains existed)."""
    domains = config.resolved_domains()
    for domain in domains:
        domain.check()
    if config.limit is not None and config.limit < 1:
        raise EdgeOCRError(f"limit must be at least 1, not {config.limit}")
    pipeline = pipeline or open_pipeline(config.pipeline)
    options = config.pipeline
    data: dict = {
        "settings": {
            "models": options.models, "bundle": options.bundle, "engine": options.engine, "threads": options.threads,
            "use_cls": pipeline.classifier is not None, "limit": config.limit, "det_labels": config.det_labels,
            "rec_labels": config.rec_labels, "det_model": options.det_model, "params": pipeline.params.to_dict(),
        },
        "created": datetime.datetime.now().isoformat(timespec="seconds"),
        "domains": {},
    }
    predictions: dict = {}
    start = time.perf_counter()
    for domain in domains:
        part, predictions[domain.name] = evaluate_domain(pipeline, domain, config.limit, config.progress)
        data["domains"][domain.name] = part
    if len(domains) == 1:
        data.update(data["domains"][domains[0].name])
        predictions = predictions[domains[0].name]
    data["seconds"] = round(time.perf_counter() - start, 1)
    return EvalReport(data, predictions)


def evaluate_domain(pipeline, domain: Domain, limit: int | None, progress: bool = True) -> tuple[dict, dict]:
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


__all__ = ["EvalConfig", "EvalReport", "evaluate", "evaluate_domain", "headline", "headlines", "parse_domain",
           "run_evaluation", "to_markdown"]
