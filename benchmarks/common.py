"""Helpers shared by the benchmark scripts: machine description, statistics, result files."""

from __future__ import annotations

import json
import os
import subprocess

from edge_ocr.bench.measure import machine_info
from edge_ocr.bench.stats import summarize_ms  # noqa: F401  (re-exported for the scripts)
from edge_ocr.evaluation.domains import shared_dir  # noqa: F401  (the one definition of the data paths)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
PEER_VENVS = os.path.join(REPO, "benchmarks", ".venvs")


def machine() -> dict:
    """What the numbers were measured on."""
    return machine_info()


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
