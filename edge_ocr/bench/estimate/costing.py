"""Cycles of straight-line aarch64 code on a core, from llvm-mca's scheduling model.

Each translated block is costed as the body of a loop that repeats it (llvm-mca's steady state: cycles per
iteration), which is what a hot kernel loop is; loads are assumed to hit L1 (the memory term covers the rest).
Results are cached per (LLVM version, -mcpu, block bytes) under ``~/.cache/edge-ocr/estimate``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile

from ...errors import EdgeOCRError
from ...models import default_cache_dir

log = logging.getLogger(__name__)

MCA_ITERATIONS = 100
MATTR = "+v8.2a,+dotprod,+fullfp16,+rcpc,+crc,+lse,+aes,+sha2"
MIN_LLVM_FOR = {"neoverse-n1": 18}  # LLVM < 18 maps neoverse-n1 to the A57 model


def llvm_tools(mca_cpu: str) -> tuple[str, str, int]:
    """(llvm-mc, llvm-mca, version): the newest LLVM installed, one with a real model for ``mca_cpu``."""
    found = []
    for folder in glob.glob("/usr/lib/llvm-*/bin"):
        match = re.search(r"llvm-(\d+)", folder)
        tools = [os.path.join(folder, name) for name in ("llvm-mc", "llvm-mca")]
        if match and all(os.path.isfile(t) for t in tools):
            found.append((int(match.group(1)), folder))
    if not found and shutil.which("llvm-mca") and shutil.which("llvm-mc"):
        out = subprocess.run(["llvm-mca", "--version"], capture_output=True, text=True).stdout
        match = re.search(r"version (\d+)", out)
        found.append((int(match.group(1)) if match else 0, os.path.dirname(shutil.which("llvm-mca"))))
    if not found:
        raise EdgeOCRError("llvm-mca is missing: apt-get install llvm-19 (or llvm)")
    version, folder = max(found)
    need = MIN_LLVM_FOR.get(mca_cpu, 0)
    if version < need:
        raise EdgeOCRError(f"llvm-mca {version} has no {mca_cpu} scheduling model (LLVM >= {need}): "
                           "apt-get install llvm-19")
    return os.path.join(folder, "llvm-mc"), os.path.join(folder, "llvm-mca"), version


def disassemble(blocks: list[bytes], llvm_mc: str) -> list[list[str]]:
    """Each block's instructions as assembly text (``.inst 0x...`` where LLVM has no decoding)."""
    words: list[bytes] = []
    owner: list[int] = []
    for index, code in enumerate(blocks):
        for at in range(0, len(code) - len(code) % 4, 4):
            words.append(code[at:at + 4])
            owner.append(index)
    text = "".join(" ".join(f"0x{b:02x}" for b in word) + "\n" for word in words)
    proc = subprocess.run([llvm_mc, "--disassemble", "-triple=aarch64", f"-mattr={MATTR}"], input=text,
                          capture_output=True, text=True)
    bad = {int(m.group(1)) - 1 for m in re.finditer(r"<stdin>:(\d+):\d+: warning: invalid instruction encoding",
                                                     proc.stderr)}
    lines = [ln.strip() for ln in proc.stdout.splitlines() if ln.strip() and not ln.strip().startswith(".text")]
    out: list[list[str]] = [[] for _ in blocks]
    it = iter(lines)
    for index, word in enumerate(words):
        if index in bad:
            asm = f".inst 0x{int.from_bytes(word, 'little'):08x}"
        else:
            asm = next(it, None)
            if asm is None:
                raise EdgeOCRError("llvm-mc returned fewer instructions than it was given")
        out[owner[index]].append(asm.replace("\t", " "))
    return out


class CycleCache:
    """Cycles per iteration of each block, keyed by its bytes, for one LLVM version and -mcpu."""

    def __init__(self, mca_cpu: str) -> None:
        self.mca_cpu = mca_cpu
        self.llvm_mc, self.llvm_mca, self.llvm_version = llvm_tools(mca_cpu)
        folder = os.path.join(default_cache_dir(), "estimate")
        self.path = os.path.join(folder, f"mca-llvm{self.llvm_version}-{mca_cpu}.json")
        try:
            with open(self.path) as handle:
                self.known: dict[str, float] = json.load(handle)
        except (OSError, ValueError):
            self.known = {}

    @staticmethod
    def key(code: bytes) -> str:
        return hashlib.sha1(code).hexdigest()[:20]

    def cycles(self, blocks: list[bytes], asm: list[list[str]] | None = None) -> list[float]:
        """Cycles per execution of each block (llvm-mca steady state)."""
        missing = [i for i, code in enumerate(blocks) if self.key(code) not in self.known]
        if missing:
            texts = asm if asm is not None else disassemble(blocks, self.llvm_mc)
            for start in range(0, len(missing), 2000):
                chunk = missing[start:start + 2000]
                values = run_mca([texts[i] for i in chunk], self.llvm_mca, self.mca_cpu)
                for i, value in zip(chunk, values):
                    self.known[self.key(blocks[i])] = value
            self._save()
        return [self.known[self.key(code)] for code in blocks]

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(self.path), suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(self.known, handle)
        os.replace(tmp, self.path)


def run_mca(blocks: list[list[str]], llvm_mca: str, mca_cpu: str) -> list[float]:
    """One llvm-mca run, one code region per block: cycles per iteration of each."""
    lines = []
    for index, insns in enumerate(blocks):
        body = [ln for ln in insns if not ln.startswith(".inst")] or ["nop"]
        lines.append(f"# LLVM-MCA-BEGIN b{index}")
        lines.extend(body)
        lines.append(f"# LLVM-MCA-END b{index}")
    proc = subprocess.run([llvm_mca, "-mtriple=aarch64", f"-mcpu={mca_cpu}", f"-mattr={MATTR}",
                           f"-iterations={MCA_ITERATIONS}", "-skip-unsupported-instructions=any",
                           "-instruction-info=0", "-resource-pressure=0"],
                          input="\n".join(lines) + "\n", capture_output=True, text=True)
    values: dict[int, float] = {}
    region = None
    for line in proc.stdout.splitlines():
        match = re.match(r"\[\d+\] Code Region - b(\d+)", line)
        if match:
            region = int(match.group(1))
            continue
        match = re.match(r"Total Cycles:\s+(\d+)", line)
        if match and region is not None:
            values[region] = int(match.group(1)) / MCA_ITERATIONS
    if len(values) != len(blocks):
        # a region llvm-mca could not take at all (every line skipped): cost it one cycle per instruction
        log.debug("llvm-mca gave %d of %d regions: %s", len(values), len(blocks), proc.stderr[-300:])
        if not values and proc.returncode != 0:
            raise EdgeOCRError(f"llvm-mca failed: {proc.stderr.strip()[-300:]}")
    return [values.get(i, float(max(len(insns), 1))) for i, insns in enumerate(blocks)]
