"""Bench results -> Markdown tables, the comparison with the PP-OCRv2 paper, and PNG plots."""

from __future__ import annotations

import logging
import os

log = logging.getLogger(__name__)

# Published figures (PP-OCRv2 paper, arXiv 2109.03144, and PaddleOCR's model list).
PAPER = [
    {"system": "PP-OCRv2", "size_mb": 11.6, "hmean": 0.576, "cpu_ms": 330, "gpu_ms": 111},
    {"system": "PP-OCR mobile", "size_mb": 8.1, "hmean": 0.503, "cpu_ms": 356, "gpu_ms": 116},
    {"system": "PP-OCR server", "size_mb": 155.1, "hmean": 0.570, "cpu_ms": 1056, "gpu_ms": 200},
    {"system": "PP-OCRv2 slim (PaddleOCR's ARM bundle)", "size_mb": 4.6, "hmean": None, "cpu_ms": None, "gpu_ms": None},
]
PAPER_CPU = {"cpu": "Intel Xeon Gold 6148 (AVX-512)", "threads": 10, "engine": "Paddle Inference + MKLDNN",
             "data": "Baidu's internal evaluation set (Chinese and English, mixed sizes)"}


def _ms(entry: dict, stage: str, key: str = "median") -> str:
    value = entry.get("ms", {}).get(stage, {}).get(key)
    return f"{value:.1f}" if isinstance(value, (int, float)) else "–"


def to_markdown(report: dict) -> str:
    m = report["machine"]
    emulated = m.get("emulated")
    where = f"{m['cpu']} emulated ({emulated})" if emulated else m["cpu"]
    out = [f"# edge-ocr bench — {report['created']}", "",
           f"Machine: {where}, {m['cores']} cores, {m['arch']} (AVX2 {m['avx2']}, AVX-512 {m['avx512']}). "
           f"{report['settings']['images']} images × {report['settings']['repeats']} repeat(s), "
           f"{report['settings']['warmup']} warm-up image(s) excluded.",
           *([f"**Emulated ({emulated}): these timings measure the emulator, not the board; they say nothing "
              "about ARM latency.**", ""] if emulated else []),
           "Timing: e2e = file read + decode + det + crops + cls + rec + post-processing; det = resize/normalise + "
           "inference + DB post-processing; cls/rec = crop preprocessing + inference + decoding. Median (p90).", "",
           "| variant | threads | e2e ms | det ms | cls ms | rec ms | load ms | peak RSS MB | size MB | det Hmean |"
           " e2e Hmean | rec acc. |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for entry in report["results"]:
        if "error" in entry:
            out.append(f"| {entry['name']} | {entry['threads']} | failed: {entry['error']} | | | | | | | | | |")
            continue
        acc = entry.get("accuracy") or {}

        def pct(key: str, acc: dict = acc) -> str:
            return f"{acc[key]:.4f}" if acc.get(key) is not None else "–"

        out.append(
            f"| {entry['name']} | {entry['threads'] if entry.get('threads_settable', True) else '1 (fixed)'} | "
            f"{_ms(entry, 'e2e')} ({_ms(entry, 'e2e', 'p90')}) | "
            f"{_ms(entry, 'det')} | {_ms(entry, 'cls')} | {_ms(entry, 'rec')} | {entry['load_ms']:.0f} | "
            f"{entry['peak_rss_mb']:.0f} | {entry['size_bytes'] / 1e6:.2f} | {pct('det_hmean')} | {pct('e2e_hmean')} | "
            f"{pct('rec_accuracy')} |")
    if report.get("complexity"):
        out += ["", "FP32 model complexity (one forward pass at the stated input; FLOPs = 2 × multiply-accumulates of "
                "convolutions, matmuls and the LSTM):", "",
                "| model | input | GFLOPs | parameters (M) |", "|---|---|---|---|"]
        for role, c in report["complexity"].items():
            shape = "×".join(str(d) for d in c["input_shape"][1:])
            out.append(f"| {role} | {shape} | {c['flops'] / 1e9:.3f} | {c['params'] / 1e6:.3f} |")
    out += ["", "## Against the PP-OCRv2 paper", "",
            f"Published CPU figures: {PAPER_CPU['cpu']}, {PAPER_CPU['threads']} threads, {PAPER_CPU['engine']}, on "
            f"{PAPER_CPU['data']}. Here: {where}, ICDAR 2015 test images (1280×720, English). Hmean is not "
            "comparable across data sets; core-ms (ms × threads) is the defensible cross-machine scale, an upper "
            "bound for the paper's machine since 10 threads never scale linearly.", "",
            "| system | size MB | Hmean (paper set) | CPU ms (paper) | core-ms (paper) | T4 GPU ms |",
            "|---|---|---|---|---|---|"]
    for row in PAPER:
        core = row["cpu_ms"] * PAPER_CPU["threads"] if row["cpu_ms"] else None
        out.append(f"| {row['system']} | {row['size_mb']} | {row['hmean'] if row['hmean'] is not None else '–'} | "
                   f"{row['cpu_ms'] or '–'} | {core or '–'} | {row['gpu_ms'] or '–'} |")
    for entry in report["results"]:
        if "error" not in entry and entry.get("ms", {}).get("e2e", {}).get("median") is not None:
            median = entry["ms"]["e2e"]["median"]
            threads = entry["threads"] if entry.get("threads_settable", True) else 1
            here = "measured here, emulated" if emulated else "measured here"
            out.append(f"| {entry['name']} ({here}) | {entry['size_bytes'] / 1e6:.2f} | – | "
                       f"{median:.1f} ({threads} thread{'s' if threads > 1 else ''}) | {median * threads:.0f} | – |")
    out.append("")
    return "\n".join(out)


def plots(report: dict, stem: str) -> list[str]:
    """Latency per stage per variant; accuracy vs size; accuracy vs latency. Returns the PNG paths written."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log.warning("matplotlib is not installed: no plots")
        return []
    rows = [r for r in report["results"] if "error" not in r]
    written = []
    if rows:
        fig, ax = plt.subplots(figsize=(max(6, len(rows) * 1.2), 4))
        labels = [f"{r['name']}\n{r['threads']} thr" for r in rows]
        bottom = [0.0] * len(rows)
        for stage, color in (("det", "#4c72b0"), ("cls", "#dd8452"), ("rec", "#55a868")):
            values = [r["ms"].get(stage, {}).get("median", 0) for r in rows]
            ax.bar(labels, values, bottom=bottom, label=stage, color=color)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.scatter(labels, [r["ms"]["e2e"].get("median", 0) for r in rows], color="black", zorder=3, label="e2e")
        ax.set_ylabel("ms per image (median)")
        ax.set_title("Latency per stage")
        ax.legend()
        fig.tight_layout()
        written.append(_save(fig, stem + "-latency.png"))
        plt.close(fig)
    scored = [r for r in rows if (r.get("accuracy") or {}).get("e2e_hmean") is not None]
    for xkey, xlabel, suffix in (("size", "bundle / model size (MB)", "accuracy-size"),
                                 ("latency", "e2e ms per image (median)", "accuracy-latency")):
        if not scored:
            break
        fig, ax = plt.subplots(figsize=(6, 4))
        for r in scored:
            x = r["size_bytes"] / 1e6 if xkey == "size" else r["ms"]["e2e"]["median"]
            ax.scatter(x, r["accuracy"]["e2e_hmean"])
            ax.annotate(f"{r['name']} ({r['threads']})", (x, r["accuracy"]["e2e_hmean"]), fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("end-to-end Hmean (ICDAR 2015)")
        fig.tight_layout()
        written.append(_save(fig, f"{stem}-{suffix}.png"))
        plt.close(fig)
    return written


def _save(fig, path: str) -> str:
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    os.replace(tmp, path)
    return path
