"""The inputs a recipe makes before compress runs: synthetic sets, ``read-lines`` sets, label subsets.

A recipe's ``[inputs.NAME]`` table says how to make ``$INPUTS/NAME/``:

- ``kind = "synth"``: ``edge-ocr synth`` (``seed``, ``rec-train``, ``rec-dev``, ``e2e-train``, ``e2e-dev``,
  ``train-phrases``, ``backgrounds``);
- ``kind = "read-lines"``: ``edge-ocr read-lines`` (``det-labels``, ``boxes``, ``dev-tail``, ``min-score``,
  ``models``: default the recipe's FP32 models);
- ``kind = "subset"``: the first ``first`` samples of ``labels`` with absolute image paths (``labels.txt``): tiny
  recipes for CI.

Each folder gets a stamp with its spec and the sha256 of what it read; a later run with the same ``--inputs`` folder
keeps a folder whose stamp matches and remakes any other. What each made (its label files' sha256) goes into the
compress report, so two runs can be compared input by input (``read-lines`` labels come from FP32 readings, which
another CPU may round differently).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from typing import Any

from edge_ocr.errors import EdgeOCRError

from .values import REPO, integer, number, text

log = logging.getLogger(__name__)

STAMP = ".recipe-input.json"
_SYNTH = {"seed": (integer(0), 0), "rec-train": (integer(0), 2000), "rec-dev": (integer(0), 500),
          "e2e-train": (integer(0), 200), "e2e-dev": (integer(0), 100), "train-phrases": (number(0.0, 1.0), 0.15),
          "backgrounds": (integer(0), 60)}
_READ_LINES = {"det-labels": (text(), None), "models": (text(), None), "dev-tail": (integer(0), 100),
               "min-score": (number(0.0, 1.0), 0.9), "boxes": (text(("labels", "detector")), "labels")}
_SUBSET = {"labels": (text(), None), "first": (integer(1), None)}
KINDS = {"synth": _SYNTH, "read-lines": _READ_LINES, "subset": _SUBSET}
PATH_KEYS = ("det-labels", "models", "labels")
REQUIRED = {"read-lines": ("det-labels",), "subset": ("labels", "first"), "synth": ()}


def _path(value: str) -> str:
    return value if os.path.isabs(value) else os.path.join(REPO, value)


def check_input_specs(specs: dict[str, dict], inputs_dir: str) -> None:
    """Every spec complete and typed, with its defaults filled in (in place); an input that reads another's files
    must come after it."""
    made: list[str] = []
    for name, spec in specs.items():
        if not name.replace("_", "").replace("-", "").isalnum():
            raise EdgeOCRError(f"[inputs.{name}]: an input's name is letters, digits, '_' and '-'")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise EdgeOCRError(f"[inputs.{name}]: kind is one of {', '.join(KINDS)}, not {kind!r}")
        table = KINDS[kind]
        unknown = sorted(set(spec) - set(table) - {"kind"})
        if unknown:
            raise EdgeOCRError(f"[inputs.{name}]: unknown keys {', '.join(unknown)} for kind {kind} "
                               f"({', '.join(table)})")
        for key in REQUIRED[kind]:
            if key not in spec:
                raise EdgeOCRError(f"[inputs.{name}]: {kind} needs {key}")
        for key, (parse, default) in table.items():
            if key in spec:
                spec[key] = parse(f"[inputs.{name}] {key}", spec[key])
                if key in PATH_KEYS:
                    spec[key] = _path(spec[key])
                    inside = os.path.relpath(spec[key], inputs_dir)
                    if not inside.startswith(".."):
                        source = inside.split(os.sep)[0]
                        if source not in made:
                            raise EdgeOCRError(f"[inputs.{name}]: {key} reads input {source!r}, which no earlier "
                                               "[inputs.*] table makes")
            elif default is not None:
                spec[key] = default
        made.append(name)


def _sha256(path: str) -> str:
    from edge_ocr.models import sha256_file

    return sha256_file(path)


def _sources(spec: dict) -> dict[str, str]:
    return {spec[k]: _sha256(spec[k]) for k in ("det-labels", "labels") if k in spec and os.path.isfile(spec[k])}


def _label_files(folder: str) -> dict[str, str]:
    return {name: _sha256(os.path.join(folder, name)) for name in sorted(os.listdir(folder))
            if name.endswith(".txt") and os.path.isfile(os.path.join(folder, name))}


def _make_subset(spec: dict, folder: str) -> dict:
    source = spec["labels"]
    if not os.path.isfile(source):
        raise EdgeOCRError(f"{source} does not exist")
    base = os.path.dirname(os.path.abspath(source))
    with open(source, encoding="utf-8") as handle:
        lines = [line for line in handle.read().splitlines() if line.strip()][: spec["first"]]
    rows = []
    for line in lines:
        image, sep, rest = line.partition("\t")
        rows.append(f"{image if os.path.isabs(image) else os.path.join(base, image)}{sep}{rest}")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "labels.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(rows) + "\n")
    return {"samples": len(rows)}


def _make_synth(spec: dict, folder: str) -> dict:
    from ..train.synth_text import SynthSizes, default_sources, generate_synth

    sources = default_sources()
    sources.background_count = spec["backgrounds"]
    sizes = SynthSizes(spec["rec-train"], spec["rec-dev"], spec["e2e-train"], spec["e2e-dev"])
    summary = generate_synth(folder, sizes, seed=spec["seed"], sources=sources, progress=False,
                             train_phrases=spec["train-phrases"])
    return {"distinct_characters": summary["distinct_characters"], "seconds": summary["seconds"]}


def _make_read_lines(spec: dict, folder: str, models: str, threads: int) -> dict:
    from ..train.line_readings import read_lines

    if not os.path.isfile(spec["det-labels"]):
        raise EdgeOCRError(f"{spec['det-labels']} does not exist")
    try:
        summary = read_lines(spec["det-labels"], folder, spec.get("models") or models, spec["dev-tail"],
                             spec["min-score"], threads=threads, progress=False, boxes=spec["boxes"])
    except ValueError as exc:  # a dev tail longer than the label file
        raise EdgeOCRError(f"read-lines: {exc}") from None
    return {split: {k: summary[split][k] for k in ("images", "lines", "kept")} for split in ("train", "dev")}


def make_inputs(specs: dict[str, dict], inputs_dir: str, models: str, threads: int = 2) -> dict[str, dict]:
    """Make every input of a recipe (in order) under ``inputs_dir``; returns what each is, for the report."""
    from edge_ocr.atomic import replace_dir, write_json

    made = {}
    for name, spec in specs.items():
        folder = os.path.join(inputs_dir, name)
        stamp = {"spec": spec, "models": spec.get("models") or os.path.abspath(models) if spec["kind"] ==
                 "read-lines" else None, "sources": _sources(spec)}
        try:
            with open(os.path.join(folder, STAMP), encoding="utf-8") as handle:
                kept = json.load(handle)
        except (OSError, ValueError):
            kept = None
        if kept and {k: kept.get(k) for k in stamp} == json.loads(json.dumps(stamp)):
            log.info("input %s: kept (same spec and sources)", name)
            made[name] = {**kept, "kept_from_earlier_run": True, "label_files": _label_files(folder)}
            continue
        start = time.perf_counter()
        log.info("input %s: making (%s)", name, spec["kind"])
        staging = folder.rstrip("/") + ".making"
        shutil.rmtree(staging, ignore_errors=True)
        if spec["kind"] == "synth":
            summary: dict[str, Any] = _make_synth(spec, staging)
        elif spec["kind"] == "read-lines":
            summary = _make_read_lines(spec, staging, models, threads)
        else:
            summary = _make_subset(spec, staging)
        record = {**stamp, "summary": summary, "seconds": round(time.perf_counter() - start, 1)}
        write_json(os.path.join(staging, STAMP), record)
        os.makedirs(inputs_dir, exist_ok=True)
        replace_dir(staging, folder)
        made[name] = {**record, "label_files": _label_files(folder)}
    return made
