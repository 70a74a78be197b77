"""Paddle Lite engine (``.nb`` naive-buffer models) and the ``opt`` conversion that makes them.

A ``.nb`` file records, for every op, the kernel it was optimised for as ``op/alias/target/precision/layout``;
``inspect_nb`` reads those so that a file built for ARM is refused by the x86 runtime with a clear message
instead of crashing or returning garbage.
"""

from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..errors import ModelError
from . import nb_probe
from .base import inference_files
from .nb_file import check_nb_file

# Paddle Lite's TargetType and PrecisionType enums (lite/api/paddle_place.h).
TARGETS = {1: "host", 2: "x86", 3: "cuda", 4: "arm", 5: "opencl", 6: "any", 18: "nnadapter", 17: "metal"}
PRECISIONS = {0: "unk", 1: "float", 2: "int8", 3: "int32", 4: "any", 5: "fp16", 6: "bool", 7: "int64", 8: "int16"}
_KERNEL_KEY = re.compile(rb"([a-z][a-z0-9_]*)/([A-Za-z0-9_]+)/(\d{1,2})/(\d{1,2})/(\d{1,2})\x00?")
MAX_PREDICTORS = 8  # per engine on x86, see LiteEngine


@dataclass
class NbInfo:
    opt_version: str
    targets: Counter = field(default_factory=Counter)  # target name -> number of kernels
    precisions: Counter = field(default_factory=Counter)  # precision name -> number of compute kernels
    ops: Counter = field(default_factory=Counter)

    @property
    def device_target(self) -> str:
        """The hardware target the file was optimised for ("arm", "x86", ...), ignoring host kernels."""
        device = [t for t in self.targets if t not in ("host", "any")]
        return max(device, key=lambda t: self.targets[t]) if device else "host"

    @property
    def precision(self) -> str:
        """"int8" when any compute kernel is int8, "fp16" likewise, else "fp32"."""
        if self.precisions.get("int8"):
            return "int8"
        if self.precisions.get("fp16"):
            return "fp16"
        return "fp32"


def inspect_nb(path: str) -> NbInfo:
    """Read the opt version and the kernel targets/precisions recorded in a ``.nb`` file."""
    with open(path, "rb") as handle:
        data = handle.read()
    if len(data) < 32:
        raise ModelError(f"{path}: too small to be a Paddle Lite model")
    end = data.find(b"\x00", 2, 34)
    version = data[2:end].decode("ascii", "replace") if end > 2 else ""
    if not version.startswith("v"):
        raise ModelError(f"{path}: not a Paddle Lite naive-buffer (.nb) model")
    info = NbInfo(opt_version=version)
    try:  # one kernel per op, read from the verified program (check_nb_file remembers it for LiteEngine)
        kernels = [kernel.encode() for kernel in check_nb_file(path).kernels]
    except ModelError:  # another format (inspection only; LiteEngine refuses it): scan its bytes
        kernels = [match.group(0) for match in _KERNEL_KEY.finditer(data)]
    for kernel in kernels:
        match = _KERNEL_KEY.fullmatch(kernel)
        if not match:
            continue
        op, _alias, target, precision, _layout = match.groups()
        info.ops[op.decode()] += 1
        info.targets[TARGETS.get(int(target), f"target{int(target)}")] += 1
        info.precisions[PRECISIONS.get(int(precision), f"precision{int(precision)}")] += 1
    return info


def runtime_target() -> str:
    """The target this machine's Paddle Lite runs natively: "arm" on aarch64/armv7 boards, else "x86"."""
    machine = platform.machine().lower()
    return "arm" if machine.startswith(("arm", "aarch64")) else "x86"


def runtime_version() -> str | None:
    """The installed ``paddlelite`` wheel's version (the one whose ``opt`` writes bundles), or None."""
    try:
        from importlib.metadata import version

        return version("paddlelite")
    except Exception:
        return None


RUNTIMES = ("auto", "wheel", "native", "qemu")
_RELEASE = re.compile(r"^v?(\d+)\.(\d+)")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
ALLOW_MISMATCH_ENV = "EDGE_OCR_ALLOW_VERSION_MISMATCH"


def check_versions(opt_version: str, runtime: str | None, model: str = "") -> str | None:
    """Apply the opt/runtime version rule; return a warning, or raise ``ModelError`` when they do not match.

    The rule (README, "Version rule"): a bundle runs on a runtime of the same major.minor release as the opt that
    wrote it (v2.13-rc, 2.13rc0 and v2.13.1 are all 2.13). A runtime that names a commit instead of a release (a
    build between releases) cannot be compared: it gets a warning, not a refusal. Any other pair is refused, unless
    ``$EDGE_OCR_ALLOW_VERSION_MISMATCH=1``.
    """
    if not runtime:
        return None
    runtime = runtime.strip()
    if _COMMIT.match(runtime.lower()):
        return (f"Paddle Lite runtime {runtime} is a commit, not a release: cannot check it against opt "
                f"{opt_version}{' of ' + model if model else ''}")
    built, running = _RELEASE.match(opt_version or ""), _RELEASE.match(runtime)
    if not built or not running or built.groups() == running.groups():
        return None
    message = (f"{model or 'the model'} was written by opt {opt_version} (release {'.'.join(built.groups())}) but "
               f"this Paddle Lite runtime is {runtime} (release {'.'.join(running.groups())}): re-export it with "
               f"the runtime's opt, or set {ALLOW_MISMATCH_ENV}=1 to try anyway")
    if os.environ.get(ALLOW_MISMATCH_ENV) == "1":
        return message
    raise ModelError(message)


def _runtime_kind(requested: str) -> str:
    if requested not in RUNTIMES:
        raise ModelError(f"unknown Paddle Lite runtime {requested!r}; choose from {', '.join(RUNTIMES)}")
    if requested != "auto":
        return requested
    return "native" if runtime_target() == "arm" else "wheel"


class _WheelPredictors:
    """The ``paddlelite`` wheel (x86): one predictor per input shape.

    Paddle Lite 2.13's x86 kernels corrupt the heap when a predictor that has run a larger spatial input runs a
    smaller one (the recognizer's width shrinking from 544 to 320 aborts the process). So each spatial shape gets
    its own predictor (loading one takes ~12 ms). The wheel has no thread or power-mode setting.
    """

    def __init__(self, nb_path: str) -> None:
        try:
            from paddlelite import lite
        except ImportError as exc:
            raise ModelError("the Paddle Lite engine needs the paddlelite package on x86") from exc
        self._lite = lite
        self.model_path = nb_path
        self.runtime_version = runtime_version()
        self._predictors: OrderedDict[tuple, object] = OrderedDict()
        self._default = self._create()

    def _create(self):
        config = self._lite.MobileConfig()
        config.set_model_from_file(self.model_path)
        try:
            return self._lite.create_paddle_predictor(config)
        except Exception as exc:
            raise ModelError(f"cannot load {self.model_path}: {str(exc).strip().splitlines()[:1]}") from exc

    def _predictor(self, shape: tuple) -> object:
        key = tuple(shape[2:])
        if key not in self._predictors:
            self._predictors[key] = self._default if not self._predictors else self._create()
            if len(self._predictors) > MAX_PREDICTORS:
                self._predictors.popitem(last=False)
        self._predictors.move_to_end(key)
        return self._predictors[key]

    def run(self, batch: np.ndarray) -> np.ndarray:
        predictor = self._predictor(batch.shape)
        predictor.get_input(0).from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
        predictor.run()
        return np.array(predictor.get_output(0).numpy(), copy=True)

    def close(self) -> None:
        self._predictors.clear()


class LiteEngine:
    """A Paddle Lite ``.nb`` model on one of three runtimes, behind the one ``Engine`` interface.

    ``runtime``: "wheel" (PyPI's paddlelite, x86), "native" (``libedge_ocr_lite.so`` through ctypes, ARM boards),
    "qemu" (the same library's server under qemu-aarch64, ARM models on an x86 host), or "auto" (native on ARM,
    wheel elsewhere). The model's kernels must be for the runtime's target, and its opt version must pass
    ``check_versions``.
    """

    name = "lite"

    def __init__(
        self, nb_path: str, threads: int = 2, power_mode: str | None = None, check_target: bool = True,
        runtime: str = "auto",
    ) -> None:
        if not os.path.isfile(nb_path):
            raise ModelError(f"no such Paddle Lite model: {nb_path}")
        check_nb_file(nb_path)  # a damaged .nb crashes Paddle Lite's process: verify all of it before it gets there
        info = inspect_nb(nb_path)
        kind = _runtime_kind(runtime)
        here = "x86" if kind == "wheel" else "arm"
        if check_target and info.device_target not in (here, "host"):
            where = "the emulated ARM runtime" if kind == "qemu" else f"this {here.upper()} Paddle Lite runtime"
            raise ModelError(
                f"{nb_path} was built for {info.device_target.upper()} (opt --valid_targets={info.device_target}); "
                f"{where} runs {here} models: export with --target {here}"
            )
        self.model_path = nb_path
        self.info = info
        self.threads = threads
        self.runtime = kind
        # What the verifier cannot judge (an attribute value an op cannot take) is tried once in a child process
        # (nb_probe): a crash there is a one-line error, not this process's death. qemu is a child process already.
        if kind == "wheel":
            nb_probe.check_loads(nb_path, "wheel", runtime_version() or "unknown")
            self._impl = _WheelPredictors(nb_path)
        elif kind == "native":
            from ..models import sha256_file
            from .native import NativePredictor, library_path

            library = library_path()
            nb_probe.check_loads(nb_path, "native", "lib" + sha256_file(library)[:16], library=library)
            self._impl = NativePredictor(nb_path, threads=threads, power_mode=power_mode)
        else:
            from .native.emulated import EmulatedPredictor

            self._impl = EmulatedPredictor(nb_path, threads=threads, power_mode=power_mode)
        self.runtime_version = self._impl.runtime_version
        warning = check_versions(info.opt_version, self.runtime_version, os.path.basename(nb_path))
        if warning:
            _warn_once(warning)

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self._impl.run(batch)

    def close(self) -> None:
        self._impl.close()


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    key = message.split(":")[0]
    if key not in _warned:
        _warned.add(key)
        logging.getLogger(__name__).warning(message)


def find_opt() -> str:
    """Path of the ``paddle_lite_opt`` console script of the installed paddlelite wheel."""
    beside = os.path.join(os.path.dirname(sys.executable), "paddle_lite_opt")
    found = beside if os.path.isfile(beside) else shutil.which("paddle_lite_opt")
    if not found:
        raise ModelError("paddle_lite_opt not found: install paddlelite==2.13rc0 (pip install 'edge-ocr[host]')")
    return found


_UNSUPPORTED_OP = re.compile(r"(?:op|Op|OP)[^\n]*?(?:not supported|unsupported|isn't supported)[^\n]*|"
                             r"[^\n]*(?:not supported|unsupported)[^\n]*op[^\n]*")
_NO_KERNEL = re.compile(r"No kernels found for (\w+)")
_OP_NAME = re.compile(r"\b(?:op(?:_type)?|Op)\s*[:=]?\s*[\[\"']?([a-z][a-z0-9_]+)")


def convert_to_nb(
    model_dir: str,
    out_nb: str,
    target: str = "x86",
    fp16: bool = False,
    weight_only: bool = False,
    weight_bits: int = 8,
    keep_attrs: bool = False,
    timeout: int = 900,
) -> str:
    """Run ``paddle_lite_opt`` on an inference model folder and write ``out_nb`` atomically.

    ``weight_only``: opt stores FP32 conv/fc weights as ``weight_bits`` (8 or 16) integers, restored to FP32 at
    load. ``keep_attrs``: keep the op attributes Paddle Lite never reads (``program.UNREAD_BY_LITE``; by default
    they are left out of the .nb, which computes the same). Failures raise ``ModelError`` with opt's reason (and the
    op's name when an op is unsupported).
    """
    model_file, params_file = inference_files(model_dir)
    if not out_nb.endswith(".nb"):
        raise ValueError("out_nb must end with .nb")
    out_dir = os.path.dirname(os.path.abspath(out_nb))
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".opt-") as work:
        stem = os.path.join(work, "model")
        if not keep_attrs:
            from ..program import write_program_without

            stripped = os.path.join(work, "inference.pdmodel")
            write_program_without(model_file, stripped)
            model_file = stripped
        cmd = [
            find_opt(), f"--model_file={model_file}", f"--param_file={params_file}",
            f"--optimize_out={stem}", f"--valid_targets={target}", "--optimize_out_type=naive_buffer",
        ]
        if fp16:
            cmd.append("--enable_fp16=true")
        if weight_only:
            if weight_bits not in (8, 16):
                raise ValueError("weight_bits is 8 or 16")
            cmd += ["--quant_model=true", f"--quant_type=QUANT_INT{weight_bits}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        log = proc.stdout + proc.stderr
        if proc.returncode != 0 or not os.path.isfile(stem + ".nb"):
            raise ModelError(f"paddle_lite_opt failed on {model_dir}: {_opt_reason(log, proc.returncode)}")
        os.replace(stem + ".nb", out_nb)
    return out_nb


def _opt_reason(log: str, returncode: int = 1) -> str:
    """opt's own reason: an unsupported op, a fatal check, or how it died, never just its last progress line."""
    no_kernel = _NO_KERNEL.search(log)
    if no_kernel:
        return f"unsupported op {no_kernel.group(1)!r}: no kernel for it on this target ({no_kernel.group(0).strip()})"
    unsupported = _UNSUPPORTED_OP.search(log)
    if unsupported:
        line = unsupported.group(0).strip()
        name = _OP_NAME.search(line)
        return f"unsupported op {name.group(1)!r}: {line}" if name else line
    lines = [ln.strip() for ln in log.splitlines() if ln.strip()]
    # glog's fatal lines ("[F 11/26 ...] file.cc:44 Fn] reason") and failed checks carry the reason
    fatal = [ln for ln in lines if ln.startswith(("[F ", "F1", "F0")) or "Check failed" in ln]
    errors = fatal or [ln for ln in lines if "Error" in ln or "error" in ln]
    if errors:
        return errors[-1][:400]
    if returncode < 0:
        import signal

        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        after = f" after its line {lines[-1][:120]!r}" if lines else ""
        return (f"opt crashed ({name}){after}: an op or pattern in this model that Paddle Lite's optimizer cannot "
                "handle (re-export the network; see README 'Exporting trained networks')")
    return lines[-1][:400] if lines else f"no output (exit {returncode})"
