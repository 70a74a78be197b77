"""The property tests of tests/test_properties.py with many more examples than the suite runs, and a fuzzer for
Paddle Lite ``.nb`` models.

    python benchmarks/property_soak.py [--examples N]
    python benchmarks/property_soak.py --images N   (the image decoder: benchmarks/image_fuzz.py)
    python benchmarks/property_soak.py --nb BUNDLE [--flips N] [--truncations N] [--overwrites N] [--loads N]
                                       [--predicts N] [--image IMG] [--runtime wheel|qemu]

Without --nb: runs pytest on tests/test_properties.py under the Hypothesis "soak" profile (EDGE_OCR_HYPOTHESIS=soak;
--examples overrides its count) and records, per property, the examples that passed, failed or were discarded
and the time taken. Writes benchmarks/results/property-soak.{json,md}; exits with pytest's code.

With --nb: damages each model of BUNDLE (single-byte flips, truncations, overwrites of ranges, and the header cases
of issue #25: a parameter length of 0x7FFFFFF0, meta_version 1, a parameter count of 0, ...). Every mutant goes
through the Python verifier in-process and the C++ one (nb_verify_tool, built on the host), which must agree; the
mutants both accept are loaded in a child process (the probe LiteEngine runs, --loads of them), and a sample of those
runs through ``edge-ocr predict`` on a copy of the bundle with the mutant in place and its manifest re-hashed
(--predicts). Writes benchmarks/results/nb-fuzz.{json,md}; exits 1 on any signal or disagreement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import REPO, RESULTS, git_commit, machine, shared_dir, write_json, write_text  # noqa: E402

_BLOCK = re.compile(r"^tests/test_properties\.py::(\w+):\n(.*?)(?=^\S|\Z)", re.M | re.S)
_PHASE = re.compile(r"during (\w+) phase \(([\d.]+) seconds\).*?(\d+) passing, (\d+) failing, and (\d+) invalid",
                    re.S)
_STOPPED = re.compile(r"Stopped because (.*)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, help="examples per property (default: the soak profile's 5000)")
    parser.add_argument("--out", help="results file stem (default: benchmarks/results/property-soak or nb-fuzz)")
    parser.add_argument("--nb", metavar="BUNDLE", help="fuzz the .nb models of this bundle instead")
    parser.add_argument("--flips", type=int, default=2000, help="single-byte flips per model (2000)")
    parser.add_argument("--truncations", type=int, default=200, help="truncations per model (200)")
    parser.add_argument("--overwrites", type=int, default=200, help="overwritten ranges per model (200)")
    parser.add_argument("--loads", type=int, default=40, help="statically accepted mutants loaded per model (40)")
    parser.add_argument("--predicts", type=int, default=6, help="probe-accepted mutants run through predict (6)")
    parser.add_argument("--image", help="the image predict reads (default: ICDAR 2015 img_11)")
    parser.add_argument("--runtime", choices=("wheel", "qemu"), default="wheel",
                        help="wheel for an x86 bundle, qemu for an ARM one")
    parser.add_argument("--seed", type=int, default=25)
    parser.add_argument("--images", type=int, metavar="N",
                        help="fuzz the image decoder instead: N mutants of every format (benchmarks/image_fuzz.py)")
    args = parser.parse_args()
    if args.nb:
        return fuzz_main(args)
    if args.images:
        from benchmarks.image_fuzz import main_images

        return main_images(args.images, args.out or os.path.join(RESULTS, "image-fuzz"), args.seed)
    args.out = args.out or os.path.join(RESULTS, "property-soak")
    env = {**os.environ, "EDGE_OCR_HYPOTHESIS": "soak"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_properties.py",
               "--hypothesis-show-statistics", "-k", "not profile_is_loaded"]
    if args.examples:
        env["EDGE_OCR_HYPOTHESIS_EXAMPLES"] = str(args.examples)
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    properties = []
    for name, body in _BLOCK.findall(proc.stdout):
        phases = {phase: (float(t), int(ok), int(bad), int(invalid))
                  for phase, t, ok, bad, invalid in _PHASE.findall(body)}
        properties.append({
            "property": name,
            "passing_examples": sum(p[1] for p in phases.values()),
            "failing_examples": sum(p[2] for p in phases.values()),
            "invalid_examples": sum(p[3] for p in phases.values()),
            "seconds": round(sum(p[0] for p in phases.values()), 2),
            "stopped_because": next(iter(_STOPPED.findall(body)), "").strip(),
        })
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-500:]
    flag = f" --examples {args.examples}" if args.examples else ""
    report = {"command": "python benchmarks/property_soak.py" + flag,
              "commit": git_commit(), "machine": machine(), "pytest_exit": proc.returncode, "pytest_summary": summary,
              "seconds": round(seconds, 1), "properties": properties}
    write_json(args.out + ".json", report)
    write_text(args.out + ".md", to_markdown(report))
    print(to_markdown(report))
    if proc.returncode:
        print(proc.stdout[-4000:], file=sys.stderr)
    return proc.returncode


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Property soak", "",
             f"`{report['command']}` at {report['commit']}, {m['cpu']}, {m['cores']} cores: pytest "
             f"{report['pytest_summary']!r} in {report['seconds']} s.", "",
             "| property | passing examples | failing | discarded | seconds |", "|---|---|---|---|---|"]
    for p in report["properties"]:
        lines.append(f"| {p['property']} | {p['passing_examples']} | {p['failing_examples']} | "
                     f"{p['invalid_examples']} | {p['seconds']} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ .nb fuzzing
#
# A mutation is a tuple: ("flip", pos, xor), ("trunc", length), ("fill", pos, length, byte) or ("put", pos, bytes).


def nb_layout(data: bytes) -> dict:
    """Offsets of the fields the header mutations change, read from an undamaged .nb."""
    topology = struct.unpack_from("<Q", data, 18)[0]
    params = 26 + topology
    meta = struct.unpack_from("<H", data, params + 2)[0]
    header = params + 4 + meta + 2  # the params header: uint16 count, uint32 largest
    return {"topology": topology, "params": params, "count": header, "largest": header + 2, "first_param": header + 6}


def nb_mutations(data: bytes, seed: int, flips: int, truncations: int, overwrites: int) -> list[tuple]:
    """Random damage: half the flips in the header and program, half anywhere; truncations; overwritten ranges."""
    rng = random.Random(seed)
    program_end = nb_layout(data)["params"]
    out: list[tuple] = []
    for k in range(flips):
        pos = rng.randrange(program_end if k % 2 == 0 else len(data))
        out.append(("flip", pos, rng.randrange(1, 256)))
    out += [("trunc", rng.randrange(len(data))) for _ in range(truncations)]
    for k in range(overwrites):
        pos = rng.randrange(program_end if k % 2 == 0 else len(data))
        length = min(rng.choice((1, 4, 16, 256, 1000, 4096)), len(data) - pos)
        if k % 3 == 2:
            out.append(("put", pos, bytes(rng.randrange(256) for _ in range(length))))
        else:
            out.append(("fill", pos, length, rng.choice((0x00, 0xFF))))
    return out


def header_mutations(data: bytes) -> dict[str, tuple]:
    """The header cases of issue #25, by name."""
    at = nb_layout(data)
    u16, u32, u64 = (lambda v: struct.pack("<H", v)), (lambda v: struct.pack("<I", v)), (lambda v: struct.pack("<Q", v))
    return {
        "largest param 0x7FFFFFF0": ("put", at["largest"], u32(0x7FFFFFF0)),
        "meta_version 1": ("put", 0, u16(1)),
        "meta_version 0": ("put", 0, u16(0)),
        "param count 0": ("put", at["count"], u16(0)),
        "param count 1": ("put", at["count"], u16(1)),
        "first param size 0x7FFFFFF0": ("put", at["first_param"], u32(0x7FFFFFF0)),
        "topology size 2^63": ("put", 18, u64(1 << 63)),
        "params version 1": ("put", at["params"], u16(1)),
        "program 1000 x 0xFF": ("fill", 26 + at["topology"] // 3, min(1000, at["topology"] // 2), 0xFF),
        "root offset 0": ("put", 26, u32(0)),
    }


def apply_mutation(data: bytes, mutation: tuple) -> bytes:
    out = bytearray(data)
    kind = mutation[0]
    if kind == "flip":
        out[mutation[1]] ^= mutation[2]
    elif kind == "trunc":
        del out[mutation[1]:]
    elif kind == "fill":
        out[mutation[1] : mutation[1] + mutation[2]] = bytes([mutation[3]]) * mutation[2]
    else:
        out[mutation[1] : mutation[1] + len(mutation[2])] = mutation[2]
    return bytes(out)


def mutation_line(mutation: tuple) -> str:
    """The mutation as nb_verify_tool --mutants reads it."""
    if mutation[0] == "put":
        return f"put {mutation[1]} {mutation[2].hex()}"
    return " ".join(str(part) for part in mutation)


def build_nb_verify_tool(build_dir: str) -> str:
    """android_demo/cpp's nb_verify_tool, built for this host (cmake, the core's host dependencies)."""
    source = os.path.join(REPO, "android_demo", "cpp")
    for command in (["cmake", "-S", source, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
                    ["cmake", "--build", build_dir, "--target", "nb_verify_tool", "-j", "2"]):
        proc = subprocess.run(command, capture_output=True, text=True, timeout=900)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(command[:2])} failed: {(proc.stdout + proc.stderr)[-2000:]}")
    return os.path.join(build_dir, "nb_verify_tool")


def cpp_verdicts(tool: str, path: str, mutations: list[tuple]) -> list[str]:
    """nb_verify_tool's verdict on each mutation of the file at ``path``: "ok" or "refused: ..."."""
    proc = subprocess.run([tool, "--mutants", path], input="\n".join(map(mutation_line, mutations)) + "\n",
                          capture_output=True, text=True, timeout=3600)
    lines = proc.stdout.splitlines()
    if proc.returncode or len(lines) != len(mutations):
        raise RuntimeError(f"nb_verify_tool answered {len(lines)} of {len(mutations)} (exit {proc.returncode}): "
                           f"{proc.stderr[-500:]}")
    return lines


def python_verdict(data: bytes) -> str:
    from edge_ocr.engines.nb_program import NbFormatError, verify_nb

    try:
        verify_nb(data)
        return "ok"
    except NbFormatError as exc:
        return f"refused: {exc}"


def mutant_bundle(bundle: str, role_file: str, content: bytes, dest: str) -> str:
    """A copy of ``bundle`` (hard links) with ``role_file`` replaced by ``content`` and the manifest re-hashed, as a
    user who edits a bundle by hand would have it."""
    import hashlib

    os.makedirs(dest)
    for name in os.listdir(bundle):
        if name not in (role_file, "manifest.json"):
            try:
                os.link(os.path.join(bundle, name), os.path.join(dest, name))
            except OSError:
                shutil.copy(os.path.join(bundle, name), os.path.join(dest, name))
    with open(os.path.join(dest, role_file), "wb") as handle:
        handle.write(content)
    with open(os.path.join(bundle, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["files"][role_file] = hashlib.sha256(content).hexdigest()
    with open(os.path.join(dest, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    return dest


def predict_mutant(bundle: str, image: str, runtime: str, cache: str, timeout: int = 900) -> dict:
    """``edge-ocr predict`` on a (mutant) bundle in a fresh process: exit code, the last stderr line, the texts."""
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "out.json")
        engine = ["--engine", "lite-qemu", "--threads", "1"] if runtime == "qemu" else []
        env = {**os.environ, "EDGE_OCR_CACHE": cache}
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "edge_ocr", "predict", image, "--bundle", bundle, "--json", out,
                               *engine], capture_output=True, text=True, errors="replace", env=env, timeout=timeout)
        texts = None
        if os.path.isfile(out):
            with open(out, encoding="utf-8") as handle:
                texts = [line["text"] for result in json.load(handle) for line in result.get("lines", [])]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return {"rc": proc.returncode, "signal": proc.returncode < 0 or proc.returncode in (134, 139),
            "last": lines[-1][:300] if lines else "", "texts": texts, "seconds": round(time.perf_counter() - start, 1)}


def load_mutant(path: str, runtime: str) -> dict:
    """The load of one statically accepted mutant, isolated: the wheel's probe, or the qemu server's own process."""
    if runtime == "wheel":
        from edge_ocr.engines.nb_probe import run_probe

        return run_probe(path, "wheel")
    from edge_ocr.engines.native.emulated import EmulatedPredictor
    from edge_ocr.errors import ModelError

    start = time.perf_counter()
    try:
        EmulatedPredictor(path, threads=1).close()
        return {"ok": True, "seconds": round(time.perf_counter() - start, 3)}
    except ModelError as exc:
        return {"ok": False, "reason": str(exc), "seconds": round(time.perf_counter() - start, 3)}


def fuzz_models(bundle: str, tool: str, args, work: str, log=print) -> dict:
    """The whole fuzz run over the bundle's models (see the module's docstring); the counts, per model."""
    image = args.image or os.path.join(shared_dir(), "data", "icdar2015", "ch4_test_images", "img_11.jpg")
    with open(os.path.join(bundle, "manifest.json"), encoding="utf-8") as handle:
        files = {role: entry["file"] for role, entry in json.load(handle)["models"].items()}
    baseline = predict_mutant(bundle, image, args.runtime, os.path.join(work, "cache-baseline"))
    report = {"bundle": bundle, "image": image, "runtime": args.runtime, "baseline": baseline, "models": {}}
    rng = random.Random(args.seed)
    for role, name in sorted(files.items()):
        path = os.path.join(bundle, name)
        with open(path, "rb") as handle:
            data = handle.read()
        named = header_mutations(data)
        mutations = list(named.values()) + nb_mutations(data, args.seed + len(role), args.flips, args.truncations,
                                                        args.overwrites)
        start = time.perf_counter()
        python = [python_verdict(apply_mutation(data, m)) for m in mutations]
        python_s = time.perf_counter() - start
        start = time.perf_counter()
        cpp = cpp_verdicts(tool, path, mutations)
        cpp_s = time.perf_counter() - start
        disagree = [(mutation_line(m)[:80], p[:120], c[:120]) for m, p, c in zip(mutations, python, cpp)
                    if (p == "ok") != (c == "ok")]
        accepted = [m for m, p in zip(mutations, python) if p == "ok"]
        log(f"{role}: {len(mutations)} mutants, {len(mutations) - len(accepted)} refused statically "
            f"(Python {python_s:.1f} s, C++ {cpp_s:.1f} s), {len(disagree)} disagreements")
        # the loads go mostly to mutants that changed the program (what the verifier can only partly judge);
        # changed weights load alike
        program_end = nb_layout(data)["params"]
        in_program = [m for m in accepted if m[0] != "trunc" and m[1] < program_end]
        elsewhere = [m for m in accepted if m[0] == "trunc" or m[1] >= program_end]
        first = rng.sample(in_program, min(len(in_program), (3 * args.loads + 3) // 4))
        sample = first + rng.sample(elsewhere, min(len(elsewhere), args.loads - len(first)))
        loads = []
        for k, mutation in enumerate(sample):
            mutant = os.path.join(work, f"{role}-{k}.nb")
            with open(mutant, "wb") as handle:
                handle.write(apply_mutation(data, mutation))
            loads.append((mutation, load_mutant(mutant, args.runtime)))
            os.remove(mutant)
        loaded = [m for m, record in loads if record["ok"]]
        crashed = [record["reason"] for _, record in loads if not record["ok"] and "crashed" in record["reason"]]
        log(f"{role}: {len(loads)} loaded in a child process: {len(loaded)} loaded, {len(loads) - len(loaded)} "
            f"refused ({len(crashed)} crashes caught)")
        runs = []
        for k, mutation in enumerate(loaded[: args.predicts]):
            folder = mutant_bundle(bundle, name, apply_mutation(data, mutation), os.path.join(work, f"b-{role}-{k}"))
            run = predict_mutant(folder, image, args.runtime, os.path.join(work, f"cache-{role}-{k}"))
            run["mutation"] = mutation_line(mutation)[:80]
            run["same_texts"] = run["texts"] == baseline["texts"]
            runs.append(run)
            shutil.rmtree(folder, ignore_errors=True)
            log(f"{role}: predict on mutant {k}: exit {run['rc']} in {run['seconds']} s, "
                f"{'same texts' if run['same_texts'] else 'other texts'} ({run['last'][:100]})")
        header_runs = {}
        for label, mutation in named.items():  # the named header cases through predict too (refused statically)
            folder = mutant_bundle(bundle, name, apply_mutation(data, mutation), os.path.join(work, f"h-{role}"))
            header_runs[label] = predict_mutant(folder, image, args.runtime, os.path.join(work, "cache-header"))
            shutil.rmtree(folder, ignore_errors=True)
        report["models"][role] = {
            "file": name, "bytes": len(data), "mutants": len(mutations), "flips": args.flips,
            "truncations": args.truncations, "overwrites": args.overwrites + len(named),
            "refused_statically": len(mutations) - len(accepted), "accepted_statically": len(accepted),
            "python_seconds": round(python_s, 1), "cpp_seconds": round(cpp_s, 1), "disagreements": disagree,
            "accepted_in_program": len(in_program), "loaded": len(loads), "load_ok": len(loaded),
            "refused_by_probe": len(loads) - len(loaded),
            "probe_crashes": len(crashed), "probe_reasons": sorted({r[:160] for _, rec in loads if not rec["ok"]
                                                                     for r in [rec["reason"]]})[:8],
            "predicts": runs, "header_cases": {k: {"rc": v["rc"], "signal": v["signal"], "last": v["last"]}
                                                for k, v in header_runs.items()},
        }
    return report


def fuzz_main(args) -> int:
    out = args.out or os.path.join(RESULTS, "nb-fuzz")
    with tempfile.TemporaryDirectory(prefix="nb-fuzz-") as work:
        tool = build_nb_verify_tool(os.path.join(REPO, "build", "nb-verify-host"))
        start = time.perf_counter()
        report = fuzz_models(os.path.abspath(args.nb), tool, args, work)
        report["seconds"] = round(time.perf_counter() - start, 1)
    flags = " ".join(f"--{k} {getattr(args, k)}" for k in ("flips", "truncations", "overwrites", "loads", "predicts",
                                                            "runtime", "seed"))
    report.update(command=f"python benchmarks/property_soak.py --nb BUNDLE {flags}", commit=git_commit(),
                  machine=machine())
    write_json(out + ".json", report)
    text = fuzz_markdown(report)
    write_text(out + ".md", text)
    print(text)
    signals = sum(run["signal"] for m in report["models"].values() for run in m["predicts"])
    signals += sum(case["signal"] for m in report["models"].values() for case in m["header_cases"].values())
    disagreements = sum(len(m["disagreements"]) for m in report["models"].values())
    return 1 if signals or disagreements or report["baseline"]["rc"] else 0


def fuzz_markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# .nb fuzzing", "",
             f"`{report['command']}` at {report['commit']}, {m['cpu']}, {m['cores']} cores, runtime "
             f"{report['runtime']}, {report['seconds']} s in all. Bundle: `{os.path.basename(report['bundle'])}`; "
             f"predict reads `{os.path.basename(report['image'])}`.", "",
             "Every mutant goes through the Python verifier (in-process) and the C++ one (`nb_verify_tool`); those "
             "both accept are loaded in a child process (the wheel: the first-load probe LiteEngine runs; qemu: the "
             "emulated runtime's own server process, which verifies in C++ first), mostly mutants that changed the "
             "program; a sample of those that load runs through `edge-ocr predict` on a copy of the bundle with the "
             "manifest re-hashed. Refused statically + accepted = mutants.", "",
             "| model | mutants (flips / truncations / overwrites) | refused statically | accepted | Python / C++ "
             "disagree | loaded in a child | refused by the probe (crashes caught) | predict runs | signals |",
             "|---|---|---|---|---|---|---|---|---|"]
    total_signals = 0
    for role, r in report["models"].items():
        signals = sum(run["signal"] for run in r["predicts"]) + sum(c["signal"] for c in r["header_cases"].values())
        total_signals += signals
        runs = r["predicts"]
        ran = f"{len(runs)} ({sum(run['rc'] == 0 for run in runs)} exit 0, {sum(run['same_texts'] for run in runs)} " \
              f"same texts)"
        lines.append(f"| {role} ({r['bytes']:,} B) | {r['mutants']} ({r['flips']} / {r['truncations']} / "
                     f"{r['overwrites']}) | {r['refused_statically']} | {r['accepted_statically']} | "
                     f"{len(r['disagreements'])} | {r['loaded']} | {r['refused_by_probe']} ({r['probe_crashes']}) | "
                     f"{ran} | {signals} |")
    lines += ["", f"Signals in all: **{total_signals}**. Undamaged bundle: exit {report['baseline']['rc']}, "
              f"{len(report['baseline']['texts'] or [])} lines.", "",
              "Named header cases (through predict; each must be one clean line, exit 2):", "",
              "| model | case | exit | last stderr line |", "|---|---|---|---|"]
    for role, r in report["models"].items():
        for label, case in r["header_cases"].items():
            lines.append(f"| {role} | {label} | {case['rc']} | `{case['last'][:140]}` |")
    reasons = sorted({reason for r in report["models"].values() for reason in r["probe_reasons"]})
    if reasons:
        lines += ["", "What the probe refused (examples):", ""] + [f"- `{reason}`" for reason in reasons[:10]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
