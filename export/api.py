"""``export`` and ``verify`` from Python (``edge-ocr export`` and ``edge-ocr verify`` wrap them).

    from edge_ocr import export, verify
    bundle = export("../shared/models/ppocrv2", "out/arm", target="arm")
    report = verify("out/arm", against="../shared/models/ppocrv2", samples=["img_11.jpg"])
    assert report.passed
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field, fields

from edge_ocr.errors import EdgeOCRError


@dataclass
class ExportConfig:
    """One export: inference models (FP32, or quantized with fake-quant ops) -> a Paddle Lite bundle."""

    models: str = ""
    out: str = ""
    target: str = "arm"  # arm, x86, opencl (export.targets)
    fp16: bool = False  # FP16 kernels (ARMv8.2+)
    weight_only_bits: int | None = None  # 8 or 16: FP32 conv/fc weights stored as integers, restored at load
    include_cls: bool = True
    charset: str | None = None  # latin, digits or a file of characters: the recognizer's CTC head sliced
    keep_program_attrs: bool = False  # keep the op attributes Paddle Lite never reads
    compact_program: bool = True  # each distinct table of the .nb's program stored once

    def check(self) -> None:
        from .targets import get_target

        if not self.models or not self.out:
            raise EdgeOCRError("export needs the models folder and the bundle folder to write (out)")
        get_target(self.target)
        if self.weight_only_bits not in (None, 8, 16):
            raise EdgeOCRError(f"weight_only_bits is 8 or 16, not {self.weight_only_bits}")


@dataclass
class VerifyConfig:
    """One verification: a bundle's own .nb files run (on ARM, or emulated) against its sources."""

    bundle: str = ""
    against: str = ""  # the FP32 source models
    samples: list[str] = field(default_factory=list)  # images or folders
    quantized: str | None = None  # the quantized models it was exported from (default: its compress report's)
    max_images: int = 8
    runtime: str = "auto"  # auto, native, qemu, x86-twin
    limits: list[str] = field(default_factory=list)  # SIDE.NAME=VALUE threshold overrides
    gate_fp32: bool = False  # also fail past the FP32 side's limits
    # a charset bundle: {side: the full models that side's reference was cut from}, or "SIDE=DIR" items
    charset_sources: dict[str, str] | list[str] = field(default_factory=dict)

    def check(self) -> None:
        from .verify import RUNTIMES

        if not isinstance(self.charset_sources, dict):
            items = [item.partition("=") for item in self.charset_sources]
            bad = [side for side, eq, folder in items if not eq or side not in ("expected", "fp32") or not folder]
            if bad:
                raise EdgeOCRError(f"charset source {bad[0]!r}: give SIDE=MODELS_DIR, SIDE expected or fp32")
            self.charset_sources = {side: folder for side, _, folder in items}

        if not self.bundle or not self.against or not self.samples:
            raise EdgeOCRError("verify needs a bundle, the FP32 models it came from (against) and sample images")
        if self.max_images < 1:
            raise EdgeOCRError(f"max_images must be at least 1, not {self.max_images}")
        if self.runtime not in RUNTIMES:
            raise EdgeOCRError(f"unknown runtime {self.runtime!r}; choose from {', '.join(RUNTIMES)}")


@dataclass
class VerifyReport:
    """What ``verify`` measured: every check, whether each gates, and the verdict."""

    data: dict

    @property
    def passed(self) -> bool:
        return bool(self.data["passed"])

    @property
    def failed(self) -> str:
        return self.data["failed"]

    @property
    def checks(self) -> list[dict]:
        return self.data["checks"]

    def to_markdown(self) -> str:
        from .verify import verify_markdown

        return verify_markdown(self.data)


def _configure(config, cls, given: dict):
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise TypeError(f"unknown {cls.__name__} options {', '.join(unknown)}")
    config = config or cls()
    for key, value in given.items():
        setattr(config, key, value)
    return config


def export(models: str | None = None, out: str | None = None, *, config: ExportConfig | None = None, **options):
    """Export ``models`` to a bundle in ``out``; returns the bundle (``edge_ocr.bundle.Bundle``), loaded and checked.
    Options: the fields of ``ExportConfig``."""
    from edge_ocr.bundle import load_bundle

    from .bundle import export_bundle

    given = {k: v for k, v in (("models", models), ("out", out)) if v is not None}
    config = _configure(config, ExportConfig, {**given, **options})
    config.check()
    models_dir, extra = config.models, None
    with tempfile.TemporaryDirectory(prefix="edge-ocr-charset-") as work:
        if config.charset:
            from .charset import apply_charset

            models_dir, charset = apply_charset(models_dir, config.charset, os.path.join(work, "models"))
            extra = {"charset": charset}
        written = export_bundle(models_dir, config.out, target=config.target, fp16=config.fp16,
                                weight_only=bool(config.weight_only_bits), weight_bits=config.weight_only_bits or 8,
                                include_cls=config.include_cls, extra=extra, keep_attrs=config.keep_program_attrs,
                                compact_program=config.compact_program)
    return load_bundle(written)


def verify(bundle: str | None = None, against: str | None = None, samples: list[str] | None = None, *,
           config: VerifyConfig | None = None, **options) -> VerifyReport:
    """Run ``bundle``'s own models on ``samples`` and compare them with what they should compute (its quantized
    models) and with the FP32 models ``against``. Options: the fields of ``VerifyConfig``."""
    from .verify import Thresholds, verify_bundle

    given = {k: v for k, v in (("bundle", bundle), ("against", against), ("samples", samples)) if v is not None}
    config = _configure(config, VerifyConfig, {**given, **options})
    config.check()
    data = verify_bundle(config.bundle, config.against, list(config.samples), quantized=config.quantized,
                         thresholds=Thresholds().override(list(config.limits)), max_images=config.max_images,
                         runtime=config.runtime, gate_fp32=config.gate_fp32,
                         charset_sources=config.charset_sources or None)
    return VerifyReport(data)
