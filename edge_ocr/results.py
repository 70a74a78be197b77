"""Typed results that serialise to the JSON the CLI writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OCRLine:
    box: list[list[int]]  # four [x, y] corners: top-left, top-right, bottom-right, bottom-left
    text: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"box": [[int(x), int(y)] for x, y in self.box], "text": self.text, "score": round(float(self.score), 6)}


@dataclass
class OCRResult:
    image: str
    lines: list[OCRLine] = field(default_factory=list)
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"image": self.image, "lines": [line.to_dict() for line in self.lines]}
        if self.error:
            out["error"] = self.error
        return out
