"""Every pre- and post-processing parameter of the PP-OCRv2 pipeline, in one place.

The defaults are PaddleOCR 2.8.1's for ``ocr_version="PP-OCRv2"``. A bundle's ``manifest.json`` stores
``PipelineParams.to_dict()`` so that the Python runtime and the C++ core read the same numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


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
    max_image_pixels: int = 64_000_000

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

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
        return cls(**kwargs)


def _build(kind: type, values: dict[str, Any]) -> Any:
    known = {f.name: f for f in dataclasses.fields(kind)}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {kind.__name__} parameter(s): {', '.join(sorted(unknown))}")
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return kind(**converted)
