"""Image fuzzing for ``benchmarks/property_soak.py --images N``: damaged files of every format through the decoder.

Seeds: small real encodings of every format edge_ocr reads (baseline and progressive JPEG, 8/16-bit PNG with and
without alpha, BMP, TIFF, WebP lossy and lossless, PPM/PGM, JPEG 2000) and the crafted header-disagreement cases of
``benchmarks/image_bombs.py``. Mutations: 1-8 random bytes, a random byte in the first 64 (headers), truncation,
random bytes inserted, a range duplicated. Every mutant is decoded by ``edge_ocr.images.decode_image`` in a child
process (decodes are sequential there; a crash kills the child, is recorded against its mutant and the next child
goes on), and each child's peak RSS is recorded. Verdicts: decoded, refused (an ``ImageError``), other exception
(a bug), or the signal that ended the child.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

CHILD = r"""
import json, os, sys
sys.path.insert(0, sys.argv[3])
from edge_ocr.errors import ImageError
from edge_ocr.images import decode_image
folder, start = sys.argv[1], int(sys.argv[2])
names = sorted(os.listdir(folder))
out = open(os.path.join(folder + ".verdicts"), "a")
for index in range(start, len(names)):
    out.write(f"{index} start\n"); out.flush()
    data = open(os.path.join(folder, names[index]), "rb").read()
    try:
        decode_image(data, names[index])
        verdict = "decoded"
    except ImageError:
        verdict = "refused"
    except Exception as exc:
        verdict = "error " + type(exc).__name__
    out.write(f"{index} {verdict}\n"); out.flush()
peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
out.write(f"peak {peak}\n"); out.flush()
"""


def seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(25)
    picture = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
    picture[10:20, 5:60] = 255
    alpha = np.dstack([picture, np.full((48, 64), 200, np.uint8)])
    out = {}
    for name, ext, image, params in [
        ("baseline.jpg", ".jpg", picture, ()), ("progressive.jpg", ".jpg", picture, (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)),
        ("rgb.png", ".png", picture, ()), ("rgba16.png", ".png", alpha.astype(np.uint16) * 257, ()),
        ("gray.png", ".png", picture[:, :, 0], ()), ("rgb.bmp", ".bmp", picture, ()), ("rgb.tif", ".tif", picture, ()),
        ("rgba.tif", ".tif", alpha, ()), ("lossy.webp", ".webp", picture, (cv2.IMWRITE_WEBP_QUALITY, 60)),
        ("lossless.webp", ".webp", alpha, (cv2.IMWRITE_WEBP_QUALITY, 101)), ("rgb.ppm", ".ppm", picture, ()),
        ("gray16.pgm", ".pgm", picture[:, :, 0].astype(np.uint16) * 200, ()), ("rgb.jp2", ".jp2", picture, ()),
    ]:
        ok, data = cv2.imencode(ext, image, list(params))
        if ok:
            out[name] = data.tobytes()
    with tempfile.TemporaryDirectory() as work:
        from benchmarks.image_bombs import jp2_small_ihdr, jpeg_repeated_scans, jpeg_stuffed_header, png_chunk_claiming

        for name, make in [("stuffed.jpg", lambda p: jpeg_stuffed_header(p, 3000, 3000)),
                           ("scans.jpg", lambda p: jpeg_repeated_scans(p, 256, 50)),
                           ("chunk.png", lambda p: png_chunk_claiming(p, 1 << 20)),
                           ("ihdr.jp2", lambda p: jp2_small_ihdr(p, 128))]:
            path = os.path.join(work, name)
            make(path)
            out[name] = open(path, "rb").read()
    return out


def mutate(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    blob = bytearray(data)
    kind = rng.choice(("flips", "header", "truncate", "insert", "duplicate"))
    if kind == "flips":
        for _ in range(rng.randint(1, 8)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
    elif kind == "header":
        blob[rng.randrange(min(64, len(blob)))] = rng.randrange(256)
    elif kind == "truncate":
        blob = blob[: rng.randrange(1, len(blob))]
    elif kind == "insert":
        at = rng.randrange(len(blob))
        blob[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        start = rng.randrange(len(blob))
        end = min(len(blob), start + rng.randint(1, 512))
        blob[end:end] = blob[start:end] * rng.randint(1, 20)
    return bytes(blob), kind


def run(count: int, seed: int = 25, repo: str = "") -> dict:
    rng = random.Random(seed)
    sources = seeds()
    names = sorted(sources)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as work:
        folder = os.path.join(work, "mutants")
        os.mkdir(folder)
        mutants = []
        for k in range(count):
            source = names[k % len(names)]
            data, kind = mutate(sources[source], rng)
            name = f"{k:06d}-{kind}-{source}"
            open(os.path.join(folder, name), "wb").write(data)
            mutants.append(name)
        verdicts: dict[int, str] = {}
        peaks, crashes = [], []
        next_index = 0
        while next_index < count:
            proc = subprocess.run([sys.executable, "-c", CHILD, folder, str(next_index), repo], capture_output=True,
                                  timeout=3600)
            started = None
            for line in open(folder + ".verdicts").read().splitlines():
                key, _, value = line.partition(" ")
                if key == "peak":
                    peaks.append(int(value) * 1024 / 1e6)
                elif value == "start":
                    started = int(key)
                else:
                    verdicts[int(key)] = value
                    started = None
            os.remove(folder + ".verdicts")
            if proc.returncode == 0:
                break
            failed_at = started if started is not None else next_index
            verdicts[failed_at] = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
            crashes.append({"mutant": mutants[failed_at], "verdict": verdicts[failed_at]})
            next_index = failed_at + 1
    tally: dict[str, int] = {}
    for verdict in verdicts.values():
        tally[verdict] = tally.get(verdict, 0) + 1
    per_source: dict[str, dict[str, int]] = {}
    for index, verdict in verdicts.items():
        counts = per_source.setdefault(mutants[index].split("-", 2)[2], {})
        counts[verdict] = counts.get(verdict, 0) + 1
    return {"mutants": count, "seed": seed, "verdicts": tally, "per_seed": per_source, "crashes": crashes,
            "errors": [mutants[i] for i, v in verdicts.items() if v.startswith("error")][:20],
            "max_child_peak_rss_mb": round(max(peaks, default=0.0), 1),
            "seconds": round(time.perf_counter() - start, 1)}


def to_markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# Image fuzzing", "",
             f"`{report['command']}` at {report['commit']}, {m['cpu']}, {m['cores']} cores: {report['mutants']} "
             f"mutants of {len(report['per_seed'])} seed files, {report['seconds']} s. Verdicts: "
             + ", ".join(f"{k} {v}" for k, v in sorted(report["verdicts"].items()))
             + f". Crashes (signals): {len(report['crashes'])}. Largest peak RSS of a decoding child: "
             f"{report['max_child_peak_rss_mb']} MB.", "",
             "| seed | " + " | ".join(sorted(report["verdicts"])) + " |", "|---|" + "---|" * len(report["verdicts"])]
    for source, counts in sorted(report["per_seed"].items()):
        lines.append(f"| {source} | " + " | ".join(str(counts.get(k, 0)) for k in sorted(report["verdicts"])) + " |")
    for crash in report["crashes"]:
        lines.append(f"\n- crash: {crash['mutant']}: {crash['verdict']}")
    return "\n".join(lines) + "\n"


def main_images(count: int, out: str, seed: int) -> int:
    from benchmarks.common import REPO, git_commit, machine, write_json, write_text

    report = run(count, seed, REPO)
    report.update({"command": f"python benchmarks/property_soak.py --images {count}", "commit": git_commit(),
                   "machine": machine()})
    write_json(out + ".json", report)
    write_text(out + ".md", to_markdown(report))
    print(to_markdown(report))
    print(json.dumps(report["crashes"]), file=sys.stderr)
    return 1 if report["crashes"] or report["errors"] or report["max_child_peak_rss_mb"] > 1500 else 0
