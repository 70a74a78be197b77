"""Board-free ARM latency estimates (``edge-ocr bench --estimate CORE@GHZ``).

Method: the real aarch64 Paddle Lite runtime runs the ``.nb`` under qemu-aarch64, seeing the target core's cpuinfo
and caches, with a TCG plugin that counts how often each translated block executes during one marked
``Predictor::Run()`` (after a warm-up run). Each distinct block is costed by llvm-mca's scheduling model of the core
(cycles per iteration), times its executions; a memory term adds the weight bytes every run streams divided by one
bandwidth constant per board, fitted on MobileNetV1 FP32 against Paddle Lite's published latencies
(``benchmarks/estimate_validation.py``). Every figure is an estimate, never a measurement.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from ...models import default_cache_dir
from .attribute import Attributor, classify
from .cores import CORES, Core, Target, calibration, parse_target, profile_digest
from .costing import CycleCache, disassemble
from .memory import activation_names, bytes_moved, read_graph
from .trace import run_trace

log = logging.getLogger(__name__)

__all__ = ["CORES", "Target", "parse_target", "RunCost", "estimate_model", "latency_ms", "METHOD"]

METHOD = ("qemu-aarch64 + TCG block counter on Paddle Lite's aarch64 runtime (1 thread, after 1 warm-up run), "
          "blocks costed by llvm-mca, + weight bytes per run / fitted bandwidth")
CACHE_VERSION = 3  # 3: packing and scalar-convert families


@dataclass
class RunCost:
    """What one marked run of a model costs on a core, independent of clock and bandwidth."""
    model: str
    shape: tuple[int, ...]
    core: str
    instructions: int
    cycles: float
    activation_bytes: int
    weight_bytes: int
    family_cycles: dict[str, float] = field(default_factory=dict)
    llvm: str = ""
    rule_cycles: float = 0.0  # cycles the core's pipe rule added to llvm-mca's (included in ``cycles``)
    # every activation's (precision, shape) after the run, so that another memory model needs no new trace
    tensors: dict[str, list] = field(default_factory=dict)

    @property
    def bytes(self) -> int:
        """What the memory term divides by the bandwidth: the weights every run streams. Activations are left out:
        opt's memory-reuse pass makes many ops share one buffer, so the runtime shows each buffer only at its last
        shape and per-op activation traffic cannot be read from it (``activation_bytes`` is that sum, for
        reference only)."""
        return self.weight_bytes


def bandwidth_gbs(core: Core) -> float | None:
    return calibration(core).get("bandwidth_gbs")


def latency_ms(cost: RunCost, target: Target, bandwidth: float | None = None) -> dict[str, float]:
    """The estimate at the target's clock: compute (cycles / clock), memory (bytes / bandwidth) and their sum."""
    bw = bandwidth if bandwidth is not None else bandwidth_gbs(target.core)
    compute = cost.cycles / (target.ghz * 1e6)
    memory = cost.bytes / (bw * 1e6) if bw else 0.0
    return {"compute_ms": compute, "memory_ms": memory, "ms": compute + memory}


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:24]


def _cache_path(nb_path: str, shape: tuple[int, ...], core: Core) -> str:
    key = (f"v{CACHE_VERSION}-{_file_digest(nb_path)}-{core.name}-{profile_digest(core)}-"
           f"{'x'.join(map(str, shape))}.json")
    return os.path.join(default_cache_dir(), "estimate", "runs", key)


def estimate_model(nb_path: str, shapes: list[tuple[int, ...]], core: Core, use_cache: bool = True,
                   timeout: float | None = None) -> list[RunCost]:
    """The cost of one run of ``nb_path`` at each input shape on ``core`` (traced once for all shapes not cached)."""
    shapes = [tuple(int(d) for d in s) for s in shapes]
    with open(nb_path, "rb") as handle:
        variables, ops = read_graph(handle.read())
    results: dict[tuple[int, ...], RunCost] = {}
    for shape in dict.fromkeys(shapes):
        path = _cache_path(nb_path, shape, core)
        if use_cache and os.path.isfile(path):
            with open(path) as handle:
                data = json.load(handle)
            data["shape"] = tuple(data["shape"])
            # weights do not depend on the run: count them from the model as this version does
            data["weight_bytes"] = bytes_moved(variables, ops, {})[1]
            results[shape] = RunCost(**data)
    todo = [s for s in dict.fromkeys(shapes) if s not in results]
    if todo:
        trace = run_trace(nb_path, todo, core, activation_names(variables, ops), timeout=timeout)
        attributor = Attributor(trace.objects)
        cache = CycleCache(core.mca_cpu)
        used = sorted({b for region in trace.regions for b in region.counts})
        codes = [trace.blocks[b].code for b in used]
        asm = disassemble(codes, cache.llvm_mc)
        cycles = dict(zip(used, cache.cycles(codes, asm)))
        text = dict(zip(used, asm))
        extra = {b: pipe_rule_cycles(core, text[b], cycles[b]) for b in used}
        for region in trace.regions:
            # a kernel family per function, from the instructions it executed in this run
            per_function: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
            function_cycles: dict[str, float] = defaultdict(float)
            function_object: dict[str, str] = {}
            instructions = 0
            total = added = 0.0
            for b, count in region.counts.items():
                block = trace.blocks[b]
                obj, function = attributor.locate(block.vaddr)
                function_object[function] = obj
                instructions += count * block.ninsns
                total += count * (cycles[b] + extra[b])
                added += count * extra[b]
                function_cycles[function] += count * (cycles[b] + extra[b])
                for insn in text[b]:
                    per_function[function][insn] += count
            families: dict[str, float] = defaultdict(float)
            for function, spent in function_cycles.items():
                families[classify(per_function[function], function_object[function])] += spent
            act, weights = bytes_moved(variables, ops, region.tensors)
            cost = RunCost(os.path.basename(nb_path), tuple(region.shape), core.name, instructions, total, act,
                           weights, dict(families), f"llvm-mca {cache.llvm_version} -mcpu={core.mca_cpu}", added,
                           {name: [precision, list(dims)] for name, (precision, dims) in region.tensors.items()})
            results[cost.shape] = cost
            _save(_cache_path(nb_path, cost.shape, core), asdict(cost))
    return [results[s] for s in shapes]


_WIDENING = re.compile(r"^[su](mull|mlal)2? ")
_PAIRWISE = re.compile(r"^[su]adalp ")


def pipe_rule_cycles(core: Core, insns: list[str], cycles: float) -> float:
    """Cycles the core's pipe rule adds to llvm-mca's for one block (see ``Core.multiply_pipe_takes_sadalp``)."""
    if not core.multiply_pipe_takes_sadalp:
        return 0.0
    widening = sum(1 for insn in insns if _WIDENING.match(insn))
    if not widening or widening < 0.25 * len(insns):
        return 0.0
    pairwise = sum(1 for insn in insns if _PAIRWISE.match(insn))
    return max(0.0, widening + pairwise - cycles)


def _save(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
    os.replace(tmp, path)
