"""Measuring one model variant in its own process: load time, per-stage latency, peak resident memory, size.

Each variant runs in a fresh interpreter (``python -m edge_ocr.bench.measure SPEC.json``) so that peak memory is
its own and engines do not share caches. Timing per image: ``e2e`` covers file read + decode + det + crops + cls +
rec + post-processing; ``det`` covers resize/normalise + inference + DB post-processing; ``cls`` and ``rec`` cover
their crop preprocessing + inference + decoding. Warm-up images are run first and not counted.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time

from .stats import summarize_ms


def machine_info() -> dict:
    """CPU model, cores, architecture and SIMD flags that matter for these kernels."""
    cpu, flags = platform.processor() or "", ""
    try:
        with open("/proc/cpuinfo") as handle:
            text = handle.read()
        cpu = next((ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name")), cpu)
        cpu = cpu or _arm_cpu(text)
        flags = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "arch": platform.machine(), "avx2": " avx2" in flags,
            "avx512": " avx512f" in flags, "neon": " asimd" in flags or " neon" in flags,
            "python": platform.python_version(), "os": platform.platform(),
            # set by an emulator's wrapper (scripts/emulated_pi.sh): such timings say nothing about the board
            "emulated": os.environ.get("EDGE_OCR_EMULATED") or None}


# ARM's /proc/cpuinfo names no model, only the part number ("CPU part : 0xd08"); a Raspberry Pi adds "Model".
ARM_PARTS = {"0xd03": "Cortex-A53", "0xd04": "Cortex-A35", "0xd05": "Cortex-A55", "0xd07": "Cortex-A57",
             "0xd08": "Cortex-A72", "0xd09": "Cortex-A73", "0xd0a": "Cortex-A75", "0xd0b": "Cortex-A76",
             "0xd0d": "Cortex-A77", "0xd41": "Cortex-A78", "0xd0c": "Neoverse-N1"}


def _arm_cpu(cpuinfo: str) -> str:
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    part = fields.get("CPU part", "").lower()
    core = ARM_PARTS.get(part, f"ARM part {part}" if part else "")
    board = fields.get("Model", "")
    return f"{board} ({core})" if board and core else board or core


def variant_size(spec: dict) -> dict[str, int]:
    """Bytes of the files a variant ships: the bundle's files, or each inference model's program + weights."""
    if spec.get("bundle"):
        from ..bundle import load_bundle

        bundle = load_bundle(spec["bundle"], check_files=False)
        return {name: os.path.getsize(os.path.join(spec["bundle"], name)) for name in bundle.manifest["files"]}
    from ..models import default_models, resolve_models

    paths = resolve_models(spec.get("models") or default_models())
    sizes = {}
    for role in ("det", "cls", "rec"):
        folder = getattr(paths, role)
        if folder:
            sizes[role] = sum(os.path.getsize(os.path.join(folder, f))
                              for f in ("inference.pdmodel", "inference.pdiparams"))
    sizes["dictionary"] = os.path.getsize(paths.dictionary)
    return sizes


def measure(spec: dict, images: list[str], threads: int, warmup: int = 2, repeats: int = 1) -> dict:
    """Run one variant over ``images`` ``repeats`` times after ``warmup`` images; in this process."""
    from ..pipeline import OCRPipeline

    start = time.perf_counter()
    if spec.get("bundle"):
        pipeline = OCRPipeline.from_bundle(spec["bundle"], threads=threads, power_mode=spec.get("power_mode"))
    else:
        pipeline = OCRPipeline.from_models(spec.get("models"), engine=spec.get("engine", "auto"), threads=threads)
    pipeline.ocr_file(images[0])  # first run: engines finish initialisation (MKLDNN primitives, Lite kernels)
    load_ms = (time.perf_counter() - start) * 1000
    for path in images[:warmup]:
        pipeline.ocr_file(path)
    stages: dict[str, list[float]] = {"e2e": [], "det": [], "cls": [], "rec": []}
    lines = 0
    for _ in range(repeats):
        for path in images:
            mark = time.perf_counter()
            result = pipeline.ocr_file(path)
            stages["e2e"].append((time.perf_counter() - mark) * 1000)
            for stage in ("det", "cls", "rec"):
                stages[stage].append(result.timings_ms.get(stage, 0.0))
            lines += len(result.lines)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    engine = pipeline.detector.engine
    # The x86 paddlelite wheel has no thread setting: its runs are single-threaded whatever was asked. The native
    # engine (ARM, or under qemu) sets them.
    settable = engine.name == "paddle" or getattr(engine, "runtime", "wheel") != "wheel"
    return {
        "name": spec["name"], "spec": spec, "threads": threads, "threads_settable": bool(settable),
        "images": len(images), "repeats": repeats,
        "warmup": warmup, "load_ms": round(load_ms, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
        "lines_per_image": round(lines / max(1, len(images) * repeats), 2),
        "size_bytes": sum(variant_size(spec).values()), "files": variant_size(spec),
        "ms": {stage: summarize_ms(values) for stage, values in stages.items()},
    }


def measure_in_subprocess(spec: dict, images: list[str], threads: int, warmup: int, repeats: int,
                          timeout: int = 3600) -> dict:
    """``measure`` in a fresh interpreter; failures come back as ``{"name", "error"}``."""
    job = json.dumps({"spec": spec, "images": images, "threads": threads, "warmup": warmup, "repeats": repeats})
    proc = subprocess.run([sys.executable, "-m", "edge_ocr.bench.measure"], input=job, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "GLOG_minloglevel": "2"})
    marker = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT ")]
    if proc.returncode != 0 or not marker:
        reason = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        return {"name": spec["name"], "threads": threads, "error": reason[:300]}
    return json.loads(marker[-1][len("@@RESULT "):])


if __name__ == "__main__":
    request = json.loads(sys.stdin.read())
    outcome = measure(request["spec"], request["images"], request["threads"], request["warmup"], request["repeats"])
    print("@@RESULT " + json.dumps(outcome))
