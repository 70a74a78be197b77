"""Helpers shared by the benchmark scripts: machine description, statistics, result files."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
PEER_VENVS = os.path.join(REPO, "benchmarks", ".venvs")


def shared_dir() -> str:
    """The models-and-data folder: $EDGE_OCR_SHARED, else ../shared beside the repository."""
    return os.environ.get("EDGE_OCR_SHARED") or os.path.join(os.path.dirname(REPO), "shared")


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    flags = ""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "arch": platform.machine(),
        "avx512": "avx512f" in flags,
        "python": sys.version.split()[0],
        "os": platform.platform(),
    }


def summarize_ms(values: list[float]) -> dict:
    """Median, mean, p90, min and max of a list of milliseconds."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {
        "n": len(values),
        "mean": round(statistics.fmean(values), 2),
        "median": round(statistics.median(values), 2),
        "p90": round(p90, 2),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
    }


def write_json(path: str, data) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(tmp, path)


def write_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def peer_python(peer: str) -> str:
    """The peer venv's python, set up on demand by benchmarks/peers/setup_peers.sh."""
    python = os.path.join(PEER_VENVS, peer, "bin", "python")
    if not os.path.isfile(os.path.join(PEER_VENVS, peer, ".ok")):
        subprocess.run(["bash", os.path.join(REPO, "benchmarks", "peers", "setup_peers.sh"), peer], check=True)
    return python


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
    except OSError:
        return ""
