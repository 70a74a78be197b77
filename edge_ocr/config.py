"""Every pre- and post-processing parameter of the PP-OCRv2 pipeline, in one place.

The defaults are PaddleOCR 2.8.1's for ``ocr_version="PP-OCRv2"``. A bundle's ``manifest.json`` stores
``PipelineParams.to_dict()`` so that the Python runtime and the C++ core read the same numbers.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# The largest image the memory bound covers (README, "Bad input"): a manifest may lower it, never raise it.
MAX_IMAGE_PIXELS = 64_000_000
MAX_DET_SIDE = 4096  # the det input's longest side, whatever the limit type


@dataclass
class DetParams:
    limit_side_len: int = 960
    limit_type: str = "max"  # "max" | "min" | "resize_long"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    scale: float = 1.0 / 255.0
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    max_candidates: int = 1000
    score_mode: str = "fast"  # "fast" (box mean) | "slow" (polygon mean)
    min_size: int = 3
    use_dilation: bool = False


@dataclass
class CropParams:
    # A crop whose height / width is at least this is rotated 90 degrees (vertical text).
    rotate_ratio: float = 1.5


@dataclass
class ClsParams:
    image_shape: tuple[int, int, int] = (3, 48, 192)
    batch_size: int = 6
    thresh: float = 0.9
    labels: tuple[str, ...] = ("0", "180")


@dataclass
class RecParams:
    image_shape: tuple[int, int, int] = (3, 32, 320)
    batch_size: int = 6
    drop_score: float = 0.5
    use_space_char: bool = True


@dataclass
class PipelineParams:
    det: DetParams = field(default_factory=DetParams)
    crop: CropParams = field(default_factory=CropParams)
    cls: ClsParams = field(default_factory=ClsParams)
    rec: RecParams = field(default_factory=RecParams)
    use_cls: bool = True
    # Images above this many pixels are decoded at reduced size (JPEG) or refused, to bound memory.
    max_image_pixels: int = MAX_IMAGE_PIXELS

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def validate(self) -> PipelineParams:
        """Raise ``ValueError`` naming the first parameter whose type or value is out of range; else return self.

        The ranges keep a hostile manifest or option from breaking the bounds the runtime relies on (the det input
        stays below 4096 px a side, images below ``MAX_IMAGE_PIXELS``, batches small).
        """
        for name, check in _RULES.items():
            section, _, field_name = name.rpartition(".")
            value = getattr(getattr(self, section) if section else self, field_name)
            problem = check(value)
            if problem:
                raise ValueError(f"{name} {problem}, not {value!r}")
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineParams:
        """Inverse of ``to_dict``; unknown keys are an error so that a typo never passes silently."""
        sections = {"det": DetParams, "crop": CropParams, "cls": ClsParams, "rec": RecParams}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in sections:
                kwargs[key] = _build(sections[key], value)
            elif key in {f.name for f in dataclasses.fields(cls)}:
                kwargs[key] = value
            else:
                raise ValueError(f"unknown pipeline parameter {key!r}")
        return cls(**kwargs).validate()


def _build(kind: type, values: dict[str, Any]) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"{kind.__name__} must be an object, not {type(values).__name__}")
    known = {f.name: f for f in dataclasses.fields(kind)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {kind.__name__} parameter(s): {', '.join(sorted(unknown))}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return kind(**converted)



def _integer(low: int, high: int):
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else f"must be an integer from {low} to {high}"

    return check


def _number(low: float, high: float, low_open: bool = False):
    def check(value: Any) -> str | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        ok = ok and (low < value if low_open else low <= value) and value <= high
        bounds = f"above {low} and at most {high}" if low_open else f"from {low} to {high}"
        return None if ok else f"must be a number {bounds}"

    return check


def _choice(*options: str):
    return lambda value: None if value in options else f"must be one of {', '.join(options)}"


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _triple(item):
    def check(value: Any) -> str | None:
        if not isinstance(value, (tuple, list)) or len(value) != 3:
            return "must be a list of 3"
        return next((f"[{i}] {p}" for i, p in enumerate(map(item, value)) if p), None)

    return check


def _shape(max_height: int, max_width: int):
    def check(value: Any) -> str | None:
        if not isinstance(value, (tuple, list)) or len(value) != 3 or value[0] != 3:
            return "must be [3, height, width]"
        return _integer(1, max_height)(value[1]) or _integer(1, max_width)(value[2])

    return check


def _labels(value: Any) -> str | None:
    ok = isinstance(value, (tuple, list)) and 0 < len(value) <= 16 and all(isinstance(v, str) for v in value)
    return None if ok else "must be a list of 1 to 16 strings"


_RULES: dict[str, Any] = {
    "det.limit_side_len": _integer(32, MAX_DET_SIDE),
    "det.limit_type": _choice("max", "min", "resize_long"),
    "det.mean": _triple(_number(-1e3, 1e3)),
    "det.std": _triple(_number(0.0, 1e3, low_open=True)),
    "det.scale": _number(0.0, 1e3, low_open=True),
    "det.thresh": _number(0.0, 1.0),
    "det.box_thresh": _number(0.0, 1.0),
    "det.unclip_ratio": _number(0.0, 10.0, low_open=True),
    "det.max_candidates": _integer(1, 100_000),
    "det.score_mode": _choice("fast", "slow"),
    "det.min_size": _integer(0, 1000),
    "det.use_dilation": _flag,
    "crop.rotate_ratio": _number(0.0, 1e3, low_open=True),
    "cls.image_shape": _shape(1024, 4096),
    "cls.batch_size": _integer(1, 256),
    "cls.thresh": _number(0.0, 1.0),
    "cls.labels": _labels,
    "rec.image_shape": _shape(1024, 4096),
    "rec.batch_size": _integer(1, 256),
    "rec.drop_score": _number(0.0, 1.0),
    "rec.use_space_char": _flag,
    "use_cls": _flag,
    "max_image_pixels": _integer(1, MAX_IMAGE_PIXELS),
}
