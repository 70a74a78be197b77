"""Counting what the real ARM runtime executes: ``edge_ocr_estimate_run`` (aarch64, marks each measured
``Predictor::Run()`` with ``hint #90``/``hint #91``) under ``qemu-aarch64`` with the ``bbcount`` TCG plugin, which
writes how often each translated block ran between the marks.

The guest sees a core's ``/proc/cpuinfo`` and its cache sizes in ``/sys`` (qemu's ``-L`` prefix): Paddle Lite picks
its kernels (sdot or not) and its blocking (cache sizes) from them, so a trace belongs to one core.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field

from ...errors import EdgeOCRError
from ...models import default_cache_dir
from .cores import Core, cpuinfo_text, profile_digest

log = logging.getLogger(__name__)

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS_ENV = "EDGE_OCR_ESTIMATE_TOOLS"
BUILD_HINT = "build them with 'bash scripts/build_estimate.sh' (needs gcc, g++-aarch64-linux-gnu and qemu-user)"
AARCH64_LIBC = "/usr/aarch64-linux-gnu"


def tools_dir() -> str:
    return os.environ.get(TOOLS_ENV) or os.path.join(HERE, "bin")


def tool(name: str) -> str:
    path = os.path.join(tools_dir(), name)
    if not os.path.isfile(path):
        raise EdgeOCRError(f"the estimator's {name} is missing ({path}): {BUILD_HINT}")
    return path


def lite_library_dir() -> str:
    """The aarch64 Paddle Lite library the runner was linked against (recorded by the build script)."""
    try:
        with open(os.path.join(tools_dir(), "paddle_lite_dir")) as handle:
            lite = handle.read().strip()
    except OSError:
        raise EdgeOCRError(f"the estimator is not built: {BUILD_HINT}") from None
    lib = os.path.join(lite, "lib")
    if not os.path.isfile(os.path.join(lib, "libpaddle_light_api_shared.so")):
        raise EdgeOCRError(f"the Paddle Lite ARM library is gone from {lib}: rebuild with scripts/build_estimate.sh")
    return lib


def core_prefix(core: Core, processors: int = 2) -> str:
    """A qemu ``-L`` prefix: the core's cpuinfo, its caches and clock in /sys, ``lib`` -> the aarch64 libc."""
    if not os.path.isdir(os.path.join(AARCH64_LIBC, "lib")):
        raise EdgeOCRError(f"{AARCH64_LIBC}/lib is missing: install Debian's libc6-arm64-cross")
    prefix = os.path.join(default_cache_dir(), "qemu-prefix", f"estimate-{core.name}-{profile_digest(core)}")
    if os.path.isfile(os.path.join(prefix, "proc", "cpuinfo")):
        return prefix
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    work = tempfile.mkdtemp(prefix=".prefix-", dir=os.path.dirname(prefix))
    os.makedirs(os.path.join(work, "proc"))
    with open(os.path.join(work, "proc", "cpuinfo"), "w") as handle:
        handle.write(cpuinfo_text(core, processors))
    for cpu in range(processors):
        folder = os.path.join(work, "sys", "devices", "system", "cpu", f"cpu{cpu}")
        files = {"online": "1", "cpufreq/cpuinfo_max_freq": str(int(core.default_ghz * 1e6))}
        # Paddle Lite reads cache/indexN/{level,size} for N = 0..9 and keeps one size per level: list data and
        # unified caches only (an L1i entry would compete with the L1d)
        for index, size in enumerate(core.caches_kb):
            files[f"cache/index{index}/level"] = str(index + 1)
            files[f"cache/index{index}/size"] = f"{size}K"
            files[f"cache/index{index}/type"] = "Data" if index == 0 else "Unified"
        for name, text in files.items():
            path = os.path.join(folder, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(text + "\n")
    os.symlink(os.path.join(AARCH64_LIBC, "lib"), os.path.join(work, "lib"))
    try:
        os.rename(work, prefix)
    except OSError:  # another process made it first
        shutil.rmtree(work, ignore_errors=True)
    return prefix


@dataclass
class Block:
    vaddr: int
    ninsns: int
    code: bytes


@dataclass
class Region:
    shape: tuple[int, ...]
    counts: dict[int, int]  # block id -> executions in this marked run
    tensors: dict[str, tuple[int, tuple[int, ...]]] = field(default_factory=dict)  # var -> (precision, shape)


@dataclass
class Trace:
    blocks: dict[int, Block]
    regions: list[Region]
    objects: list[tuple[int, str]]  # (load base, path) as the guest's dynamic linker reported them


def run_trace(nb_path: str, shapes: list[tuple[int, ...]], core: Core, var_names: list[str] | None = None,
              warmup: int = 1, threads: int = 1, timeout: float | None = None) -> Trace:
    """Run the model once per shape (after ``warmup`` runs) under qemu with the block counter."""
    qemu = shutil.which(os.environ.get("EDGE_OCR_QEMU", "qemu-aarch64"))
    if not qemu:
        raise EdgeOCRError("qemu-aarch64 is missing: install Debian's qemu-user")
    runner, plugin, lib = tool("edge_ocr_estimate_run"), tool("bbcount.so"), lite_library_dir()
    with tempfile.TemporaryDirectory(prefix="edge-ocr-estimate-") as work:
        counts = os.path.join(work, "blocks.txt")
        cmd = [qemu, "-L", core_prefix(core), "-plugin", f"{plugin},out={counts}", runner, os.path.abspath(nb_path),
               "--threads", str(threads), "--warmup", str(warmup)]
        if var_names:
            names = os.path.join(work, "vars.txt")
            with open(names, "w") as handle:
                handle.write("\n".join(var_names) + "\n")
            cmd += ["--vars", names]
        cmd += ["x".join(str(d) for d in shape) for shape in shapes]
        env = dict(os.environ, LD_LIBRARY_PATH=lib)
        log.info("tracing %s on %s: %s", os.path.basename(nb_path), core.name, shapes)
        try:
            proc = subprocess.run(cmd, capture_output=True, env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise EdgeOCRError(f"tracing {nb_path} took longer than {timeout:.0f} s") from None
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
            reason = (lines or ["no output"])[-1][:300]
            raise EdgeOCRError(f"the ARM runtime failed on {nb_path} under the block counter: {reason} "
                               f"(exit {proc.returncode})")
        trace = parse_counts(counts)
    objects, regions_meta = [], []
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(" ")
        if parts[0] == "O" and len(parts) >= 3:
            objects.append((int(parts[1], 16), " ".join(parts[2:])))
        elif parts[0] == "S" and len(parts) == 3:
            regions_meta.append(tuple(int(d) for d in parts[2].split("x")))
        elif parts[0] == "V" and len(parts) == 5:
            region = int(parts[1])
            dims = tuple(int(d) for d in parts[4].split(",") if d)
            if region < len(trace.regions):
                trace.regions[region].tensors[parts[2]] = (int(parts[3]), dims)
    if len(regions_meta) != len(trace.regions) or len(trace.regions) != len(shapes):
        raise EdgeOCRError(f"the block counter saw {len(trace.regions)} marked runs of {nb_path}, expected "
                           f"{len(shapes)}")
    for region, shape in zip(trace.regions, regions_meta):
        region.shape = shape
    trace.objects = objects
    return trace


def parse_counts(path: str) -> Trace:
    blocks: dict[int, Block] = {}
    regions: list[Region] = []
    with open(path) as handle:
        for line in handle:
            kind = line[:1]
            if kind == "C":
                _, ident, count = line.split()
                regions[-1].counts[int(ident)] = int(count)
            elif kind == "B":
                _, ident, vaddr, ninsns, code = line.split()
                blocks[int(ident)] = Block(int(vaddr, 16), int(ninsns), bytes.fromhex(code))
            elif kind == "R":
                regions.append(Region((), {}))
    return Trace(blocks, regions, [])
