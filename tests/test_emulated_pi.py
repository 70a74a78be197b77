"""The emulated Raspberry Pi: Raspberry Pi OS's arm64 Python under qemu-aarch64, set up by the same
``scripts/pi_install.sh`` a board runs (through ``scripts/emulated_pi.sh``), reading an ARM bundle with Paddle Lite's
real aarch64 library. Its answers must be the x86 pipeline's.

The set-up is cached in .arm/ (a few minutes the first time, seconds after); one emulated predict takes 1–2 minutes.
Everything it needs comes from scripts/setup.sh, so a missing piece fails the test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.conftest import REPO, SHARED, output_tail, require_arm_toolchain

PI_EDGE_OCR = os.path.join(REPO, ".arm", "pi", "bin", "edge-ocr")
PI_PYTHON = os.path.join(REPO, ".arm", "pi", "venv", "bin", "python")


@pytest.fixture(scope="session")
def emulated_pi() -> str:
    """``.arm/pi/bin/edge-ocr``, made (or found up to date) by scripts/emulated_pi.sh."""
    require_arm_toolchain()
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "emulated_pi.sh")], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "EDGE_OCR_SHARED": SHARED}, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"scripts/emulated_pi.sh failed (exit {proc.returncode}):\n"
                    f"{output_tail(proc.stdout + proc.stderr)}")
    assert os.access(PI_EDGE_OCR, os.X_OK), proc.stdout
    return PI_EDGE_OCR


def test_emulated_pi_runs_the_pinned_arm64_stack(emulated_pi):
    code = ("import json, platform, sys, numpy, cv2, pyclipper, tqdm; print(json.dumps({'machine': platform.machine(),"
            " 'python': '%d.%d' % sys.version_info[:2], 'numpy': numpy.__version__, 'cv2': cv2.__version__,"
            " 'pyclipper': pyclipper.__version__, 'tqdm': tqdm.__version__}))")
    proc = subprocess.run([PI_PYTHON, "-I", "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    assert found["machine"] == "aarch64" and found["python"] == "3.11"
    pins = dict(line.strip().split("==") for line in open(os.path.join(REPO, "scripts", "pi_requirements.txt"))
                if "==" in line and not line.startswith("#"))
    assert found["numpy"] == pins["numpy"]
    assert pins["opencv-python-headless"].startswith(found["cv2"])
    assert found["pyclipper"] == pins["pyclipper"] and found["tqdm"] == pins["tqdm"]


def test_fp32_arm_bundle_on_the_emulated_pi_matches_x86(emulated_pi, arm_bundle, img11, pipeline, tmp_path):
    out = tmp_path / "pi.json"
    # Run from outside the checkout: the Pi's venv, not this x86 package, must answer.
    proc = subprocess.run([emulated_pi, "predict", "--bundle", arm_bundle, img11, "--json", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, output_tail(proc.stdout + proc.stderr)
    for text in ("BEWARE OF", "MAINTENANCE", "VEHICLES"):
        assert text in proc.stdout, proc.stdout
    pi_lines = json.loads(out.read_text())[0]["lines"]
    x86_lines = pipeline.ocr_file(img11).lines
    assert [line["text"] for line in pi_lines] == [line.text for line in x86_lines]
    for pi_line, x86_line in zip(pi_lines, x86_lines):
        worst = max(abs(a - b) for p, q in zip(pi_line["box"], x86_line.box) for a, b in zip(p, q))
        assert worst <= 1, (pi_line["text"], pi_line["box"], x86_line.box)


def test_bench_report_marks_emulated_timings():
    from edge_ocr.bench.report import to_markdown

    machine = {"cpu": "", "cores": 2, "arch": "aarch64", "avx2": False, "avx512": False,
               "emulated": "qemu-aarch64 7.2.0, Raspberry Pi 4 cpuinfo"}
    report = {"created": "2026-01-01T00:00:00", "machine": machine, "settings": {"images": 1, "repeats": 1,
              "warmup": 0, "threads": [1]}, "results": [], "complexity": {}}
    markdown = to_markdown(report)
    assert "**Emulated (qemu-aarch64 7.2.0, Raspberry Pi 4 cpuinfo)" in markdown
    assert "Machine:  emulated (qemu-aarch64 7.2.0" in markdown
    machine["emulated"] = None
    assert "Emulated" not in to_markdown(report)


def test_bench_names_an_arm_cpu_from_its_cpuinfo(shared):
    from edge_ocr.bench.measure import _arm_cpu

    with open(os.path.join(shared, "arm", "cpuinfo", "raspberrypi4")) as handle:
        assert _arm_cpu(handle.read()).endswith("(Cortex-A72)")
    assert _arm_cpu("processor\t: 0\nCPU part\t: 0xd0b\n") == "Cortex-A76"
    assert _arm_cpu("flags\t: fpu avx2\n") == ""


def test_int8_arm_bundle_on_the_emulated_pi_reads_like_its_quantized_models(emulated_pi, int8_arm_bundle, quantized,
                                                                             img11, tmp_path):
    from edge_ocr import OCRPipeline

    out = tmp_path / "pi.json"
    proc = subprocess.run([emulated_pi, "predict", "--bundle", int8_arm_bundle, img11, "--json", str(out)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, output_tail(proc.stdout + proc.stderr)
    pi_texts = [line["text"] for line in json.loads(out.read_text())[0]["lines"]]
    # the quantized inference models the bundle was exported from, run by Paddle Inference on x86
    simulated = OCRPipeline.from_models(quantized, engine="paddle", threads=1)
    assert pi_texts == [line.text for line in simulated.ocr_file(img11).lines]
    assert pi_texts == ["BEWARE OF", "MAINTENANCE", "VEHICLES"]


def test_bench_on_the_emulated_pi_writes_a_report_marked_emulated(emulated_pi, arm_bundle, test_images, tmp_path):
    proc = subprocess.run([emulated_pi, "bench", "--images", test_images, "--engines", "--bundle", f"arm={arm_bundle}",
                           "--limit", "2", "--warmup", "0", "--repeats", "1", "--threads", "1",
                           "--out-dir", str(tmp_path), "--name", "pi"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=1800)
    assert proc.returncode == 0, output_tail(proc.stdout + proc.stderr)
    report = json.loads((tmp_path / "pi.json").read_text())
    assert report["machine"]["arch"] == "aarch64" and report["machine"]["emulated"]
    assert [(row["name"], row["images"]) for row in report["results"]] == [("arm", 2)]
    assert "**Emulated" in (tmp_path / "pi.md").read_text()
