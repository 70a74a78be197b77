"""The C++ core on ARM: android_demo/cpp (core, ``edge_ocr_cli`` and, in the same CMake project, the native engine
``edge_ocr_lite``) cross-compiled for aarch64 Linux against the arm64 Debian bookworm sysroot of
``scripts/arm64_sysroot.sh --opencv`` and Paddle Lite's real aarch64 library, run under qemu-aarch64 with a Raspberry
Pi 4's cpuinfo. Its lines must be the Python runtime's. The core's second test: the first
(tests/test_android_core.py) replays recorded model outputs on the host.

The sysroot and the build are cached in .arm/ (the first set-up downloads about 100 MB of .deb files). Each emulated
run of a whole image takes 1 to 2 minutes, so the runs are few and two go at a time. Everything comes from
scripts/setup.sh and $EDGE_OCR_SHARED: a missing piece fails the test instead of skipping it.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import REPO, SHARED, output_tail, require_arm_toolchain

SYSROOT = os.path.join(REPO, ".arm", "sysroot")
BUILD = os.path.join(REPO, ".arm", "build", "cpp-aarch64")
# The ICDAR 2015 test image with at least 8 lines (FP32 Python pipeline: 8) that is cheapest to emulate: of the first
# 200 test images, the fewest lines >= 8, all of them short (rec's two batches stay at the minimum width).
SECOND_IMAGE = "img_28.jpg"
EM_AARCH64 = 183  # ELF e_machine


@pytest.fixture(scope="session")
def arm_build() -> str:
    """.arm/build/cpp-aarch64: one configure of android_demo/cpp for aarch64 (warnings are errors), cached."""
    lite = require_arm_toolchain()
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "arm64_sysroot.sh"), "--opencv", "--cpuinfo",
                           "raspberrypi4", SYSROOT], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "EDGE_OCR_SHARED": SHARED}, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"scripts/arm64_sysroot.sh --opencv failed (exit {proc.returncode}):\n"
                    f"{output_tail(proc.stdout + proc.stderr)}")
    os.makedirs(BUILD, exist_ok=True)
    with open(BUILD + ".lock", "w") as lock:  # one build at a time in the shared cache
        fcntl.flock(lock, fcntl.LOCK_EX)
        start = time.monotonic()
        for cmd in (["cmake", "-S", os.path.join(REPO, "android_demo", "cpp"), "-B", BUILD,
                     f"-DCMAKE_TOOLCHAIN_FILE={SYSROOT}/aarch64-sysroot.cmake", f"-DPADDLE_LITE_DIR={lite}",
                     "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_FLAGS=-Werror"],
                    ["cmake", "--build", BUILD, "-j", "2"]):
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if proc.returncode != 0:
                pytest.fail(f"{' '.join(cmd[:2])} failed for aarch64:\n{output_tail(proc.stdout + proc.stderr, 40)}")
        print(f"\naarch64 build of android_demo/cpp: {time.monotonic() - start:.0f} s")
    return BUILD


def _cli(build: str, bundle: str, image: str, *args: str) -> dict:
    """One emulated edge_ocr_cli run: exit code, parsed JSON (or None), stderr, wall seconds."""
    start = time.monotonic()
    proc = subprocess.run(["qemu-aarch64", "-L", SYSROOT, os.path.join(build, "edge_ocr_cli"), bundle, image,
                           "--threads", "1", *args], capture_output=True, text=True, timeout=900)
    seconds = time.monotonic() - start
    result = json.loads(proc.stdout) if proc.returncode == 0 else None
    return {"rc": proc.returncode, "json": result, "stderr": proc.stderr, "seconds": seconds}


def _lite_qemu(bundle: str, image: str) -> dict:
    """The Python runtime on the same ARM bundle: Paddle Lite's aarch64 library under qemu, 1 thread."""
    from edge_ocr import OCRPipeline

    start = time.monotonic()
    pipeline = OCRPipeline.from_bundle(bundle, engine="lite-qemu", threads=1)
    try:
        lines = pipeline.ocr_file(image).lines
    finally:
        for stage in (pipeline.detector, pipeline.classifier, pipeline.recognizer):
            if stage is not None:
                stage.engine.close()
    return {"lines": [{"text": line.text, "box": line.box} for line in lines], "seconds": time.monotonic() - start}


def _in_parallel(jobs: dict) -> dict:
    """Two emulated runs at a time (qemu uses one core each); prints each run's wall time."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(*job) for name, job in jobs.items()}
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        print(f"\nemulated {name}: {result['seconds']:.0f} s")
    return results


def _worst_corner(a: list, b: list) -> float:
    return max(abs(p - q) for u, v in zip(a, b) for p, q in zip(u, v))


def _version_warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("edge_ocr_cli: warning:")]


def _elf_machine(path: str) -> int:
    with open(path, "rb") as handle:
        header = handle.read(20)
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


def test_one_cmake_project_cross_builds_core_cli_and_native_engine(arm_build):
    for name in ("edge_ocr_cli", "native/libedge_ocr_lite.so", "native/edge_ocr_lite_run"):
        assert _elf_machine(os.path.join(arm_build, name)) == EM_AARCH64, name


def test_cli_refuses_an_x86_model_and_unknown_options(arm_build, x86_bundle, img11):
    run = _cli(arm_build, x86_bundle, img11)
    assert run["rc"] == 1, run["stderr"]
    error = run["stderr"].strip().splitlines()[-1]
    assert error == (f"edge_ocr_cli: error: {x86_bundle}/det.nb was built for X86 (opt --valid_targets=x86); this ARM "
                     "Paddle Lite runtime runs arm models: export the bundle with --target arm"), error
    run = _cli(arm_build, x86_bundle, img11, "--thread", "2")
    assert run["rc"] == 2 and "unknown or incomplete option --thread" in run["stderr"], run["stderr"]


def test_fp32_arm_bundle_cli_matches_python(arm_build, arm_bundle, pipeline, test_images, img11):
    """Texts identical and boxes within 1 px of the FP32 Paddle Inference pipeline (the ARM bundle's Lite runtime
    agrees with it to 2e-5). The runtime names a commit (044ba5b), not a release: one warning, no --force needed."""
    images = {"img_11": img11, "second": os.path.join(test_images, SECOND_IMAGE)}
    runs = _in_parallel({f"CLI FP32 {name}": (_cli, arm_build, arm_bundle, path) for name, path in images.items()})
    for name, path in images.items():
        run = runs[f"CLI FP32 {name}"]
        assert run["rc"] == 0, output_tail(run["stderr"])
        warnings = _version_warnings(run["stderr"])
        assert len(warnings) == 1 and "runtime 044ba5b is a commit, not a release" in warnings[0], warnings
        expected = pipeline.ocr_file(path).lines
        got = run["json"]["lines"]
        if name == "second":
            assert len(expected) >= 8, [line.text for line in expected]
        assert [line["text"] for line in got] == [line.text for line in expected]
        for line, reference in zip(got, expected):
            assert _worst_corner(line["box"], reference.box) <= 1, (line["text"], line["box"], reference.box)


def test_int8_arm_bundle_cli_matches_python_on_the_same_bundle(arm_build, int8_arm_bundle, emulated_runtime,
                                                              test_images, img11):
    """The PTQ int8 ARM bundle, the CLI against the Python runtime's lite-qemu engine (the same aarch64 library and
    cpuinfo): img_11's texts equal, boxes within 1 px; on the second image at most 1 line may differ (measured: 0 of
    8)."""
    images = {"second": os.path.join(test_images, SECOND_IMAGE), "img_11": img11}  # the longest runs first
    jobs = {}
    for name, path in images.items():
        jobs[f"CLI int8 {name}"] = (_cli, arm_build, int8_arm_bundle, path)
        jobs[f"Python lite-qemu int8 {name}"] = (_lite_qemu, int8_arm_bundle, path)
    runs = _in_parallel(jobs)
    for name in images:
        assert runs[f"CLI int8 {name}"]["rc"] == 0, output_tail(runs[f"CLI int8 {name}"]["stderr"])
    cli, python = runs["CLI int8 img_11"]["json"]["lines"], runs["Python lite-qemu int8 img_11"]["lines"]
    assert [line["text"] for line in cli] == [line["text"] for line in python] and python, (cli, python)
    for line, reference in zip(cli, python):
        assert _worst_corner(line["box"], reference["box"]) <= 1, (line, reference)
    cli = [line["text"] for line in runs["CLI int8 second"]["json"]["lines"]]
    python = [line["text"] for line in runs["Python lite-qemu int8 second"]["lines"]]
    same = sum(block.size for block in difflib.SequenceMatcher(None, cli, python).get_matching_blocks())
    differing = max(len(cli), len(python)) - same
    print(f"\nint8 {SECOND_IMAGE}: {differing} of {len(python)} lines differ between the CLI and the Python runtime")
    assert differing <= 1, (cli, python)
