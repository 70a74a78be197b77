"""Shared fixtures. Models and data are read in place from ../shared (EDGE_OCR_SHARED); nothing is downloaded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from edge_ocr.evaluation.domains import shared_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = shared_dir()  # the one definition of the data paths (runtime domains, benchmarks, tests)


# Tiers (pytest.ini; scripts/test.sh --fast leaves out slow, arm and train). A test is marked by what it uses, so
# that a new test that runs the emulated ARM runtime or PTQ calibration is in the right tier without anyone
# remembering to mark it; tests that are slow for other reasons carry @pytest.mark.slow themselves.
_FIXTURE_MARKS = {
    "emulated_runtime": ("arm",),  # Paddle Lite's aarch64 library under qemu
    "int8_arm_bundle": ("arm", "slow"),
    "arm_build": ("arm", "slow"),  # the C++ core cross-built for aarch64
    "emulated_pi": ("arm", "slow"),  # the arm64 Python stack of the emulated Raspberry Pi
    "quantized": ("slow",),  # PTQ calibration of all three models
    "core_test_binary": ("slow",),  # CMake build of the C++ core
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture in getattr(item, "fixturenames", ()):
            for mark in _FIXTURE_MARKS.get(fixture, ()):
                item.add_marker(mark)


def _require(path: str) -> str:
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: set EDGE_OCR_SHARED to the shared models-and-data folder")
    return path


@pytest.fixture(scope="session")
def shared() -> str:
    return _require(SHARED)


@pytest.fixture(scope="session")
def models_dir(shared) -> str:
    return _require(os.path.join(shared, "models", "ppocrv2"))


@pytest.fixture(scope="session")
def test_images(shared) -> str:
    return _require(os.path.join(shared, "data", "icdar2015", "ch4_test_images"))


@pytest.fixture(scope="session")
def img11(test_images) -> str:
    return os.path.join(test_images, "img_11.jpg")


@pytest.fixture(scope="session")
def pipeline(models_dir):
    from edge_ocr import OCRPipeline

    return OCRPipeline.from_models(models_dir, engine="paddle", threads=2)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> str:
    """A private model/.nb cache so tests never touch the user's."""
    return str(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def x86_bundle(models_dir, tmp_path_factory) -> str:
    """An FP32 x86 bundle of the official models (runs on this host's Paddle Lite)."""
    from edge_ocr.host.export.bundle import export_bundle

    return export_bundle(models_dir, str(tmp_path_factory.mktemp("bundles") / "x86"), target="x86")


@pytest.fixture(scope="session")
def arm_bundle(models_dir, tmp_path_factory) -> str:
    from edge_ocr.host.export.bundle import export_bundle

    return export_bundle(models_dir, str(tmp_path_factory.mktemp("bundles") / "arm"), target="arm")


@pytest.fixture(scope="session")
def det_train(shared):
    return os.path.join(shared, "data", "icdar2015", "train_label.txt")


@pytest.fixture(scope="session")
def rec_train(shared):
    return os.path.join(shared, "data", "ic15_rec", "rec_gt_train.txt")


@pytest.fixture(scope="session")
def quantized(models_dir, det_train, rec_train, tmp_path_factory):
    """All three models quantized with abs_max on a handful of calibration samples; as in the PTQ recipe, the
    recognizer's first 16 layers stay FP32 (int8 there reads garbage, whose near-ties flip on any rounding)."""
    from edge_ocr.host.quantize.compress.program import quantizable_layers
    from edge_ocr.host.quantize.compress.recipes import PTQOptions, quantize_models
    from edge_ocr.models import resolve_models

    out = str(tmp_path_factory.mktemp("ptq") / "quantized")
    stem = [layer.weight for layer in quantizable_layers(resolve_models(models_dir).rec)[:16]]
    options = PTQOptions(det_algo="abs_max", rec_algo="abs_max", cls_algo="abs_max", det_images=2, rec_crops=12,
                         keep_fp32={"rec": stem})
    return quantize_models(models_dir, det_train, rec_train, out, options)


@pytest.fixture(scope="session")
def int8_arm_bundle(quantized, tmp_path_factory) -> str:
    """The PTQ models above as an int8 ARM bundle."""
    from edge_ocr.host.export.bundle import export_bundle

    return export_bundle(quantized, str(tmp_path_factory.mktemp("bundles") / "int8-arm"), target="arm")


@pytest.fixture(scope="session")
def emulated_runtime() -> str:
    """The aarch64 edge_ocr_lite_run that runs ARM bundles under qemu (built by scripts/setup.sh)."""
    from edge_ocr.engines.native.emulated import qemu_path, runner_path

    try:
        qemu_path()
        return runner_path()
    except Exception as exc:  # a prerequisite of the suite: fail, never skip
        pytest.fail(f"{exc} (scripts/setup.sh builds it)")


def word_crops(shared: str, count: int) -> list:
    """The first ``count`` IC15 test word crops (BGR)."""
    import cv2

    folder = os.path.join(shared, "data", "ic15_rec", "test")
    return [cv2.imread(os.path.join(folder, f"word_{i}.png")) for i in range(1, count + 1)]


def sure_decisions_changed(reference, candidate, gap: float = 0.5) -> tuple[int, int]:
    """Decisions (argmax over the last axis) the reference was sure of (top class ahead of the runner-up by at
    least ``gap``), and how many of them ``candidate`` decides differently. int8 results are compared this way
    across runtimes: roundings differ between ARM, AVX2 and AVX-512 hosts, sure decisions must not."""
    import numpy as np

    top2 = np.sort(reference, axis=-1)[..., -2:]
    sure = (top2[..., 1] - top2[..., 0]) >= gap
    changed = (reference.argmax(-1) != candidate.argmax(-1)) & sure
    return int(sure.sum()), int(changed.sum())


def run_as_nb(model_dir: str, batch, target: str, work: str):
    """Convert an inference model with opt for ``target`` and run the ``.nb`` on ``batch``: on the x86 wheel, or
    on Paddle Lite's aarch64 library under qemu. Returns (the .nb's output, Paddle Inference's on the same model)."""
    from edge_ocr.engines.lite import LiteEngine, convert_to_nb
    from edge_ocr.engines.paddle_inference import PaddleInferenceEngine

    nb = convert_to_nb(model_dir, os.path.join(work, f"{os.path.basename(model_dir)}-{target}.nb"), target=target)
    engine = LiteEngine(nb, threads=1, runtime="qemu" if target == "arm" else "wheel")
    try:
        return engine.run(batch), PaddleInferenceEngine(model_dir, threads=1).run(batch)
    finally:
        engine.close()


def require_arm_toolchain() -> str:
    """Fail (never skip) unless this host can build and emulate aarch64 programs; return Paddle Lite's aarch64 library
    folder ($EDGE_OCR_SHARED/arm/paddle_lite_armv8)."""
    missing = [tool for tool in ("qemu-aarch64", "aarch64-linux-gnu-g++", "cmake", "apt-get", "dpkg-deb")
               if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run scripts/setup.sh (it apt-installs qemu-user, "
                    "g++-aarch64-linux-gnu, libc6-arm64-cross and cmake)")
    lite = os.path.join(SHARED, "arm", "paddle_lite_armv8")
    if not os.path.isfile(os.path.join(lite, "lib", "libpaddle_light_api_shared.so")):
        pytest.fail(f"no Paddle Lite ARM library in {SHARED}/arm: set EDGE_OCR_SHARED")
    return lite


def output_tail(text: str, lines: int = 25) -> str:
    """The last lines of a program's output, for a failure message."""
    return "\n".join(text.strip().splitlines()[-lines:])


def run_cli(*args: str, env: dict | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    """Run ``edge-ocr`` as a user would, in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edge_ocr", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or REPO, timeout=600)


def copy_models(models_dir: str, dest: str) -> str:
    shutil.copytree(models_dir, dest)
    for root, dirs, files in os.walk(dest):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    os.chmod(dest, 0o755)
    return dest


def label_subset(shared: str, folder: str, label_file: str, count: int, out_path) -> str:
    """The first ``count`` lines of ``shared/data/folder/label_file`` with absolute image paths, written to
    ``out_path``: a tiny train set for tests."""
    src = os.path.join(shared, "data", folder)
    lines = open(os.path.join(src, label_file), encoding="utf-8").read().splitlines()[:count]
    with open(out_path, "w", encoding="utf-8") as handle:
        for line in lines:
            image, rest = line.split("\t", 1)
            handle.write(f"{os.path.join(src, image)}\t{rest}\n")
    return str(out_path)
