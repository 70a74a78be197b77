"""``export_bundle``: inference models (FP32 or quantized) -> ``det.nb``, ``cls.nb``, ``rec.nb`` + manifest.

The bundle is built in a temporary folder beside ``out_dir`` and renamed into place only when complete.
"""

from __future__ import annotations

import datetime
import logging
import os
import shutil
import tempfile

from edge_ocr import __version__
from edge_ocr.atomic import replace_dir
from edge_ocr.bundle import FORMAT_VERSION, load_bundle, write_manifest
from edge_ocr.config import PipelineParams
from edge_ocr.engines.lite import convert_to_nb, inspect_nb, runtime_version
from edge_ocr.errors import EdgeOCRError
from edge_ocr.models import resolve_models, sha256_file
from edge_ocr.program import input_spec

from .nb_compact import compact_nb
from .targets import get_target

log = logging.getLogger(__name__)

NB_NAMES = {"det": "det.nb", "cls": "cls.nb", "rec": "rec.nb"}


def clear_version_padding(nb_path: str) -> None:
    """Zero what follows the NUL of the .nb's char[16] opt version (bytes 2-17): opt leaves whatever its stack held
    there, so the same model gave other bytes on every export. Paddle Lite reads the string up to its NUL."""
    with open(nb_path, "r+b") as handle:
        field = handle.read(18)[2:]
        end = field.find(b"\0")
        if len(field) == 16 and end >= 0 and field[end:] != bytes(16 - end):
            handle.seek(2 + end)
            handle.write(bytes(16 - end))


def export_bundle(
    models_dir: str,
    out_dir: str,
    target: str = "arm",
    fp16: bool = False,
    weight_only: bool | tuple[str, ...] = False,
    weight_bits: int = 8,
    params: PipelineParams | None = None,
    include_cls: bool = True,
    extra: dict | None = None,
    keep_attrs: bool = False,
    compact_program: bool = True,
) -> str:
    """Convert the det/cls/rec inference models in ``models_dir`` with opt for ``target`` into a bundle.

    ``weight_only``: True for every model, or the roles whose FP32 weights opt stores as ``weight_bits`` integers
    (restored to FP32 at load; ``export.weight_only`` puts them on that grid first where the simulation must match).
    ``keep_attrs``: keep the op attributes Paddle Lite never reads (dropped by default; see ``convert_to_nb``).
    ``compact_program``: store each distinct table of the .nb's program once (``export.nb_compact``; the same
    program, 0.1-0.16 MB smaller per model)."""
    spec = get_target(target)
    if fp16 and not spec.fp16:
        raise EdgeOCRError(f"--fp16 has no kernels on target {target}")
    if weight_only and not spec.weight_only:
        raise EdgeOCRError(f"weight-only quantization is not sound on target {target} (its runtime returns NaN)")
    paths = resolve_models(models_dir, need_cls=include_cls)
    params = params or PipelineParams()
    out_dir = os.path.abspath(out_dir)
    if os.path.exists(out_dir) and os.listdir(out_dir) and not os.path.isfile(os.path.join(out_dir, "manifest.json")):
        raise EdgeOCRError(f"{out_dir} exists and is not a bundle: refusing to overwrite it")
    parent = os.path.dirname(out_dir)
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".bundle-", dir=parent)
    try:
        models = {}
        roles = [("det", paths.det), ("cls", paths.cls if include_cls else None), ("rec", paths.rec)]
        for role, model_dir in roles:
            if model_dir is None:
                continue
            nb = os.path.join(work, NB_NAMES[role])
            packed = weight_only is True or (weight_only is not False and role in weight_only)
            log.info("opt %s -> %s (%s)", model_dir, nb, target)
            convert_to_nb(model_dir, nb, target=spec.valid_targets, fp16=fp16, weight_only=packed,
                          weight_bits=weight_bits, keep_attrs=keep_attrs)
            if compact_program:
                compact_nb(nb, drop_calibration=not keep_attrs)
            clear_version_padding(nb)
            info = inspect_nb(nb)
            models[role] = {
                "file": NB_NAMES[role],
                "precision": f"int{weight_bits}-weights" if packed and info.precision == "fp32" else info.precision,
                "weight_only_bits": weight_bits if packed else 0,
                "unread_attrs_dropped": not keep_attrs,
                "program_compacted": compact_program,
                "fp16": fp16,
                "kernel_targets": dict(info.targets),
                "input": input_spec(model_dir),
                "source": {name: sha256_file(os.path.join(model_dir, name))
                           for name in ("inference.pdmodel", "inference.pdiparams")},
                "source_dir": os.path.basename(os.path.normpath(model_dir)),
            }
        dict_name = os.path.basename(paths.dictionary)
        shutil.copyfile(paths.dictionary, os.path.join(work, dict_name))
        with open(paths.dictionary, encoding="utf-8") as handle:
            characters = sum(1 for _ in handle)
        files = {name: sha256_file(os.path.join(work, name)) for name in sorted(os.listdir(work))}
        opt_version = inspect_nb(os.path.join(work, NB_NAMES["det"])).opt_version
        manifest = {
            "format_version": FORMAT_VERSION,
            "created_by": f"edge-ocr {__version__}",
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "opt_version": opt_version,
            "paddlelite_version": runtime_version(),
            "target": target,
            "valid_targets": spec.valid_targets,
            "models": models,
            "dictionary": {"file": dict_name, "characters": characters,
                           "classes": characters + 1 + int(params.rec.use_space_char)},
            "params": params.to_dict(),
            "files": files,
            **(extra or {}),
        }
        write_manifest(work, manifest)
        load_bundle(work)  # the bundle must read back before it replaces anything
        replace_dir(work, out_dir)
    finally:
        if os.path.isdir(work):
            shutil.rmtree(work, ignore_errors=True)
    return out_dir
