"""Export targets as data: what ``paddle_lite_opt`` is asked for and what the bundle promises."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    name: str
    valid_targets: str  # opt's --valid_targets
    runs_on: str  # who can execute the bundle
    fp16: bool  # whether --enable_fp16 is meaningful (ARMv8.2 fp16 kernels)
    weight_only: bool  # whether the runtime restores int8-stored weights soundly (2.13's x86 returns NaN)


TARGETS: dict[str, Target] = {
    "arm": Target("arm", "arm", "Android / ARM Linux (armv7, armv8) through Paddle Lite's ARM library",
                  fp16=True, weight_only=True),
    "x86": Target("x86", "x86", "x86-64 hosts through paddlelite's Python wheel (the correctness twin)",
                  fp16=False, weight_only=False),
    "opencl": Target("opencl", "opencl,arm", "Android GPUs through Paddle Lite's OpenCL backend, ARM fallback",
                     fp16=True, weight_only=True),
}


def get_target(name: str) -> Target:
    from edge_ocr.errors import EdgeOCRError

    if name not in TARGETS:
        raise EdgeOCRError(f"unknown export target {name!r}; choose from {', '.join(TARGETS)}")
    return TARGETS[name]
