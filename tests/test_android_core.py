"""The Android/ARM C++ core, built on the host with CMake and tested against the Python runtime.

Golden files are produced here, by the Python pipeline on real images: every model call's input and output tensor
and the final lines. The C++ core replays the outputs and must build the same inputs and end with the same boxes
(within 1 px) and identical texts. Nothing binary is committed.
"""

import json
import os
import shutil
import subprocess

import cv2
import numpy as np
import pytest

from edge_ocr import OCRPipeline
from edge_ocr.images import load_image
from tests.conftest import REPO

CORE = os.path.join(REPO, "android_demo", "cpp")


@pytest.fixture(scope="session")
def core_test_binary(tmp_path_factory):
    if not shutil.which("cmake"):
        pytest.fail("cmake is missing: scripts/setup.sh installs the C++ toolchain and libraries")
    build = tmp_path_factory.mktemp("core-build")
    for cmd in (["cmake", "-S", CORE, "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
                ["cmake", "--build", str(build), "-j", "2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return str(build / "core_test")


@pytest.fixture(scope="session")
def core_build(core_test_binary):
    return os.path.dirname(core_test_binary)


class Recording:
    """An engine wrapper that records every call's input and output."""

    def __init__(self, name, engine, calls):
        self.name, self.engine, self.calls = name, engine, calls
        self.model_path = engine.model_path

    def run(self, batch):
        out = self.engine.run(batch)
        self.calls.append((self.name, np.ascontiguousarray(batch, np.float32), np.ascontiguousarray(out, np.float32)))
        return out


def write_golden(bundle: str, models_dir: str, cases: dict, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(bundle, "manifest.json"), out)
    shutil.copy(os.path.join(bundle, "ppocr_keys_v1.txt"), out)
    pipeline = OCRPipeline.from_models(models_dir, engine="paddle")
    calls = []
    pipeline.detector.engine = Recording("det", pipeline.detector.engine, calls)
    pipeline.classifier.engine = Recording("cls", pipeline.classifier.engine, calls)
    pipeline.recognizer.engine = Recording("rec", pipeline.recognizer.engine, calls)
    for name, image in cases.items():
        case = os.path.join(out, name)
        os.makedirs(case)
        cv2.imwrite(os.path.join(case, "image.png"), image)
        calls.clear()
        lines = pipeline(image)
        meta = {"calls": [], "lines": [line.to_dict() for line in lines]}
        for i, (model, x, y) in enumerate(calls):
            x.tofile(os.path.join(case, f"{i}_in.bin"))
            y.tofile(os.path.join(case, f"{i}_out.bin"))
            meta["calls"].append({"model": model, "in": f"{i}_in.bin", "out": f"{i}_out.bin",
                                  "in_shape": list(x.shape), "out_shape": list(y.shape)})
        with open(os.path.join(case, "meta.json"), "w") as handle:
            json.dump(meta, handle)
    with open(os.path.join(out, "cases.json"), "w") as handle:
        json.dump(list(cases), handle)


def test_core_matches_python_runtime(core_test_binary, x86_bundle, models_dir, test_images, tmp_path):
    cases = {}
    for name in ("img_11", "img_13", "img_14", "img_108", "img_82", "img_2"):
        cases[name] = load_image(os.path.join(test_images, f"{name}.jpg")).image
    cases["img_11_upside_down"] = cv2.rotate(cases["img_11"], cv2.ROTATE_180)  # exercises cls rotation
    cases["one_pixel"] = np.full((1, 1, 3), 128, np.uint8)
    cases["blank"] = np.full((300, 200, 3), 255, np.uint8)
    golden = str(tmp_path / "golden")
    write_golden(x86_bundle, models_dir, cases, golden)
    proc = subprocess.run([core_test_binary, golden], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(cases) + 2} passed, 0 failed" in proc.stdout  # + the version rule, the label bound


def test_core_rejects_a_changed_text(core_test_binary, x86_bundle, models_dir, test_images, tmp_path):
    """The replay test can fail: a golden text edited by one character is caught."""
    golden = str(tmp_path / "golden")
    write_golden(x86_bundle, models_dir, {"img_11": load_image(os.path.join(test_images, "img_11.jpg")).image},
                 golden)
    meta_path = os.path.join(golden, "img_11", "meta.json")
    meta = json.load(open(meta_path))
    meta["lines"][0]["text"] = meta["lines"][0]["text"][:-1] + "X"
    json.dump(meta, open(meta_path, "w"))
    proc = subprocess.run([core_test_binary, golden], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "1 failed" in proc.stdout


def test_jni_bridge_compiles_and_matches_the_java_natives(core_build):
    """The app's JNI bridge builds against the core on the host, and defines exactly the native methods that
    OcrEngine.java declares (names are the JNI mangling of org.edgeocr.demo.OcrEngine)."""
    import glob
    import re

    app = os.path.join(REPO, "android_demo", "app", "src", "main")
    java = open(os.path.join(app, "java", "org", "edgeocr", "demo", "OcrEngine.java"), encoding="utf-8").read()
    bridge = open(os.path.join(app, "cpp", "jni_bridge.cc"), encoding="utf-8").read()
    declared = set(re.findall(r"private static native \S+ (\w+)\(", java))
    defined = set(re.findall(r"Java_org_edgeocr_demo_OcrEngine_(\w+)\(", bridge))
    assert declared == defined == {"nativeCreate", "nativeRun", "nativeRelease"}
    # scripts/setup.sh installs a JDK (jni.h): the bridge must have compiled, never silently skipped
    assert glob.glob(os.path.join(core_build, "**", "jni_bridge.cc.o"), recursive=True), "jni_bridge.cc not built"


def test_core_refuses_a_damaged_nb_before_paddle_lite(core_test_binary, x86_bundle, tmp_path):
    """The C++ core's .nb structure check (run by PaddleLiteEngine before Paddle Lite reads the file) accepts the
    exported models and refuses truncated, padded and foreign files, as the Python check does."""
    with open(os.path.join(x86_bundle, "rec.nb"), "rb") as handle:
        data = handle.read()
    cases = {"whole": (data, 0), "truncated": (data[: len(data) // 2], 1), "header_only": (data[:26], 1),
             "padded": (data + b"\0", 1), "not_nb": (b"\x89PNG\r\n\x1a\n" + bytes(64), 1)}
    for name, (content, expected) in cases.items():
        path = tmp_path / f"{name}.nb"
        path.write_bytes(content)
        proc = subprocess.run([core_test_binary, "--check-nb", str(path)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == expected, (name, proc.stdout, proc.stderr)
        assert ("ok" if expected == 0 else "refused: ") in proc.stdout
    proc = subprocess.run([core_test_binary, "--check-nb", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "not a regular file" in proc.stdout
