"""Why a recipe rebuilt on another x86 host gives another bundle: the FP32 models' outputs depend on the CPU's vector
unit. Paddle Inference runs them through oneDNN, which picks its kernels by instruction set (AVX-512 on one host, AVX2
on another), and the kernels round differently.

On this host, each model runs on fixed random inputs once per oneDNN instruction-set cap (``ONEDNN_MAX_CPU_ISA``,
each in a fresh process: the cap is read at load), and the outputs are compared bit for bit with the uncapped run.
With ``--read-lines``, the input a recipe generates from FP32 readings (``edge-ocr read-lines`` on TD500, the
``td500_lines`` input) is made again under each cap and its labels compared with the uncapped run's. With ``--build
RECIPE``, the recipe is built three times from scratch: twice uncapped and once as an AVX2-only host would run it
(oneDNN capped, and MKL's code branch pinned with ``MKL_CBWR`` and ``MKL_ENABLE_INSTRUCTIONS``), and the bundles'
files and accuracy are compared.

    python benchmarks/isa_determinism.py [--caps AVX2 SSE41] [--read-lines] [--build recipes/tiny.toml]
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from edge_ocr.atomic import write_json, write_text  # noqa: E402
from edge_ocr.evaluation.domains import shared_dir  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
SHAPES = {"det": (1, 3, 544, 960), "cls": (6, 3, 48, 192), "rec": (6, 3, 32, 320)}

CHILD = """
import json, sys, numpy as np
from edge_ocr import OCRPipeline
pipe = OCRPipeline.from_models(sys.argv[1], engine="paddle", threads=1)
engines = {"det": pipe.detector.engine, "cls": pipe.classifier.engine, "rec": pipe.recognizer.engine}
shapes = json.loads(sys.argv[2])
for i, (role, shape) in enumerate(shapes.items()):
    x = np.random.default_rng(i).random(shape, dtype=np.float32)
    np.save(f"{sys.argv[3]}/{role}.npy", engines[role].run(x))
"""


def run_models(models: str, cap: str | None, out: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if cap:
        env["ONEDNN_MAX_CPU_ISA"] = cap
    subprocess.run([sys.executable, "-c", CHILD, models, json.dumps(SHAPES), out], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def read_lines(cap: str | None, out: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if cap:
        env["ONEDNN_MAX_CPU_ISA"] = cap
    labels = os.path.join(shared_dir(), "data", "td500_train", "det_label.txt")
    edge_ocr = os.path.join(os.path.dirname(sys.executable), "edge-ocr")
    subprocess.run([edge_ocr, "read-lines", "--det-labels", labels, "--out", out, "--dev-tail", "100",
                    "--min-score", "0.9", "--boxes", "labels"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    texts = {}
    for split in ("rec_train.txt", "rec_dev.txt"):
        with open(os.path.join(out, split), encoding="utf-8") as handle:
            for line in handle:
                path, _, text = line.rstrip("\n").partition("\t")
                texts[f"{split}:{os.path.basename(path)}"] = text
    return texts


def build(recipe: str, out: str, cap: str | None) -> dict:
    """``edge-ocr compress --config RECIPE`` from scratch (its own inputs); the bundle's file hashes and accuracy."""
    env = dict(os.environ)
    for name in ("ONEDNN_MAX_CPU_ISA", "MKL_CBWR", "MKL_ENABLE_INSTRUCTIONS"):
        env.pop(name, None)
    if cap:
        env.update(ONEDNN_MAX_CPU_ISA=cap, MKL_CBWR=cap, MKL_ENABLE_INSTRUCTIONS=cap)
    edge_ocr = os.path.join(os.path.dirname(sys.executable), "edge-ocr")
    subprocess.run([edge_ocr, "compress", "--config", recipe, "--out", out, "--no-verify", "--estimate"], check=True,
                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(out.rstrip("/") + "-artifacts/report.json", encoding="utf-8") as handle:
        report = json.load(handle)
    return {"files": {k: v[:16] for k, v in report["file_sha256"].items() if k.endswith(".nb")},
            "compressed": report.get("compressed"), "wall_seconds": report.get("wall_seconds")}


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--caps", nargs="+", default=["AVX2", "SSE41"])
    parser.add_argument("--read-lines", action="store_true")
    parser.add_argument("--build", metavar="RECIPE", help="also build this recipe uncapped (twice) and AVX2-capped")
    parser.add_argument("--name", default="isa-determinism")
    args = parser.parse_args(argv)
    models = os.path.join(shared_dir(), "models", "ppocrv2")
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "")
    report: dict = {"created": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu,
                    "avx512f": "avx512f" in flags, "avx2": "avx2" in flags, "models": {}, "read_lines": {}}
    with tempfile.TemporaryDirectory(prefix="edge-ocr-isa-") as tmp:
        outs = {}
        for cap in [None, *args.caps]:
            name = cap or "default"
            outs[name] = os.path.join(tmp, name)
            os.makedirs(outs[name])
            print(f"models, oneDNN cap {name}", file=sys.stderr, flush=True)
            run_models(models, cap, outs[name])
        for role in SHAPES:
            base = np.load(os.path.join(outs["default"], f"{role}.npy"))
            row = {"default_sha256": hashlib.sha256(base.tobytes()).hexdigest()[:16]}
            for cap in args.caps:
                other = np.load(os.path.join(outs[cap], f"{role}.npy"))
                row[cap] = {"sha256": hashlib.sha256(other.tobytes()).hexdigest()[:16],
                            "bit_identical": bool(np.array_equal(base, other)),
                            "max_abs_diff": float(np.abs(base - other).max()),
                            "argmax_changes": int((base.argmax(-1) != other.argmax(-1)).sum()) if role != "det" else
                            int(((base > 0.3) != (other > 0.3)).sum())}
            report["models"][role] = row
        if args.read_lines:
            print("read-lines, default", file=sys.stderr, flush=True)
            base_texts = read_lines(None, os.path.join(tmp, "lines-default"))
            report["read_lines"]["default"] = {"lines": len(base_texts)}
            for cap in args.caps[:1]:
                print(f"read-lines, oneDNN cap {cap}", file=sys.stderr, flush=True)
                texts = read_lines(cap, os.path.join(tmp, f"lines-{cap}"))
                keys = set(base_texts) | set(texts)
                report["read_lines"][cap] = {
                    "lines": len(texts), "only_one_side": len(keys ^ (set(base_texts) & set(texts))),
                    "text_changed": sum(base_texts[k] != texts[k] for k in set(base_texts) & set(texts))}
        if args.build:
            builds = {}
            for label, cap in (("uncapped", None), ("uncapped again", None), (f"{args.caps[0]}-capped", args.caps[0])):
                print(f"building {args.build}, {label}", file=sys.stderr, flush=True)
                builds[label] = build(args.build, os.path.join(tmp, "build-" + label.replace(" ", "-")), cap)
            report["builds"] = {"recipe": args.build, "runs": builds}
    report["command"] = "python benchmarks/isa_determinism.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_json(os.path.join(RESULTS, args.name + ".json"), report)
    lines = [f"# FP32 outputs by CPU instruction set — {report['created']}", "",
             f"Host: {cpu} (AVX-512: {'yes' if report['avx512f'] else 'no'}), 1 thread, Paddle Inference with "
             "oneDNN. Each model on fixed random inputs (det 1×3×544×960, cls 6×3×48×192, rec 6×3×32×320), oneDNN "
             "capped at each instruction set in a fresh process, against the uncapped run. Decisions: det pixels "
             "crossing the 0.3 threshold, cls/rec argmax per frame.", "",
             "| model | cap | bit-identical | max abs diff | decisions changed |", "|---|---|---|---:|---:|"]
    for role, row in report["models"].items():
        for cap in args.caps:
            r = row[cap]
            lines.append(f"| {role} | {cap} | {'yes' if r['bit_identical'] else 'no'} | {r['max_abs_diff']:.3g} | "
                         f"{r['argmax_changes']} |")
    for cap, r in report["read_lines"].items():
        if cap != "default":
            lines += ["", f"`read-lines` on TD500 (the `td500_lines` recipe input) under {cap}: {r['lines']} lines "
                      f"kept against {report['read_lines']['default']['lines']} uncapped; {r['only_one_side']} kept on "
                      f"one side only; {r['text_changed']} labels with another text."]
    if report.get("builds"):
        runs = report["builds"]["runs"]
        first = next(iter(runs.values()))
        lines += ["", f"`edge-ocr compress --config {report['builds']['recipe']}` from scratch (inputs included, "
                  "`--no-verify`):", "", "| build | " + " | ".join(sorted(first["files"])) +
                  " | same bytes as the first | accuracy (first domain) |",
                  "|---|" + "---|" * (len(first["files"]) + 2)]
        for label, run in runs.items():
            same = run["files"] == first["files"]
            domain, scores = next(iter((run["compressed"] or {"-": {}}).items()))
            text = ", ".join(f"{k} {v * 100:.2f}" for k, v in scores.items() if isinstance(v, (int, float)))
            lines.append(f"| {label} | " + " | ".join(f"`{run['files'][k]}`" for k in sorted(first["files"])) +
                         f" | {'yes' if same else 'no'} | {domain}: {text} |")
    lines += ["", f"Made by `{report['command'].strip()}`.", ""]
    write_text(os.path.join(RESULTS, args.name + ".md"), "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
