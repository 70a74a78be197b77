"""How often an int8 recognizer's ARM ``.nb`` reads a line differently from its quantized inference model, and
whether it costs accuracy: labelled crops of each domain, the bundle's own ``rec.nb`` on the ARM runtime (natively or
under qemu) against the quantized model in Paddle Inference (x86), both decoded with the bundle's dictionary.

    python experiments/arm-rec-agreement/arm_rec_agreement.py NAME=BUNDLE [NAME=BUNDLE ...] [--crops 48] [--out PREFIX]

For every line whose text changes it records the simulation's decision margin: the smallest gap between the top two
class probabilities over the frames where the two decodings differ. Integer arithmetic on another CPU flips int8
roundings, and each flip moves later layers by a quantum; a line read with a small margin may change, a line read
with a large margin should not. Writes PREFIX.{json,md} (default experiments/arm-rec-agreement/arm-rec-agreement).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from edge_ocr.atomic import write_json, write_text  # noqa: E402
from edge_ocr.bundle import load_bundle  # noqa: E402
from edge_ocr.engines import create_engine  # noqa: E402
from edge_ocr.engines.lite import runtime_target  # noqa: E402
from edge_ocr.evaluation import edit_distance  # noqa: E402
from edge_ocr.evaluation.domains import builtin_domains  # noqa: E402
from edge_ocr.evaluation.labels import read_rec_labels  # noqa: E402
from edge_ocr.images import load_image  # noqa: E402
from edge_ocr.rec import TextRecognizer, ctc_greedy_decode, load_charset  # noqa: E402


def _margin(probs: np.ndarray) -> np.ndarray:
    top2 = np.sort(probs, axis=-1)[..., -2:]
    return top2[..., 1] - top2[..., 0]


def measure(bundle_dir: str, domains: list[str], crops_per_domain: int, engine: str) -> dict:
    bundle = load_bundle(bundle_dir)
    quantized = os.path.join(bundle_dir.rstrip("/") + "-artifacts", "quantized", "rec")
    arm = create_engine(bundle.model_file("rec"), engine, threads=1)
    sim = create_engine(quantized, "paddle", threads=1)
    charset = load_charset(bundle.dictionary, bundle.params.rec.use_space_char)
    batcher = TextRecognizer(arm, bundle.dictionary, bundle.params.rec)
    result: dict = {"bundle": os.path.abspath(bundle_dir), "quantized": quantized, "domains": {}}
    for name in domains:
        samples = read_rec_labels(builtin_domains()[name].rec)[:crops_per_domain]
        crops = [load_image(s.image).image for s in samples]
        texts = {"arm": [""] * len(crops), "sim": [""] * len(crops)}
        margins = [1.0] * len(crops)
        for ids, batch in batcher.batches(crops):
            out = {"arm": arm.run(batch), "sim": sim.run(batch)}
            decoded = {side: ctc_greedy_decode(np.nan_to_num(p), charset) for side, p in out.items()}
            frames_differ = out["arm"].argmax(-1) != out["sim"].argmax(-1)
            gap = _margin(out["sim"])
            for k, i in enumerate(ids):
                texts["arm"][i], texts["sim"][i] = decoded["arm"][k][0], decoded["sim"][k][0]
                if frames_differ[k].any():
                    margins[i] = float(gap[k][frames_differ[k]].min())
        labels = [s.text for s in samples]
        changed = [i for i in range(len(crops)) if texts["arm"][i] != texts["sim"][i]]
        result["domains"][name] = {
            "lines": len(crops), "changed_lines": len(changed),
            "changed_chars": sum(edit_distance(texts["arm"][i], texts["sim"][i]) for i in changed),
            "accuracy_arm": sum(t == y for t, y in zip(texts["arm"], labels)) / len(crops),
            "accuracy_sim": sum(t == y for t, y in zip(texts["sim"], labels)) / len(crops),
            "changed": [{"label": labels[i], "arm": texts["arm"][i], "sim": texts["sim"][i],
                         "sim_margin": round(margins[i], 4)} for i in changed],
        }
        print(name, {k: v for k, v in result["domains"][name].items() if k != "changed"}, flush=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="+", metavar="NAME=BUNDLE")
    parser.add_argument("--domains", nargs="+", default=["icdar2015", "zh_synth"])
    parser.add_argument("--crops", type=int, default=48, help="first N labelled crops of each domain")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "arm-rec-agreement"))
    args = parser.parse_args()
    engine = "lite" if runtime_target() == "arm" else "lite-qemu"
    rows = {}
    for item in args.bundles:
        name, _, bundle = item.partition("=")
        rows[name] = measure(bundle, args.domains, args.crops, engine)
    report = {"command": "python experiments/arm-rec-agreement/arm_rec_agreement.py " + " ".join(sys.argv[1:]),
              "arm_runtime": engine + (" (emulated: qemu-aarch64, Raspberry Pi 4 cpuinfo, 1 thread)"
                                       if engine == "lite-qemu" else ""), "bundles": rows}
    write_json(args.out + ".json", report)
    lines = ["# int8 recognizers: the ARM .nb against its quantized model, line by line", "",
             f"`{report['command']}`", "", f"ARM side: {report['arm_runtime']}; simulated side: the quantized "
             "inference model in Paddle Inference (x86). Margin: the simulation's smallest top-1/top-2 probability "
             "gap on the frames where the two decodings differ.", "",
             "| bundle | domain | lines | changed | chars | accuracy ARM | accuracy sim | largest margin of a change |",
             "|---|---|---|---|---|---|---|---|"]
    for name, result in rows.items():
        for domain, d in result["domains"].items():
            worst = max((c["sim_margin"] for c in d["changed"]), default=0.0)
            lines.append(f"| {name} | {domain} | {d['lines']} | {d['changed_lines']} | {d['changed_chars']} | "
                         f"{d['accuracy_arm']:.4f} | {d['accuracy_sim']:.4f} | {worst:.3f} |")
    write_text(args.out + ".md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
