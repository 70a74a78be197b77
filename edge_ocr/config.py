"""Every pre- and post-processing parameter of the PP-OCRv2 pipeline, in one place.

The defaults are PaddleOCR 2.8.1's for ``ocr_version="PP-OCRv2"``. A bundle's ``manifest.json`` stores
``PipelineParams.to_dict()`` so that the Python runtime and the C++ core read the same numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from typing import Any

from .schema_check import check

# The largest image the memory bound covers (README, "Bad input"): a manifest may lower it, never raise it.
MAX_IMAGE_PIXELS = 64_000_000
MAX_DET_SIDE = 4096  # the det input's longest side, whatever the limit type
# The det input's area, whatever the limit type and the image's shape (det.py and the C++ core scale it down to fit):
# the detector's working memory grows with it (Paddle Lite x86, FP32: about 410 bytes per input pixel, so 1 GB here).
MAX_DET_PIXELS = 1536 * 1536
MAX_DET_SIDE_LEN = math.isqrt(MAX_DET_PIXELS)  # the largest limit_side_len: a square image's det input fits


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

        The ranges (``_RULES``, the same JSON Schema the bundle manifest and the C++ core use) keep a hostile manifest
        or option from breaking the bounds the runtime relies on: the det input stays within ``MAX_DET_PIXELS``
        and ``MAX_DET_SIDE``, images within ``MAX_IMAGE_PIXELS``, batches small.
        """
        check(params_schema(), _as_json(self.to_dict()))
        return self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineParams:
        """Inverse of ``to_dict``; unknown keys are an error so that a typo never passes silently. Missing keys take
        their defaults (the schema's ``default``)."""
        check(params_schema(), data, "params")
        kwargs = {key: _build(_SECTIONS[key], value) if key in _SECTIONS else value for key, value in data.items()}
        return cls(**kwargs).validate()


def _build(kind: type, values: dict[str, Any]) -> Any:
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _as_json(value: Any) -> Any:
    """``to_dict()``'s tuples as lists, the shape JSON gives."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_as_json(v) for v in value]
    return value


# Each rule is the JSON Schema of one parameter (edge_ocr/schema_check.py lists the keywords), so that
# ``validate``, the manifest schema (edge_ocr/bundle.schema.json) and the C++ core check the same ranges.
def _integer(low: int, high: int) -> dict:
    return {"type": "integer", "minimum": low, "maximum": high}


def _number(low: float, high: float, low_open: bool = False) -> dict:
    return {"type": "number", "exclusiveMinimum" if low_open else "minimum": float(low), "maximum": float(high)}


def _choice(*options: str) -> dict:
    return {"type": "string", "enum": list(options)}


_FLAG = {"type": "boolean"}


def _triple(item: dict) -> dict:
    return {"type": "array", "minItems": 3, "maxItems": 3, "items": item}


def _shape(max_height: int, max_width: int) -> dict:
    return {"type": "array", "minItems": 3, "maxItems": 3,
            "prefixItems": [{"const": 3}, _integer(1, max_height), _integer(1, max_width)]}


_LABELS = {"type": "array", "minItems": 1, "maxItems": 16, "items": {"type": "string"}}


_RULES: dict[str, dict] = {
    # A square image's det input is limit_side_len squared whatever the limit type: within MAX_DET_PIXELS.
    "det.limit_side_len": _integer(32, MAX_DET_SIDE_LEN),
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
    "det.use_dilation": _FLAG,
    "crop.rotate_ratio": _number(0.0, 1e3, low_open=True),
    "cls.image_shape": _shape(1024, 4096),
    "cls.batch_size": _integer(1, 256),
    "cls.thresh": _number(0.0, 1.0),
    "cls.labels": _LABELS,
    "rec.image_shape": _shape(1024, 4096),
    "rec.batch_size": _integer(1, 256),
    "rec.drop_score": _number(0.0, 1.0),
    "rec.use_space_char": _FLAG,
    "use_cls": _FLAG,
    "max_image_pixels": _integer(1, MAX_IMAGE_PIXELS),
}


_SECTIONS = {"det": DetParams, "crop": CropParams, "cls": ClsParams, "rec": RecParams}


@functools.lru_cache(maxsize=1)
def params_schema() -> dict:
    """The JSON Schema of ``PipelineParams.to_dict()``: every field's rule from ``_RULES`` with its default."""
    defaults = _as_json(PipelineParams().to_dict())
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": {}}
    for f in dataclasses.fields(PipelineParams):
        if f.name in _SECTIONS:
            section = {"type": "object", "additionalProperties": False, "properties": {}}
            for g in dataclasses.fields(_SECTIONS[f.name]):
                rule = _RULES[f"{f.name}.{g.name}"]
                section["properties"][g.name] = {**rule, "default": defaults[f.name][g.name]}
            schema["properties"][f.name] = section
        else:
            schema["properties"][f.name] = {**_RULES[f.name], "default": defaults[f.name]}
    return schema
