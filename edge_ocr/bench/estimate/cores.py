"""Target cores of ``edge-ocr bench --estimate``: how each is emulated (cpuinfo, caches) and costed (llvm-mca model).

Each core names the board whose published Paddle Lite latencies validate it, the one memory constant fitted there
(``bandwidth_gbs``: weight bytes per run / this = the memory term, fitted on MobileNetV1 FP32 alone by
``benchmarks/estimate_validation.py``) and the validation error that the report prints beside every figure.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache

from ...errors import EdgeOCRError


@dataclass(frozen=True)
class Core:
    name: str
    mca_cpu: str  # llvm-mca -mcpu
    mca_note: str  # which scheduling model that is
    implementer: int  # /proc/cpuinfo "CPU implementer"
    part: int  # /proc/cpuinfo "CPU part": Paddle Lite knows the architecture (and sdot support) from it
    variant: int
    features: str  # /proc/cpuinfo "Features": asimddp selects Paddle Lite's sdot int8 kernels
    caches_kb: tuple[int, ...]  # per-core data/unified caches, L1d first, as /sys shows them to Paddle Lite
    default_ghz: float
    board: str  # the board whose published latencies validate this core
    borrow: str | None = None  # not validated: the core whose memory constant it uses
    note: str = ""
    # Pipe rule on top of llvm-mca (no fitted number): in blocks dominated by widening integer multiplies
    # (smull/smlal), the pairwise accumulates (sadalp) issue on the same single pipe, one op per cycle. See
    # benchmarks/results/estimate-a72-int8.md: the A57 model puts sadalp on F1, which leaves every A72 int8 point of
    # the validation 11-26 % fast; with the rule all are within 7 %.
    multiply_pipe_takes_sadalp: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)


BASE_FEATURES = "fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid"
V82_FEATURES = BASE_FEATURES + " atomics fphp asimdhp asimdrdm lrcpc dcpop asimddp"

CORES = {
    "cortex-a72": Core(
        name="cortex-a72", mca_cpu="cortex-a72", mca_note="LLVM's cortex-a72 = its Cortex-A57 scheduling model",
        implementer=0x41, part=0xD08, variant=0, features=BASE_FEATURES, caches_kb=(32, 1024), default_ghz=1.5,
        board="RK3399 (A72 @1.8 GHz)", aliases=("a72", "pi4"), multiply_pipe_takes_sadalp=True),
    "cortex-a76": Core(
        name="cortex-a76", mca_cpu="neoverse-n1", mca_note="LLVM's Neoverse-N1 model (the A76's server twin; LLVM's "
        "cortex-a76 is still the A57 model)",
        # as a Snapdragon 855 reports its A76-class cores (Kryo 485 Gold): this Paddle Lite does not take ARM's A76
        # part number 0xd0b as dot-product capable and would pick the smlal int8 kernels
        implementer=0x51, part=0x804, variant=0xD, features=V82_FEATURES,
        caches_kb=(64, 512, 2048), default_ghz=2.84, board="Snapdragon 855 (A76 @2.84 GHz)",
        aliases=("a76", "sd855")),
    "cortex-a55": Core(
        name="cortex-a55", mca_cpu="cortex-a55", mca_note="LLVM's Cortex-A55 model (in order)", implementer=0x41,
        part=0xD05, variant=1, features=V82_FEATURES, caches_kb=(32, 128, 2048), default_ghz=1.8, board="none",
        borrow="cortex-a76", note="not validated: no published A55 latencies; memory "
        "constant borrowed from the A76 (same SoC)", aliases=("a55",)),
}


CALIBRATION_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "calibration.json")


@lru_cache(maxsize=1)
def _calibration() -> dict:
    try:
        with open(CALIBRATION_PATH) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def calibration(core: Core) -> dict:
    """The core's fitted memory constant and validation error (``benchmarks/estimate_validation.py`` writes them);
    an unvalidated core borrows its ``borrow`` core's constant and says so. Empty when never calibrated."""
    own = _calibration().get(core.name)
    if own:
        return dict(own, validated=True)
    lent = _calibration().get(core.borrow or "")
    if lent:
        return {"bandwidth_gbs": lent["bandwidth_gbs"], "validated": False, "note": core.note}
    return {}


@dataclass(frozen=True)
class Target:
    core: Core
    ghz: float

    @property
    def label(self) -> str:
        return f"{self.core.name}@{self.ghz:g}"


def parse_target(text: str) -> Target:
    """``cortex-a72@1.5`` (GHz; default the core's usual clock) -> Target."""
    match = re.fullmatch(r"([a-z0-9-]+)(?:@([0-9.]+))?", text.strip().lower())
    if not match:
        raise EdgeOCRError(f"bad --estimate target '{text}': want CORE[@GHZ], e.g. cortex-a72@1.5")
    name, ghz = match.group(1), match.group(2)
    core = CORES.get(name) or next((c for c in CORES.values() if name in c.aliases), None)
    if core is None:
        raise EdgeOCRError(f"unknown core '{name}' in --estimate: known {', '.join(CORES)}")
    try:
        value = float(ghz) if ghz else core.default_ghz
    except ValueError:
        raise EdgeOCRError(f"bad clock in --estimate '{text}'") from None
    if not 0.1 <= value <= 6.0:
        raise EdgeOCRError(f"clock {value} GHz in --estimate '{text}' is out of range (0.1 to 6)")
    return Target(core, value)


def cpuinfo_text(core: Core, processors: int = 2) -> str:
    """A /proc/cpuinfo for the core. The Hardware line names no known SoC, so Paddle Lite takes the architecture
    from the part number and the caches from /sys (both faked by the prefix) instead of its own SoC table."""
    parts = []
    for cpu in range(processors):
        parts.append(f"processor\t: {cpu}\nBogoMIPS\t: 38.40\nFeatures\t: {core.features}\n"
                     f"CPU implementer\t: {core.implementer:#x}\nCPU architecture: 8\n"
                     f"CPU variant\t: {core.variant:#x}\nCPU part\t: {core.part:#x}\n"
                     "CPU revision\t: 0\n")
    return "\n".join(parts) + f"\nHardware\t: edge-ocr estimate {core.name}\n"


def profile_digest(core: Core) -> str:
    """Names what the emulated runtime sees of the core (cpuinfo, caches, clock): a trace belongs to it."""
    import hashlib

    text = cpuinfo_text(core) + repr((core.caches_kb, core.default_ghz))
    if core.multiply_pipe_takes_sadalp:  # costing rule: traces costed before it are stale
        text += "multiply_pipe_takes_sadalp"
    return hashlib.sha256(text.encode()).hexdigest()[:12]
