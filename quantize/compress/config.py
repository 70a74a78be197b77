"""``CompressConfig``: every option of ``edge-ocr compress``, typed, with its default, parsed in one place.

One table (``OPTIONS``) names each option once: its flag, its type, its check and its help. The command line, a
recipe file (``recipes/NAME.toml``: the same names without the leading dashes) and Python callers all go through
it, so ``--keep-fp32-first rec=16`` on the command line and ``keep-fp32-first = {rec = 16}`` in a recipe become the
same ``{"rec": 16}``, refused the same way when wrong. Flags override a recipe's values.

A recipe file::

    name = "qat-distill"
    description = "..."
    [compress]                       # compress options, named as their flags
    recipe = "qat"
    models = "$EDGE_OCR_SHARED/models/ppocrv2"
    calib-rec = ["$EDGE_OCR_SHARED/data/ic15_rec/rec_gt_train.txt", "$INPUTS/synth/rec_train.txt"]
    [inputs.synth]                   # inputs the run makes first (quantize.compress.inputs)
    kind = "synth"
    seed = 0

Paths in a recipe are relative to the repository, or start with ``$EDGE_OCR_SHARED`` (the shared models-and-data
folder) or ``$INPUTS`` (where the run writes the inputs it makes: ``--inputs``, default ``OUT-artifacts/inputs``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from edge_ocr.bench.estimate.bundles import DEFAULT_TARGETS
from edge_ocr.errors import EdgeOCRError
from edge_ocr.host.export.targets import TARGETS

from ..train.cli import DET_DISTILL, REC_DISTILL
from .inputs import check_input_specs
from .ptq import ALGORITHMS
from .values import REPO, _bad, flag, integer, number, optional, role_map, strings, text

__all__ = ["REPO", "CompressConfig", "OPTIONS", "Option", "build_config", "read_recipe", "report_options"]

METHODS = ("ptq", "qat", "prune-qat")
TARGET_NAMES = tuple(sorted(TARGETS))
ROLES = ("det", "cls", "rec")


def core_target(option: str, value: Any) -> str:
    """``CORE@GHZ`` as ``edge-ocr bench --estimate`` takes it (checked here, kept as text)."""
    from edge_ocr.bench.estimate.cores import parse_target

    if not isinstance(value, str):
        raise _bad(option, value, "is not CORE@GHZ text")
    try:
        return parse_target(value).label
    except EdgeOCRError as exc:
        raise _bad(option, value, str(exc)) from None


# ------------------------------------------------------------------------------------------------ the option table


@dataclass(frozen=True)
class Option:
    """One compress option: the field of ``CompressConfig`` it sets, how its value is parsed, and its help."""

    name: str  # the flag without "--", also the recipe key
    parse: Callable[[str, Any], Any]
    help: str
    nargs: str | None = None  # "+" / "*": several values after the flag
    metavar: str | None = None
    boolean: bool = False  # --NAME / --no-NAME
    path: str = ""  # "one" / "many" / "map": path values ($EDGE_OCR_SHARED, $INPUTS, repository-relative)
    group: str = "compress"  # "compress", "train" (qat / prune-qat), "run" (not a recipe value)

    @property
    def field(self) -> str:
        return self.name.replace("-", "_")


OPTIONS: tuple[Option, ...] = (
    Option("recipe", text(METHODS), "ptq: post-training quantization; qat: quantization-aware training with "
           "distillation; prune-qat: filter pruning + recovery, then QAT"),
    Option("models", text(), "FP32 inference models", metavar="DIR", path="one"),
    Option("calib-det", strings(), "det train labels for calibration and training: one or more files (or "
           "comma-separated), mixed; TD500's labels without the td500 domain's dev tail", nargs="+",
           metavar="LABELS", path="many"),
    Option("calib-rec", strings(), "rec train labels (rec + cls calibration, rec training): one or more files",
           nargs="+", metavar="LABELS", path="many"),
    Option("target", text(TARGET_NAMES), "export target"),
    Option("out", text(), "the bundle folder (its work folder is OUT-artifacts)", metavar="BUNDLE_DIR", path="one",
           group="run"),
    Option("inputs", optional(text()), "where a recipe's generated inputs go (default OUT-artifacts/inputs; "
           "give one folder to share them between recipes)", metavar="DIR", path="one", group="run"),
    Option("seed", integer(0), "seeds calibration sampling, the merged label files' order, training (python, "
           "numpy, paddle, data order) and the factored LSTM's distillation", metavar="N"),
    Option("eval-det", optional(text()), "det test labels: det and end-to-end Hmean", metavar="LABELS", path="one"),
    Option("eval-rec", optional(text()), "rec test labels: recognition accuracy", metavar="LABELS", path="one"),
    Option("domain", strings(), "also score (and gate) these domains, as edge-ocr eval --domain: icdar2015, td500, "
           "zh_synth or NAME:det=FILE,rec=FILE[,tail=N][,e2e=no]", nargs="+", metavar="NAME[:det=F,rec=F]",
           path="specs"),
    Option("charset", optional(text()), "the recognizer reads only these characters (CTC head sliced before "
           "export; scored so)", metavar="latin|digits|FILE"),
    Option("cls-precision", text(("int8", "fp32")), "int8: the direction classifier quantized (PTQ on --calib-rec "
           "crops); fp32: the FP32 classifier (0.03 GFLOPs), its weights packed as --fp32-layer-weights says"),
    Option("fp32-layer-weights", text(("int16", "int8", "fp32")), "layers left FP32 (the recognizer's first "
           "layers) keep FP32 activations; int16/int8: their conv and matmul weights ship as 16/8-bit integers "
           "(opt's weight-only quantization, restored to FP32 at load), put on that grid in the quantized model "
           "first, so scores and verification see them (int8 on the recognizer's stem: -2 points)"),
    Option("eval-limit", optional(integer()), "first N eval samples only", metavar="N"),
    Option("max-drop", optional(number()), "exit 3 if a metric of any domain falls more than this many points",
           metavar="POINTS"),
    Option("det-algo", text(ALGORITHMS), "PTQ algorithm of det"),
    Option("rec-algo", text(ALGORITHMS), "PTQ algorithm of rec"),
    Option("cls-algo", text(ALGORITHMS), "PTQ algorithm of cls"),
    Option("calib-det-images", integer(), "det calibration images", metavar="N"),
    Option("calib-rec-crops", integer(), "rec and cls calibration crops", metavar="N"),
    Option("per-tensor", flag, "per-tensor weight scales (default: per channel)", boolean=True),
    Option("sensitivity", strings(), "sensitivity reports (edge-ocr sensitivity) whose --keep-fp32 top layers "
           "stay FP32", nargs="*", metavar="REPORT.json", path="many"),
    Option("keep-fp32", integer(0), "keep the K most sensitive layers (of --sensitivity) FP32", metavar="K"),
    Option("keep-fp32-first", role_map(ROLES, integer(0)), "keep the first N quantizable layers of a model FP32, "
           "in PTQ and in QAT alike (the recognizer's stem does not survive int8 activations; cls is never "
           "trained); ROLE=0 quantizes them all", nargs="*", metavar="ROLE=N"),
    Option("rec-lstm-rank", optional(integer()), "factor the recognizer's first LSTM input projection (2x256x512 "
           "FP32 weights in the rnn op) through a rank-R Linear that ships in int8; the truncation is weighted by "
           "the LSTM's inputs on train crops (R=512: exact); PTQ first distills the factored head from the FP32 "
           "recognizer (--rec-lstm-distill-steps), QAT trains on from it", metavar="R"),
    Option("rec-lstm-distill-steps", integer(0), "PTQ with --rec-lstm-rank: steps of distilling the factored LSTM "
           "on cached backbone features of --calib-rec train crops (0: the truncation alone)", metavar="N"),
    Option("rec-lstm-train-crops", integer(), "PTQ with --rec-lstm-rank: train crops (seeded sample of "
           "--calib-rec) for the truncation's weighting and the distillation", metavar="N"),
    Option("threads", integer(), "CPU threads of Paddle Inference (evaluation, verification)", metavar="N"),
    Option("report", optional(text()), "also write the report JSON here", metavar="OUT.json", path="one",
           group="run"),
    Option("verify-images", integer(), "images (from --eval-det, else --calib-det) on which the bundle's own .nb "
           "files are run on ARM (natively or under qemu) and compared with the quantized models and FP32",
           metavar="N"),
    Option("verify-limit", strings(), "override a verification limit, as verify's --limit (e.g. "
           "fp32.rec_line_change=0.3)", nargs="*", metavar="SIDE.NAME=VALUE"),
    Option("verify", flag, "run the bundle on ARM and compare it (--no-verify: the report says it was never run)",
           boolean=True),
    Option("estimate", strings(core_target), "estimate the bundle's ARM latency against the FP32 bundle's on these "
           "cores (edge-ocr bench --estimate; none: no estimate)", nargs="*", metavar="CORE@GHZ"),
    Option("estimate-images", strings(), "images the latency estimate runs the pipeline on (default: ICDAR 2015's "
           "img_11 and TD500's IMG_2224 in $EDGE_OCR_SHARED)", nargs="+", metavar="IMAGE", path="many"),
    # training (qat / prune-qat): det and rec train on the calibration labels' train splits
    Option("det-steps", integer(), "det QAT steps", metavar="N", group="train"),
    Option("rec-steps", integer(), "rec QAT steps", metavar="N", group="train"),
    Option("recovery-det-steps", integer(), "prune-qat: det recovery steps", metavar="N", group="train"),
    Option("recovery-rec-steps", integer(), "prune-qat: rec recovery steps", metavar="N", group="train"),
    Option("det-batch-size", integer(), "det training batch", metavar="N", group="train"),
    Option("rec-batch-size", integer(), "rec training batch", metavar="N", group="train"),
    Option("lr", number(0.0), "QAT stages' learning rate", group="train"),
    Option("recovery-lr", number(0.0), "pruning recovery stages' learning rate", group="train"),
    Option("det-distill", text(DET_DISTILL), "det QAT distillation", group="train"),
    Option("rec-distill", text(REC_DISTILL), "rec QAT distillation", group="train"),
    Option("rec-label-weight", number(0.0), "QAT: weight of CTC on the --calib-rec labels beside distillation from "
           "the FP32 teacher; 0 = distillation only (the recognizer keeps FP32's reading, spaces included)",
           metavar="W", group="train"),
    Option("recovery-det-distill", text(DET_DISTILL), "prune-qat: det recovery distillation", group="train"),
    Option("recovery-rec-distill", text(REC_DISTILL), "prune-qat: rec recovery distillation", group="train"),
    Option("pact", flag, "PACT clipping of activations in QAT", boolean=True, group="train"),
    Option("det-flops-reduction", number(0.0, 1.0, high_open=True), "prune-qat: share of det FLOPs to remove "
           "(0: not pruned)", group="train"),
    Option("rec-flops-reduction", number(0.0, 1.0, high_open=True), "prune-qat: share of rec FLOPs to remove "
           "(0: not pruned)", group="train"),
    Option("criterion", text(("fpgm", "l1")), "pruning criterion", group="train"),
    Option("prune-fallback-drop", number(), "prune-qat: a pruned model whose QAT dev metric ends more than POINTS "
           "below the official model's on the same dev split (drawn from every --calib file), or a pruned detector "
           "whose det Hmean does on any --domain that is a dev split (td500, zh_synth), is replaced by the "
           "unpruned QAT model; the report says so", metavar="POINTS", group="train"),
    Option("prune-sensitivity", role_map(("det", "rec"), text()), "reuse saved pruning sensitivity reports "
           "(edge-ocr prune writes them)", nargs="*", metavar="ROLE=REPORT.json", path="map", group="train"),
    Option("prune-plan", role_map(("det", "rec"), text()), "prune to a saved plan (edge-ocr prune writes "
           "plan.json) instead of planning one", nargs="*", metavar="ROLE=PLAN.json", path="map", group="train"),
    Option("dev", role_map(("det", "rec"), integer()), "dev split sizes for checkpoint selection", nargs="*",
           metavar="ROLE=N", group="train"),
    Option("eval-every", integer(), "evaluate on the dev split every N steps", metavar="N", group="train"),
    Option("resume", flag, "keep the finished pruning and training stages of an earlier run with the same --out "
           "(never in a recipe file: a recipe runs from scratch)", boolean=True, group="run"),
)
BY_NAME = {option.name: option for option in OPTIONS}


@dataclass
class CompressConfig:
    """What one compress run does. The defaults are what the shipped recipes use where they agree (a recipe file,
    ``recipes/*.toml``, names every value anyway)."""

    models: str = ""
    calib_det: list[str] = field(default_factory=list)
    calib_rec: list[str] = field(default_factory=list)
    out: str = ""
    recipe: str = "ptq"
    target: str = "arm"
    inputs: str | None = None
    seed: int = 0
    eval_det: str | None = None
    eval_rec: str | None = None
    domain: list[str] = field(default_factory=list)
    charset: str | None = None
    cls_precision: str = "int8"
    fp32_layer_weights: str = "int16"
    eval_limit: int | None = None
    max_drop: float | None = None
    det_algo: str = "KL"
    rec_algo: str = "hist"
    cls_algo: str = "hist"
    calib_det_images: int = 32
    calib_rec_crops: int = 240
    per_tensor: bool = False
    sensitivity: list[str] = field(default_factory=list)
    keep_fp32: int = 0
    # every shipped variant keeps the recognizer's stem FP32 (PTQ and QAT): one rule, one default
    keep_fp32_first: dict[str, int] = field(default_factory=lambda: {"rec": 16})
    rec_lstm_rank: int | None = None
    rec_lstm_distill_steps: int = 300
    rec_lstm_train_crops: int = 3000
    threads: int = 2
    report: str | None = None
    verify_images: int = 2
    verify_limit: list[str] = field(default_factory=list)
    verify: bool = True
    estimate: list[str] = field(default_factory=lambda: list(DEFAULT_TARGETS))
    estimate_images: list[str] = field(default_factory=list)  # empty: DEFAULT_IMAGES under $EDGE_OCR_SHARED
    det_steps: int = 60
    rec_steps: int = 40
    recovery_det_steps: int = 60
    recovery_rec_steps: int = 40
    det_batch_size: int = 2
    rec_batch_size: int = 16
    lr: float = 5e-5
    recovery_lr: float = 5e-5
    det_distill: str = "teacher"
    rec_distill: str = "teacher"
    # 0: distillation only, as qat-distill and qat-distill-latin ship (label-trained QAT learned the label files'
    # conventions, e.g. no spaces, and lost 17.7 points of agreement with FP32 on real TD500 lines)
    rec_label_weight: float = 0.0
    recovery_det_distill: str = "cml"
    recovery_rec_distill: str = "udml+teacher"
    pact: bool = False
    det_flops_reduction: float = 0.32
    rec_flops_reduction: float = 0.0
    criterion: str = "fpgm"
    prune_fallback_drop: float = 1.5
    prune_sensitivity: dict[str, str] = field(default_factory=dict)
    prune_plan: dict[str, str] = field(default_factory=dict)
    dev: dict[str, int] = field(default_factory=lambda: {"det": 30, "rec": 200})
    eval_every: int = 20
    resume: bool = False
    # set by from_recipe: the recipe's generated inputs and where the values came from
    generate: dict[str, dict] = field(default_factory=dict)
    recipe_file: str | None = None
    recipe_sha256: str | None = None
    recipe_name: str | None = None
    overrides: list[str] = field(default_factory=list)  # options given beside the recipe (they win)
    command: str | None = None  # the command line, for the report

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Every value through its option's parser (a config built in Python is held to the command line's rules);
        paths are checked to exist when the run starts, not here (a recipe names inputs it has yet to make)."""
        for option in OPTIONS:
            value = getattr(self, option.field)
            default = _default(option.field)
            if value is None and default is None:
                continue
            if option.boolean:
                if not isinstance(value, bool):
                    raise _bad(f"--{option.name}", value, "is not true or false")
                continue
            if value == "" and option.name in ("models", "out"):
                continue  # required: checked by require_complete
            setattr(self, option.field, option.parse(f"--{option.name}", value))

    def require_complete(self) -> None:
        missing = [f"--{name}" for name in ("models", "calib-det", "calib-rec")
                   if not getattr(self, name.replace("-", "_"))]
        if missing:
            raise EdgeOCRError(f"compress needs {', '.join(missing)}, or a recipe file that names them (--config)")
        if not self.out:
            raise EdgeOCRError("compress needs --out BUNDLE_DIR (where the bundle goes; its work folder is beside it)")

    @property
    def artifacts(self) -> str:
        return os.path.abspath(self.out).rstrip("/") + "-artifacts"

    @property
    def inputs_dir(self) -> str:
        return os.path.abspath(self.inputs) if self.inputs else os.path.join(self.artifacts, "inputs")

    def values(self) -> dict:
        """The options as a recipe would write them (for the report)."""
        return {option.name: getattr(self, option.field) for option in OPTIONS}

    @classmethod
    def from_values(cls, values: dict[str, Any], recipe: str | None = None, overrides: dict[str, Any] | None = None,
                    command: str | None = None) -> CompressConfig:
        """A config from option values by flag name (``calib-det-images``) or field name (``calib_det_images``),
        as a recipe file's ``[compress]`` table gives them, overridden by ``overrides`` (the command line's)."""
        return build_config(values, overrides or {}, recipe, command)

    @classmethod
    def from_recipe(cls, path: str, overrides: dict[str, Any] | None = None, command: str | None = None,
                    **more: Any) -> CompressConfig:
        """The config a recipe file describes, with ``overrides`` (and keyword arguments) winning over its values:
        ``CompressConfig.from_recipe("recipes/tiny.toml", out="/tmp/tiny")``."""
        return build_config(None, {**(overrides or {}), **more}, path, command)


def _default(name: str) -> Any:
    spec = {f.name: f for f in fields(CompressConfig)}[name]
    return spec.default_factory() if spec.default is MISSING else spec.default  # type: ignore[misc]


def _key(name: str) -> str:
    """A flag name or a field name -> the flag name; unknown names are refused."""
    flag_name = name.replace("_", "-")
    if flag_name not in BY_NAME:
        raise EdgeOCRError(f"unknown compress option {name!r}")
    return flag_name


_VARIABLE = re.compile(r"\$(\{)?([A-Za-z_][A-Za-z0-9_]*)(?(1)\})")


def expand(value: str, inputs: str) -> str:
    """``$EDGE_OCR_SHARED`` and ``$INPUTS`` (also ``${...}``) in a recipe value; any other variable is refused."""
    from edge_ocr.evaluation.domains import shared_dir

    known = {"EDGE_OCR_SHARED": shared_dir(), "INPUTS": inputs}

    def replace(match: re.Match) -> str:
        name = match.group(2)
        if name not in known:
            raise EdgeOCRError(f"recipe value {value!r}: unknown variable ${name} (use $EDGE_OCR_SHARED or $INPUTS)")
        return os.path.abspath(known[name])

    return _VARIABLE.sub(replace, value)


def _recipe_path(value: str, inputs: str) -> str:
    """A recipe's path: variables expanded, a relative one taken from the repository root."""
    expanded = expand(value, inputs)
    return expanded if os.path.isabs(expanded) else os.path.join(REPO, expanded)


def _resolve_recipe_paths(option: Option, value: Any, inputs: str) -> Any:
    if not option.path or value is None:
        return value
    if option.path == "one":
        return _recipe_path(value, inputs) if isinstance(value, str) else value
    if option.path == "many":
        return [_recipe_path(v, inputs) if isinstance(v, str) else v for v in value]
    if option.path == "map":
        return {k: _recipe_path(v, inputs) if isinstance(v, str) else v for k, v in value.items()}
    if option.path == "specs":  # domain specs: NAME or NAME:det=PATH,rec=PATH,...
        return [expand(v, inputs) if isinstance(v, str) else v for v in value]
    return value


def read_recipe(path: str) -> dict:
    """A recipe file's TOML, checked for shape (not yet for values)."""
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    if not os.path.isfile(path):
        raise EdgeOCRError(f"recipe file {path} does not exist")
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        recipe = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EdgeOCRError(f"recipe file {path}: {exc}") from None
    unknown = sorted(set(recipe) - {"name", "description", "compress", "inputs"})
    if unknown:
        raise EdgeOCRError(f"recipe file {path}: unknown top-level keys {', '.join(unknown)} "
                           "(name, description, [compress], [inputs.NAME])")
    if not isinstance(recipe.get("compress"), dict):
        raise EdgeOCRError(f"recipe file {path}: no [compress] table")
    if not isinstance(recipe.get("inputs", {}), dict):
        raise EdgeOCRError(f"recipe file {path}: [inputs] holds one table per input, [inputs.NAME]")
    for key in recipe["compress"]:
        option = BY_NAME.get(key)
        if option is None:
            raise EdgeOCRError(f"recipe file {path}: unknown compress option {key!r} (options are named as their "
                               "flags, without the leading dashes)")
        if key == "resume":
            raise EdgeOCRError(f"recipe file {path}: a recipe runs from scratch, resume is not a recipe value "
                               "(give --resume on the command line to finish an interrupted run in the same --out)")
        if option.group == "run" and key != "inputs":
            raise EdgeOCRError(f"recipe file {path}: {key} is given when the recipe is run, not in the file")
    recipe["sha256"] = hashlib.sha256(data).hexdigest()
    return recipe


def build_config(values: dict[str, Any] | None, overrides: dict[str, Any], recipe_path: str | None,
                 command: str | None) -> CompressConfig:
    """Recipe (or ``values``) first, ``overrides`` over it; every value parsed by its option."""
    recipe: dict = {}
    raw: dict[str, Any] = {}
    if recipe_path:
        recipe = read_recipe(recipe_path)
        raw.update(recipe["compress"])
    raw.update({_key(k): v for k, v in (values or {}).items()})
    given = {_key(k): v for k, v in overrides.items() if v is not None}
    # where the inputs go decides what $INPUTS means: the command line's --out / --inputs first
    out = given.get("out", raw.get("out", ""))
    inputs_value = given.get("inputs", raw.get("inputs"))
    if recipe_path and "inputs" not in given and isinstance(inputs_value, str):
        inputs_value = _recipe_path(inputs_value, "")
    inputs = os.path.abspath(inputs_value) if inputs_value else (
        os.path.abspath(out).rstrip("/") + "-artifacts/inputs" if out else "")
    if recipe_path:  # a recipe's paths: variables and the repository root (the command line's stay as given)
        raw = {name: _resolve_recipe_paths(BY_NAME[name], value, inputs) for name, value in raw.items()}
    raw.update(given)
    parsed = {BY_NAME[name].field: BY_NAME[name].parse(f"--{name}", value)
              if not BY_NAME[name].boolean else flag(f"--{name}", value) for name, value in raw.items()}
    if inputs and recipe.get("inputs"):
        parsed["inputs"] = inputs
    generate = {}
    for name, spec in recipe.get("inputs", {}).items():
        if not isinstance(spec, dict):
            raise EdgeOCRError(f"recipe file {recipe_path}: [inputs.{name}] is not a table")
        generate[name] = {key: (expand(v, inputs) if isinstance(v, str) else v) for key, v in spec.items()}
    config = CompressConfig(**parsed, generate=generate,
                            recipe_file=os.path.abspath(recipe_path) if recipe_path else None,
                            recipe_sha256=recipe.get("sha256"), recipe_name=recipe.get("name"),
                            overrides=sorted(given), command=command)
    if generate:
        check_input_specs(generate, config.inputs_dir)
    return config


def report_options(config: CompressConfig) -> dict:
    """The config as JSON for a report: option values, and where the recipe came from."""
    data = asdict(config)
    return {"options": config.values(), "recipe_file": data["recipe_file"], "recipe_sha256": data["recipe_sha256"],
            "recipe_name": data["recipe_name"], "overrides": data["overrides"], "inputs": data["generate"]}
