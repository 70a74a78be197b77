"""``PipelineOptions``: which models a pipeline runs, on which engine, with which threshold overrides; and
``open_pipeline``, the one place that turns them into an ``OCRPipeline`` (predict, eval and the Python API)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .errors import EdgeOCRError

log = logging.getLogger(__name__)

# x86 Paddle Lite 2.13 computes NaN in int8 kernels, so an int8 ARM bundle runs here only emulated
SLOW_NOTE = ("{name} is an int8 ARM bundle: on this {host} host it runs on Paddle Lite's aarch64 library under "
             "qemu (--engine lite-qemu, emulated: slow, seconds per image), because x86 Paddle Lite returns NaN for "
             "int8 models")


@dataclass
class PipelineOptions:
    models: str | None = None  # inference models folder (None: the default PP-OCRv2 set)
    bundle: str | None = None  # a bundle folder, or a released bundle's name (edge_ocr/releases.json)
    engine: str = "auto"  # auto, paddle, lite, lite-qemu
    threads: int = 2
    power_mode: str | None = None
    use_cls: bool = True
    det_model: str | None = None  # another det model (folder or .nb) in place of the set's
    # threshold overrides (None: the models' or the bundle's manifest's)
    det_limit_side_len: int | None = None
    det_thresh: float | None = None
    det_box_thresh: float | None = None
    det_unclip_ratio: float | None = None
    cls_thresh: float | None = None
    drop_score: float | None = None
    rec_batch_size: int | None = None


def _bundle_engine(folder: str, name: str, engine: str, notify: Callable[[str], None]) -> str:
    """The engine for a bundle: an int8 ARM bundle on a host that is not ARM goes to lite-qemu (auto), with a note."""
    import platform

    from .bundle import load_bundle
    from .engines.lite import runtime_target

    if engine not in ("auto", "lite-qemu"):
        return engine
    bundle = load_bundle(folder)
    int8 = any(e["precision"] != "fp32" for e in bundle.manifest["models"].values())
    if bundle.target == "arm" and runtime_target() != "arm" and int8:
        notify(SLOW_NOTE.format(name=name, host=platform.machine() or "x86"))
        return "lite-qemu"
    return "lite" if engine == "auto" else engine


def open_pipeline(options: PipelineOptions, notify: Callable[[str], None] | None = None):
    """An ``OCRPipeline`` from ``options``; ``notify`` gets one-line notes for the user (default: logged)."""
    from .pipeline import OCRPipeline

    notify = notify or log.info
    det_engine = options.engine
    if options.bundle:
        from .releases import resolve_bundle

        if options.engine == "paddle":
            raise EdgeOCRError("a bundle holds Paddle Lite models: use --engine lite or auto")
        folder, release = resolve_bundle(options.bundle)
        engine = _bundle_engine(folder, options.bundle, options.engine, notify) if release else (
            "lite-qemu" if options.engine == "lite-qemu" else "lite")
        if engine == "lite-qemu":  # a det model given beside an emulated bundle runs emulated too
            det_engine = engine
        pipeline = OCRPipeline.from_bundle(folder, threads=options.threads, use_cls=options.use_cls,
                                           power_mode=options.power_mode, engine=engine)
    else:
        pipeline = OCRPipeline.from_models(options.models, engine=options.engine, threads=options.threads,
                                           use_cls=options.use_cls, power_mode=options.power_mode)
    if options.det_model:
        from .engines import create_engine

        pipeline.detector.engine = create_engine(options.det_model, det_engine, threads=options.threads,
                                                 power_mode=options.power_mode)
    params = pipeline.params
    overrides = [
        (params.det, "limit_side_len", options.det_limit_side_len),
        (params.det, "thresh", options.det_thresh),
        (params.det, "box_thresh", options.det_box_thresh),
        (params.det, "unclip_ratio", options.det_unclip_ratio),
        (params.cls, "thresh", options.cls_thresh),
        (params.rec, "drop_score", options.drop_score),
        (params.rec, "batch_size", options.rec_batch_size),
    ]
    for section, name, value in overrides:
        if value is not None:
            setattr(section, name, value)
    try:
        params.validate()
    except ValueError as exc:
        raise EdgeOCRError(f"bad option: {exc}") from None
    return pipeline
