"""The first load of a ``.nb`` file, isolated in a child process.

``nb_program.verify_nb`` proves every read Paddle Lite makes stays inside the file and finds the types it expects;
it cannot prove that every value makes sense to its op (an attribute, a shape, a kernel alias Paddle Lite does not
have), and Paddle Lite answers such values with a SIGSEGV or an abort of the whole process. So the first time a file
is seen (by sha256, per runtime), a child process loads it; a crash there becomes one line
(``<file>: Paddle Lite crashed loading it (SIGSEGV) ...``) instead of the death of the caller, and the verdict, good
or bad, is remembered under ``$EDGE_OCR_CACHE/nb-probe`` so the cost is paid once.

The emulated ARM runtime needs no probe: it already loads each model in its own (qemu) process.
``EDGE_OCR_NB_PROBE=0`` turns the probe off (a runtime that is known good, measurements of the load itself).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

from ..errors import ModelError

log = logging.getLogger(__name__)

PROBE_ENV = "EDGE_OCR_NB_PROBE"
PROBE_TIMEOUT_S = 300
RECORD_VERSION = 1
EXIT_REFUSED = 3  # the child loaded nothing and says why on its last stdout line

# The child: Paddle Lite alone (no edge_ocr import, so it starts fast). argv: runtime, model, library (native).
_CHILD = r"""
import sys
runtime, model = sys.argv[1], sys.argv[2]
try:
    if runtime == "wheel":
        from paddlelite import lite
        config = lite.MobileConfig()
        config.set_model_from_file(model)
        lite.create_paddle_predictor(config)
    else:
        import ctypes
        lib = ctypes.CDLL(sys.argv[3])
        lib.eol_create_from_file.restype = ctypes.c_void_p
        lib.eol_create_from_file.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.eol_last_error.restype = ctypes.c_char_p
        handle = lib.eol_create_from_file(model.encode(), 1, 3)
        if not handle:
            raise RuntimeError((lib.eol_last_error() or b"").decode("utf-8", "replace"))
except Exception as exc:
    print(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__, flush=True)
    sys.exit(3)
print("ok", flush=True)
"""


def enabled() -> bool:
    return os.environ.get(PROBE_ENV, "1") != "0"


def _record_path(digest: str, runtime: str, runtime_tag: str) -> str:
    from ..models import default_cache_dir

    safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in runtime_tag)[:64]
    return os.path.join(default_cache_dir(), "nb-probe", f"{digest}-{runtime}-{safe}.json")


def _read_record(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if isinstance(record, dict) and record.get("version") == RECORD_VERSION and isinstance(record.get("ok"), bool):
        return record
    return None


def _write_record(path: str, record: dict) -> None:
    from ..atomic import write_json

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_json(path, record)
    except OSError as exc:  # a read-only cache costs a probe per process, nothing else
        log.debug("cannot remember the probe of %s: %s", path, exc)


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def run_probe(nb_path: str, runtime: str, library: str | None = None) -> dict:
    """Load ``nb_path`` in a child process; the verdict as a record (``ok``, ``reason``, ``seconds``)."""
    command = [sys.executable, "-c", _CHILD, runtime, os.path.abspath(nb_path)] + ([library] if library else [])
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, capture_output=True, text=True, errors="replace", timeout=PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"ok": False, "transient": True, "seconds": round(time.perf_counter() - start, 3),
                "reason": f"Paddle Lite did not finish loading it in {PROBE_TIMEOUT_S} s"}
    seconds = round(time.perf_counter() - start, 3)
    if proc.returncode == 0:
        return {"ok": True, "seconds": seconds}
    if proc.returncode < 0:
        reason = (f"Paddle Lite crashed loading it ({signal_name(-proc.returncode)}); the file is damaged or "
                  "not a model this runtime reads")
    elif proc.returncode == EXIT_REFUSED:
        lines = proc.stdout.strip().splitlines()
        reason = f"Paddle Lite could not load it: {lines[-1] if lines else 'no reason given'}"
    else:
        lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
        fatal = [ln for ln in lines if "Check failed" in ln or ln.startswith(("[F", "F1", "F0")) or "rror" in ln]
        detail = (fatal or lines or ["no output"])[-1][:200]
        reason = f"Paddle Lite could not load it (exit {proc.returncode}): {detail}"
    return {"ok": False, "seconds": seconds, "reason": reason}


def check_loads(nb_path: str, runtime: str, runtime_tag: str, digest: str | None = None,
                library: str | None = None) -> dict | None:
    """Raise ``ModelError`` unless ``nb_path`` is known to load on ``runtime`` (``wheel`` or ``native``), probing it
    in a child process the first time its sha256 is seen. Returns the record (None when the probe is off)."""
    if not enabled():
        return None
    if digest is None:
        from ..models import sha256_file

        digest = sha256_file(nb_path)
    path = _record_path(digest, runtime, runtime_tag)
    record = _read_record(path)
    if record is None:
        record = run_probe(nb_path, runtime, library)
        record.update(version=RECORD_VERSION, sha256=digest, runtime=runtime, runtime_tag=runtime_tag)
        if not record.get("transient"):
            _write_record(path, record)
        log.debug("probe of %s on %s: %s in %.3f s", nb_path, runtime, "ok" if record["ok"] else "refused",
                  record["seconds"])
    if not record["ok"]:
        raise ModelError(f"{nb_path}: {record['reason']}")
    return record
