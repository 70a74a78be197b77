"""What verifying a .nb and isolating its first load cost (issue #25), per model of a bundle.

    python benchmarks/nb_probe_cost.py --bundle BUNDLE [--repeats N]

For each model, in this process (paddlelite imported and warmed up first), the median of N repeats of:
  verify     check_nb_file: read the file and verify all of it (nb_program.verify_nb), the in-process memo cleared
  sha256     the file's sha256 (the probe's cache key)
  probe      the first-time probe: a child process that imports paddlelite and loads the model (nb_probe.run_probe)
  cached     check_loads when the verdict is in the cache (sha256 + reading the record)
  load       Paddle Lite's own load in this process (one predictor), for scale
  engine 1st / engine cached   LiteEngine(...) as predict builds it, with an empty cache and with the verdict cached
Writes benchmarks/results/nb-probe-cost.{json,md}. The wheel runtime only: the emulated ARM runtime loads each model
in its own qemu process already (no probe), and the native ARM runtime's probe is the same child on a board.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import RESULTS, git_commit, machine, write_json, write_text  # noqa: E402


def _ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def model_row(path: str, repeats: int, version: str) -> dict:
    from paddlelite import lite

    from edge_ocr.engines import nb_file, nb_probe
    from edge_ocr.engines.lite import LiteEngine
    from edge_ocr.models import sha256_file

    def verify():
        nb_file._verified.clear()
        nb_file.check_nb_file(path)

    def load():
        config = lite.MobileConfig()
        config.set_model_from_file(path)
        lite.create_paddle_predictor(config)

    load()  # warm: the first load in a process pays for paddlelite's own set-up
    with tempfile.TemporaryDirectory() as cache:
        os.environ["EDGE_OCR_CACHE"] = cache
        nb_probe.check_loads(path, "wheel", version)

        def first_engine():
            for name in os.listdir(os.path.join(cache, "nb-probe")):
                os.remove(os.path.join(cache, "nb-probe", name))
            nb_file._verified.clear()
            LiteEngine(path, runtime="wheel").close()

        def cached_engine():
            nb_file._verified.clear()
            LiteEngine(path, runtime="wheel").close()

        return {
            "bytes": os.path.getsize(path),
            "verify_ms": _ms(verify, repeats),
            "sha256_ms": _ms(lambda: sha256_file(path), repeats),
            "probe_ms": _ms(lambda: nb_probe.run_probe(path, "wheel"), repeats),
            "cached_ms": _ms(lambda: nb_probe.check_loads(path, "wheel", version), repeats),
            "load_ms": _ms(load, repeats),
            "engine_first_ms": _ms(first_engine, repeats),
            "engine_cached_ms": _ms(cached_engine, repeats),
        }


def measure(bundle: str, repeats: int) -> dict:
    from edge_ocr.engines.lite import runtime_version

    version = runtime_version() or "unknown"
    rows = {}
    for role in ("det", "cls", "rec"):
        rows[role] = model_row(os.path.join(bundle, f"{role}.nb"), repeats, version)
        print(role, rows[role], flush=True)
    return rows


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# .nb verification and first-load probe: cost per model", "",
             f"`{report['command']}` at {report['commit']}, {m['cpu']}, {m['cores']} cores, paddlelite "
             f"{report['runtime_version']} (x86 wheel), median of {report['repeats']} runs, ms. Bundle: "
             f"`{os.path.basename(report['bundle'])}` (FP32, x86).", "",
             "| model | bytes | verify (Python) | sha256 | probe, first time (child process) | probe, cached | "
             "Paddle Lite load (in process) | LiteEngine, first time | LiteEngine, cached |",
             "|---|---|---|---|---|---|---|---|---|"]
    for role, r in report["models"].items():
        lines.append(f"| {role} | {r['bytes']:,} | {r['verify_ms']} | {r['sha256_ms']} | {r['probe_ms']} | "
                     f"{r['cached_ms']} | {r['load_ms']} | {r['engine_first_ms']} | {r['engine_cached_ms']} |")
    total_first = sum(r["engine_first_ms"] for r in report["models"].values())
    total_cached = sum(r["engine_cached_ms"] for r in report["models"].values())
    lines += ["", f"A bundle's three engines: {total_first:.0f} ms the first time a set of files is seen, "
              f"{total_cached:.0f} ms once the verdicts are cached (verify + sha256 + cache read + load). The probe's "
              "child process is a fresh Python importing paddlelite alone (no edge_ocr, no OpenCV)."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", required=True, help="an x86 bundle (edge-ocr export --target x86)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(RESULTS, "nb-probe-cost"))
    args = parser.parse_args()
    from edge_ocr.engines.lite import runtime_version

    report = {"command": f"python benchmarks/nb_probe_cost.py --bundle BUNDLE --repeats {args.repeats}",
              "commit": git_commit(), "machine": machine(), "bundle": os.path.abspath(args.bundle),
              "repeats": args.repeats, "runtime_version": runtime_version(),
              "models": measure(args.bundle, args.repeats)}
    write_json(args.out + ".json", report)
    write_text(args.out + ".md", to_markdown(report))
    print(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
