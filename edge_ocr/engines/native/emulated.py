"""The ARM runtime on an x86 host: ``edge_ocr_lite_run`` (aarch64, over the same C ABI) under ``qemu-aarch64``.

Paddle Lite's x86 kernels cannot vouch for an int8 ARM bundle (they return NaN for its recognizer), so the host runs
what ships, the ARM ``.nb`` on Paddle Lite's real aarch64 library, emulated. One long-lived process per model keeps
one predictor across calls, as on the device. Timings under emulation say nothing about ARM latency.

qemu's ``-L PREFIX`` makes the guest read ``PREFIX/proc/cpuinfo``: Paddle Lite picks its kernels from it, so the
prefix carries a board's cpuinfo (a Raspberry Pi 4's by default) and links ``lib`` to the aarch64 libc.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
import subprocess
import tempfile

import numpy as np

from ...errors import ModelError
from . import HERE, power_mode_value

log = logging.getLogger(__name__)

RUNNER_ENV = "EDGE_OCR_LITE_RUNNER"
CPUINFO_ENV = "EDGE_OCR_ARM_CPUINFO"
QEMU_ENV = "EDGE_OCR_QEMU"
AARCH64_LIBC = "/usr/aarch64-linux-gnu"
BUILD_HINT = ("build it with 'bash scripts/build_native.sh --cross' (needs g++-aarch64-linux-gnu, cmake, qemu-user "
              "and an aarch64 Paddle Lite library such as $EDGE_OCR_SHARED/arm/paddle_lite_armv8)")


def runner_path() -> str:
    path = os.environ.get(RUNNER_ENV) or os.path.join(HERE, "aarch64", "edge_ocr_lite_run")
    if not os.path.isfile(path):
        raise ModelError(f"the emulated ARM runtime is missing ({path}): {BUILD_HINT}")
    return path


def qemu_path() -> str:
    path = os.environ.get(QEMU_ENV) or shutil.which("qemu-aarch64")
    if not path:
        raise ModelError("qemu-aarch64 is missing: install Debian's qemu-user to run ARM bundles on this machine")
    return path


def default_cpuinfo(board: str = "raspberrypi4") -> str | None:
    """A board's /proc/cpuinfo: ``$EDGE_OCR_ARM_CPUINFO``, else ``$EDGE_OCR_SHARED/arm/cpuinfo/BOARD``."""
    if os.environ.get(CPUINFO_ENV):
        return os.environ[CPUINFO_ENV]
    shared = os.environ.get("EDGE_OCR_SHARED")
    candidate = os.path.join(shared, "arm", "cpuinfo", board) if shared else ""
    return candidate if os.path.isfile(candidate) else None


def qemu_prefix(cpuinfo: str | None) -> str:
    """A ``-L`` prefix whose ``proc/cpuinfo`` is ``cpuinfo`` and whose ``lib`` is the aarch64 libc (cached)."""
    if not os.path.isdir(os.path.join(AARCH64_LIBC, "lib")):
        raise ModelError(f"{AARCH64_LIBC}/lib is missing: install Debian's libc6-arm64-cross")
    if cpuinfo is None:
        log.warning("no ARM cpuinfo found ($%s): Paddle Lite will not know the CPU and picks generic kernels",
                    CPUINFO_ENV)
        return AARCH64_LIBC
    from ...models import default_cache_dir, sha256_file

    prefix = os.path.join(default_cache_dir(), "qemu-prefix", "v2-" + sha256_file(cpuinfo)[:16])
    if not os.path.isfile(os.path.join(prefix, "proc", "cpuinfo")):
        os.makedirs(os.path.dirname(prefix), exist_ok=True)
        work = tempfile.mkdtemp(prefix=".prefix-", dir=os.path.dirname(prefix))
        os.makedirs(os.path.join(work, "proc"))
        shutil.copyfile(cpuinfo, os.path.join(work, "proc", "cpuinfo"))
        # the listed cores online, as on a board: without these Paddle Lite logs "CPU id:0 is offline" and stops
        # binding threads
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            cores = sum(1 for line in handle if line.startswith("processor"))
        for core in range(max(cores, 1)):
            folder = os.path.join(work, "sys", "devices", "system", "cpu", f"cpu{core}")
            os.makedirs(folder)
            with open(os.path.join(folder, "online"), "w") as handle:
                handle.write("1\n")
        os.symlink(os.path.join(AARCH64_LIBC, "lib"), os.path.join(work, "lib"))
        try:
            os.rename(work, prefix)
        except OSError:  # another process made it first
            shutil.rmtree(work, ignore_errors=True)
    return prefix


class EmulatedPredictor:
    """An ARM ``.nb`` served by ``edge_ocr_lite_run`` under qemu-aarch64: float32 NCHW in, the first output out."""

    def __init__(self, nb_path: str, threads: int = 1, power_mode: str | None = None,
                 cpuinfo: str | None = None) -> None:
        self.model_path = nb_path
        self._signal = ""
        cmd = [qemu_path(), "-L", qemu_prefix(cpuinfo or default_cpuinfo()), runner_path(), os.path.abspath(nb_path),
               str(int(threads)), str(power_mode_value(power_mode))]
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr)
        magic = self._proc.stdout.read(4) if self._proc.stdout else b""
        if magic != b"EOL1":
            reason = self._died()
            if self._signal:  # the verifier passed it, Paddle Lite crashed on it: one line, as nb_probe words it
                raise ModelError(f"{nb_path}: Paddle Lite crashed loading it ({self._signal}) on the emulated ARM "
                                 f"runtime; the file is damaged or not a model this runtime reads")
            raise ModelError(f"cannot load {nb_path} on the emulated ARM runtime: {reason}")
        status = self._read_int()
        text = self._read_text()
        if status:
            raise ModelError(f"cannot load {nb_path} on the emulated ARM runtime: {text}")
        self.runtime_version = text

    def _read(self, n: int) -> bytes:
        data = self._proc.stdout.read(n) if self._proc.stdout else b""
        if len(data) != n:
            raise ModelError(f"the emulated ARM runtime stopped on {self.model_path}: {self._died()}")
        return data

    def _read_int(self) -> int:
        return struct.unpack("<i", self._read(4))[0]

    def _read_text(self) -> str:
        length = struct.unpack("<I", self._read(4))[0]
        return self._read(length).decode("utf-8", "replace")

    def _died(self) -> str:
        code = self._proc.poll()
        if code is None:
            self._proc.kill()
            code = self._proc.wait()
        self._stderr.seek(0)
        lines = [ln.strip() for ln in self._stderr.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        fatal = [ln for ln in lines if ln.startswith(("[F", "F ")) or "Check failed" in ln or "rror" in ln]
        reason = (fatal or lines or ["no output"])[-1][:300]
        if code and code < 0:
            from ..nb_probe import signal_name

            self._signal = signal_name(-code)
        how = f"{self._signal}" if code and code < 0 else f"exit {code}"
        return f"{reason} ({how})"

    def run(self, batch: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        try:
            self._proc.stdin.write(struct.pack(f"<I{batch.ndim}q", batch.ndim, *batch.shape) + batch.tobytes())
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise ModelError(f"the emulated ARM runtime stopped on {self.model_path}: {self._died()}") from None
        if self._read_int():
            raise ModelError(f"Paddle Lite failed on {self.model_path}: {self._read_text()}")
        ndim = struct.unpack("<I", self._read(4))[0]
        shape = struct.unpack(f"<{ndim}q", self._read(8 * ndim))
        count = int(np.prod(shape))
        return np.frombuffer(self._read(4 * count), dtype=np.float32).reshape(shape).copy()

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc and proc.poll() is None:
            try:
                proc.stdin.write(struct.pack("<I", 0))
                proc.stdin.close()
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()

    def __del__(self) -> None:
        self.close()
