"""The C++ core's host build against hostile bundles and images (issue #25, classes 5 and 3; "One bundle contract").

Each case goes through the gates that ``edge_ocr_cli`` and the app pass before any model loads (``core_test
--load-bundle``: LoadManifest, the schema, names, sha256 and regular files; ``--load-image``: LoadImage) and must end
in exactly one line on stderr, exit 1, no signal and bounded peak memory (the child's own ru_maxrss, from wait4).
Where the Python runtime refuses the same bundle, both give the same reason. The slow tests build the core with
AddressSanitizer and UBSan (-DEDGE_OCR_SANITIZE=ON) and replay every case plus recorded model outputs under it, and
run the libFuzzer target for the manifest reader for a bounded time.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import pytest

from edge_ocr.bundle import MANIFEST, load_bundle
from edge_ocr.errors import ModelError
from edge_ocr.models import sha256_file
from tests import test_android_core as _android
from tests import test_cpp_arm as _cpp_arm
from tests.conftest import REPO
from tests.test_android_core import CORE, write_golden

core_test_binary = _android.core_test_binary  # the session's host build of the core (a slow-tier fixture)

MANIFEST_RSS = 128 << 20  # reading a manifest and hashing 11 MB of models (measured: about 55 MB with OpenCV loaded)
IMAGE_RSS = 400 << 20  # the largest case decodes 7500x7500 (169 MB) out of a 30000x30000 JPEG


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    peak_rss: int  # bytes


# A child forked from this (large) pytest process counts the parent's pages in its ru_maxrss: a small Python process
# starts the program and reports the peak of that child alone, and its exit code (negative: a signal).
_MEASURE = ("import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[2:]).returncode\n"
            "open(sys.argv[1], 'w').write(f'{code} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}')\n")


def run_core(binary: str, *args: str, env: dict | None = None, timeout: float = 120) -> Run:
    """One run with its own peak RSS and a hard timeout (a hang fails as a timeout, never blocks the suite)."""
    with tempfile.TemporaryDirectory() as work:
        report = os.path.join(work, "rss")
        proc = subprocess.run([sys.executable, "-c", _MEASURE, report, binary, *args], capture_output=True,
                              env=env, timeout=timeout)
        code, rss = open(report).read().split()
        return Run(int(code), proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"),
                   int(rss) * 1024)


def _one_line_refusal(run: Run, rss: int) -> str:
    assert run.rc == 1, (run.rc, run.stdout, run.stderr)  # negative: killed by a signal
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("core_test: error: "), run.stderr
    assert run.peak_rss < rss, f"peak RSS {run.peak_rss >> 20} MiB"
    return lines[0][len("core_test: error: "):]


# ------------------------------------------------------------------------------------------------ hostile bundles


def _clone(bundle: str, dest) -> str:
    shutil.copytree(bundle, dest)
    return str(dest)


def _edit(folder: str, change) -> None:
    path = os.path.join(folder, MANIFEST)
    with open(path) as handle:
        manifest = json.load(handle)
    change(manifest)
    with open(path, "w") as handle:
        json.dump(manifest, handle)


def _set(path: str, value):
    def change(manifest):
        *parents, last = path.split("/")
        node = manifest
        for key in parents:
            node = node[key]
        node[last] = value

    return change


def _escape_model(folder):
    def change(manifest):
        manifest["models"]["rec"]["file"] = "../rec.nb"
        manifest["files"]["../rec.nb"] = manifest["files"]["rec.nb"]

    _edit(folder, change)
    shutil.copy(os.path.join(folder, "rec.nb"), os.path.join(os.path.dirname(folder), "rec.nb"))


def _symlink_model(folder):
    os.remove(os.path.join(folder, "det.nb"))
    os.symlink(os.path.join(folder, "rec.nb"), os.path.join(folder, "det.nb"))


def _fifo_dictionary(folder):
    os.remove(os.path.join(folder, "ppocr_keys_v1.txt"))
    os.mkfifo(os.path.join(folder, "ppocr_keys_v1.txt"))


def _folder_model(folder):
    os.remove(os.path.join(folder, "cls.nb"))
    os.mkdir(os.path.join(folder, "cls.nb"))


def _flipped_byte(folder):
    path = os.path.join(folder, "rec.nb")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))


def _unlisted(folder):
    _edit(folder, lambda m: m["files"].pop("rec.nb"))


def _newline_name(folder):
    def change(manifest):
        manifest["models"]["det"]["file"] = "det\n.nb"
        manifest["files"]["det\n.nb"] = manifest["files"]["det.nb"]

    _edit(folder, change)


def _write(text: bytes):
    def make(folder):
        with open(os.path.join(folder, MANIFEST), "wb") as handle:
            handle.write(text)

    return make


def _manifest_fifo(folder):
    os.remove(os.path.join(folder, MANIFEST))
    os.mkfifo(os.path.join(folder, MANIFEST))


# (case, how to damage a clone of the x86 bundle, whether the reasons must be word for word the Python runtime's)
BUNDLE_CASES = {
    "dotdot_model": (_escape_model, True),
    "absolute_dictionary": (lambda f: _edit(f, _set("dictionary/file", "/etc/passwd")), True),
    "unlisted_model": (_unlisted, True),
    "wrong_sha": (_flipped_byte, True),
    "malformed_sha": (lambda f: _edit(f, _set("files/rec.nb", "not-a-digest")), True),
    "missing_file": (lambda f: os.remove(os.path.join(f, "cls.nb")), True),
    "symlink_model": (_symlink_model, True),
    "fifo_dictionary": (_fifo_dictionary, True),
    "folder_model": (_folder_model, True),
    "newline_in_name": (_newline_name, True),
    "rec_batch_0": (lambda f: _edit(f, _set("params/rec/batch_size", 0)), True),
    "cls_batch_0": (lambda f: _edit(f, _set("params/cls/batch_size", 0)), True),
    "huge_limit_side_len": (lambda f: _edit(f, _set("params/det/limit_side_len", 4096)), True),
    "giant_limit_side_len": (lambda f: _edit(f, _set("params/det/limit_side_len", 10**9)), True),
    "min_limit_type_huge": (lambda f: _edit(f, _set("params/det", {"limit_type": "min", "limit_side_len": 2000})),
                            True),
    "max_image_pixels_raised": (lambda f: _edit(f, _set("params/max_image_pixels", 10**12)), True),
    "string_threshold": (lambda f: _edit(f, _set("params/det/thresh", "0.3")), True),
    "boolean_version": (lambda f: _edit(f, _set("format_version", True)), True),
    "float_batch": (lambda f: _edit(f, _set("params/rec/batch_size", 6.0)), True),
    "models_list": (lambda f: _edit(f, _set("models", ["det.nb"])), True),
    "unknown_param": (lambda f: _edit(f, _set("params/det/boxthresh", 0.1)), True),
    "unknown_model_role": (lambda f: _edit(f, _set("models/ocr", {"file": "det.nb", "precision": "fp32"})), True),
    "no_labels": (lambda f: _edit(f, _set("params/cls/labels", [])), True),
    "bad_shape": (lambda f: _edit(f, _set("params/rec/image_shape", [1, 32, 320])), True),
    "files_empty": (lambda f: _edit(f, _set("files", {})), True),
    "params_list": (lambda f: _edit(f, _set("params/det", [1, 2])), True),
    "nan": (_write(b'{"format_version": NaN}'), False),
    "deep_nesting": (_write(b"[" * 100_000 + b"]" * 100_000), False),
    "not_utf8": (_write(b'{"target": "\xff\xfe"}'), False),
    "too_large": (_write(b" " * (2 << 20) + b"{}"), False),
    "empty_manifest": (_write(b""), False),
    "manifest_fifo": (_manifest_fifo, False),
}


@pytest.fixture(scope="session")
def hostile_bundles(x86_bundle, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hostile-bundles")
    folders = {}
    for name, (damage, _) in BUNDLE_CASES.items():
        folder = _clone(x86_bundle, root / name / "bundle")
        damage(folder)
        folders[name] = folder
    return folders


def _python_reason(folder: str) -> str:
    with pytest.raises(ModelError) as info:
        load_bundle(folder)
    return str(info.value)


def test_core_accepts_the_real_bundle_and_image(core_test_binary, x86_bundle, img11):
    run = run_core(core_test_binary, "--load-bundle", x86_bundle, img11)
    assert run.rc == 0 and run.stderr == "", run.stderr
    assert run.stdout.splitlines() == ["ok 4 files, 6625 classes", "1280x720"]


@pytest.mark.parametrize("case", sorted(BUNDLE_CASES))
def test_core_refuses_a_hostile_bundle_as_python_does(core_test_binary, hostile_bundles, case):
    folder = hostile_bundles[case]
    reason = _one_line_refusal(run_core(core_test_binary, "--load-bundle", folder, timeout=30), MANIFEST_RSS)
    python = _python_reason(folder)
    if BUNDLE_CASES[case][1]:
        assert reason == python
    assert "\n" not in python


def test_every_bundle_case_is_refused_for_its_own_reason(core_test_binary, hostile_bundles):
    """The cases do not all fail on one shared mistake: the reasons differ."""
    reasons = {run_core(core_test_binary, "--load-bundle", folder).stderr for folder in hostile_bundles.values()}
    assert len(reasons) == len(hostile_bundles)


# ------------------------------------------------------------------------------------------------ hostile images


def _jpeg(size=(16, 16), progressive=False, noise=False) -> bytes:
    image = np.random.default_rng(0).integers(0, 255, size + (3,), np.uint8) if noise else np.full(size + (3,), 90,
                                                                                                  np.uint8)
    flags = [cv2.IMWRITE_JPEG_PROGRESSIVE, 1] if progressive else []
    ok, data = cv2.imencode(".jpg", image, flags)
    assert ok
    return data.tobytes()


def _with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with its frame header (SOF) claiming another size: tiny on disk, huge when decoded."""
    at = jpeg.index(b"\xff\xc0") if b"\xff\xc0" in jpeg else jpeg.index(b"\xff\xc2")
    return jpeg[: at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9 :]


def _ff00_trick() -> bytes:
    """FF 00 00 06 after SOI, then an APP1 segment holding a fake 1x1 SOF; the real frame says 24000x24000. libjpeg
    skips FF00 as a stuffed byte and reads the APP1 by its length (issue #25, class 2)."""
    real = _with_size(_jpeg(), 24000, 24000)
    fake_sof = b"\xff\xc0\x00\x11\x08\x00\x01\x00\x01\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    app1 = b"\xff\xe1" + struct.pack(">H", len(fake_sof) + 2) + fake_sof
    return real[:2] + b"\xff\x00\x00\x06" + app1 + real[2:]


def _repeated_scans(repeats: int) -> bytes:
    """A small progressive JPEG whose last scan is repeated (issue #25, class 4: a CPU hang)."""
    data = _jpeg((64, 64), progressive=True, noise=True)
    last = data.rindex(b"\xff\xda")
    return data[:-2] + data[last:-2] * repeats + b"\xff\xd9"


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png(width: int, height: int) -> bytes:
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b""))


def _bmp(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 14 + len(info) + 64, 0, 0, 14 + len(info)) + info + bytes(64)


def _fifo(path):
    os.mkfifo(path)


IMAGE_REFUSED = {
    "png_30000": (_png(30000, 30000), "above the 64 MP limit (only JPEGs are decoded at reduced size)"),
    "png_side_above_opencv": (_png(2_000_000, 1), "a side above OpenCV's"),
    "bmp_100000": (_bmp(100_000, -100_000), "above the 64 MP limit"),
    "jpeg_5000_scans": (_repeated_scans(5000), "scans, each of which walks the whole image"),
    "progressive_30000": (_with_size(_jpeg(progressive=True), 30000, 30000), "MiB, above the 640 MiB limit"),
    "jpeg_65535_even_at_1_8": (_with_size(_jpeg(), 65535, 65535), "too large even at 1/8 size"),
    "truncated_jpeg": (_jpeg((64, 64), noise=True)[:120], "truncated JPEG"),
    "zero_size_jpeg": (_with_size(_jpeg(), 0, 16), "header declares a 0x16 image"),
    "text": (b"hello, world\n", "not an image the C++ core reads"),
    "empty": (b"", "empty file"),
    "gif": (b"GIF89a" + bytes(64), "not an image the C++ core reads"),
    "fifo": (_fifo, "not a regular file"),
    "folder": (os.mkdir, "is a folder, not an image"),
}


@pytest.fixture(scope="session")
def hostile_images(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("hostile-images")
    paths = {}
    cases = {**{k: v[0] for k, v in IMAGE_REFUSED.items()}, "jpeg_30000": _with_size(_jpeg(), 30000, 30000),
             "ff00_trick": _ff00_trick(), "jpeg_1x1": _jpeg((1, 1))}
    for name, content in cases.items():
        path = str(root / f"{name}.img")
        if callable(content):
            content(path)
        else:
            with open(path, "wb") as handle:
                handle.write(content)
        paths[name] = path
    return paths


@pytest.mark.parametrize("case", sorted(IMAGE_REFUSED))
def test_core_refuses_a_hostile_image_in_one_line(core_test_binary, hostile_images, case):
    reason = _one_line_refusal(run_core(core_test_binary, "--load-image", hostile_images[case], timeout=60), IMAGE_RSS)
    assert IMAGE_REFUSED[case][1] in reason, reason


def test_a_30000_square_jpeg_is_decoded_at_reduced_size_in_bounded_memory(core_test_binary, hostile_images):
    """900 MP (2.7 GB decoded at full size) on 1 KB of disk: decoded at 1/4 (7500x7500 <= 64 MP), one warning."""
    run = run_core(core_test_binary, "--load-image", hostile_images["jpeg_30000"], timeout=120)
    assert run.rc == 0, run.stderr
    assert run.stdout.strip() == "7500x7500 of 30000x30000 scale 4"
    assert run.stderr.count("\n") == 1 and "decoded at 1/4 size" in run.stderr
    assert run.peak_rss < IMAGE_RSS, f"peak RSS {run.peak_rss >> 20} MiB"


def test_the_size_is_the_decoders_not_a_fake_frame(core_test_binary, hostile_images):
    """The FF00 trick: the header reader follows libjpeg's marker rules, so the fake 1x1 SOF is never taken."""
    run = run_core(core_test_binary, "--load-image", hostile_images["ff00_trick"], timeout=120)
    assert run.rc == 0, run.stderr
    assert run.stdout.strip() == "6000x6000 of 24000x24000 scale 4"
    assert run.peak_rss < IMAGE_RSS, f"peak RSS {run.peak_rss >> 20} MiB"


def test_max_image_pixels_of_the_manifest_is_applied(core_test_binary, img11, hostile_images):
    run = run_core(core_test_binary, "--load-image", img11, "100000")
    assert run.rc == 0 and run.stdout.strip() == "320x180 of 1280x720 scale 4", run.stdout + run.stderr
    run = run_core(core_test_binary, "--load-image", hostile_images["jpeg_1x1"])
    assert run.rc == 0 and run.stdout.strip() == "1x1 of 1x1 scale 1" and run.stderr == "", run.stderr


def test_sha256_and_parameter_rules_selftest(core_test_binary):
    """SHA-256 against the FIPS 180-4 vectors (empty, abc, 448 and 896 bits, a million 'a'), fed whole and byte by
    byte; batch sizes 0, -1 and 257 refused by ValidateParams and by the Pipeline itself."""
    run = run_core(core_test_binary, "--selftest")
    assert run.rc == 0 and run.stdout.strip() == "selftest ok", run.stdout


def test_core_sha256_is_pythons(core_test_binary, x86_bundle, tmp_path):
    """A manifest re-hashed by Python after an edit is accepted by the core: both compute the same digest."""
    folder = _clone(x86_bundle, tmp_path / "b")
    with open(os.path.join(folder, "ppocr_keys_v1.txt"), "a") as handle:
        handle.write("extra\n")
    _edit(folder, _set("files/ppocr_keys_v1.txt", sha256_file(os.path.join(folder, "ppocr_keys_v1.txt"))))
    run = run_core(core_test_binary, "--load-bundle", folder)
    assert run.rc == 0 and run.stdout.startswith("ok 4 files, "), run.stderr


# ------------------------------------------------------------------------------------------------ sanitizers, fuzzing


def _cmake_build(source_args: list[str], build, target: str, env=None) -> str:
    for cmd in (["cmake", "-S", CORE, "-B", str(build), *source_args],
                ["cmake", "--build", str(build), "--target", target, "-j", "2"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return os.path.join(str(build), target)


@pytest.fixture(scope="session")
def sanitized_core_test(tmp_path_factory) -> str:
    return _cmake_build(["-DEDGE_OCR_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                        tmp_path_factory.mktemp("core-asan"), "core_test")


_SANITIZER_ENV = {**os.environ, "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=99",
                  "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:exitcode=98"}


def _clean(run: Run) -> None:
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer"):
        assert marker not in run.stderr, run.stderr[-4000:]
    assert run.rc in (0, 1), (run.rc, run.stderr[-4000:])


@pytest.mark.slow
def test_hostile_cases_and_replay_under_asan_and_ubsan(sanitized_core_test, hostile_bundles, hostile_images,
                                                       x86_bundle, models_dir, test_images, tmp_path):
    """Every hostile bundle and image above, the selftest and a replay of recorded model outputs (img_11, upside
    down, a 1x1 image) through the core built with AddressSanitizer and UBSan: no report, the same exit codes."""
    from edge_ocr.images import load_image

    run = run_core(sanitized_core_test, "--selftest", env=_SANITIZER_ENV, timeout=300)
    _clean(run)
    assert run.stdout.strip() == "selftest ok"
    for folder in hostile_bundles.values():
        run = run_core(sanitized_core_test, "--load-bundle", folder, env=_SANITIZER_ENV, timeout=120)
        _clean(run)
        assert run.rc == 1
    for name, path in hostile_images.items():
        run = run_core(sanitized_core_test, "--load-image", path, env=_SANITIZER_ENV, timeout=300)
        _clean(run)
        assert run.rc == (1 if name in IMAGE_REFUSED else 0), (name, run.stderr)
    image = load_image(os.path.join(test_images, "img_11.jpg")).image
    cases = {"img_11": image, "upside_down": cv2.rotate(image, cv2.ROTATE_180),
             "one_pixel": np.full((1, 1, 3), 128, np.uint8)}
    golden = str(tmp_path / "golden")
    write_golden(x86_bundle, models_dir, cases, golden)
    run = run_core(sanitized_core_test, golden, env=_SANITIZER_ENV, timeout=600)
    _clean(run)
    assert run.rc == 0 and f"{len(cases) + 2} passed, 0 failed" in run.stdout, run.stdout


def _manifest_seeds(x86_bundle: str, corpus) -> None:
    shutil.copy(os.path.join(x86_bundle, MANIFEST), corpus / "real.json")
    real = json.load(open(os.path.join(x86_bundle, MANIFEST)))
    for name, change in {"batch0": _set("params/rec/batch_size", 0), "dotdot": _set("models/det/file", "../x"),
                         "minimal": _set("params", {})}.items():
        edited = json.loads(json.dumps(real))
        change(edited)
        (corpus / f"{name}.json").write_text(json.dumps(edited))


def _image_seeds(x86_bundle: str, corpus) -> None:
    noise = np.random.default_rng(0).integers(0, 255, (24, 24, 3), np.uint8)
    for name, ext, flags in [("a", ".jpg", []), ("p", ".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]), ("a", ".png", []),
                             ("a", ".bmp", [])]:
        (corpus / f"{name}{ext}").write_bytes(cv2.imencode(ext, noise, flags)[1].tobytes())
    (corpus / "ff00.jpg").write_bytes(_ff00_trick())


@pytest.mark.slow
@pytest.mark.parametrize("target, seeds", [("fuzz_manifest", _manifest_seeds), ("fuzz_image", _image_seeds)])
def test_fuzz_the_readers_of_untrusted_bytes(x86_bundle, tmp_path, target, seeds):
    """libFuzzer, 20 s per target (clang, ASan + UBSan + LeakSanitizer): the manifest reader (manifest.cc) seeded with
    a real manifest and hostile ones, the image reader (image_io.cc) with small JPEG/PNG/BMP files and the FF00 trick.
    No crash, no sanitizer report, no leak, no input slower than 10 s or above 1 GB."""
    if not shutil.which("clang++"):
        pytest.fail("clang++ is missing: scripts/setup.sh installs clang and libclang-rt-14-dev")
    env = {**os.environ, "CC": "clang", "CXX": "clang++"}
    fuzzer = _cmake_build(["-DEDGE_OCR_FUZZ=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], tmp_path / "build", target,
                          env=env)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds(x86_bundle, corpus)
    run = run_core(fuzzer, "-max_total_time=20", "-max_len=16384", "-timeout=10", "-rss_limit_mb=1024",
                   "-print_final_stats=1", str(corpus), timeout=180)
    assert run.rc == 0 and "Done" in run.stderr, run.stderr[-4000:]
    for marker in ("ERROR: libFuzzer", "AddressSanitizer", "LeakSanitizer", "runtime error:", "deadly signal"):
        assert marker not in run.stderr, run.stderr[-4000:]
    executions = int(next(line for line in run.stderr.splitlines() if "stat::number_of_executed_units" in line)
                     .split(":")[-1])
    print(f"\n{target}: {executions} inputs in 20 s")
    assert executions > 1000


def test_cli_sources_use_the_gates():
    """edge_ocr_cli (built only with Paddle Lite's C++ library, for ARM) reads its bundle and image through the same
    gates the host tests exercise, and prints errors through OneLine."""
    cli = open(os.path.join(REPO, "android_demo", "cpp", "src", "ocr_cli.cc"), encoding="utf-8").read()
    assert "LoadManifest(argv[1])" in cli and "LoadImage(argv[2], m.params.max_image_pixels)" in cli
    assert "imread" not in cli and "OneLine(e.what())" in cli


arm_build = _cpp_arm.arm_build  # the aarch64 build of the core and edge_ocr_cli (an arm-tier fixture)


def test_arm_cli_keeps_the_contract_before_loading_models(arm_build, hostile_bundles, hostile_images, x86_bundle,
                                                          img11):
    """edge_ocr_cli itself, emulated: hostile bundles refused with the core's one line before Paddle Lite sees a file,
    and a 30000x30000 JPEG decoded at 1/4 (one warning) in bounded memory before the models are loaded (this x86
    bundle's det.nb is then refused for its target, which shows the image came first)."""
    cli = [os.path.join(arm_build, "edge_ocr_cli")]
    qemu = ["qemu-aarch64", "-L", _cpp_arm.SYSROOT]
    for case in ("rec_batch_0", "dotdot_model", "symlink_model", "wrong_sha"):
        run = run_core(qemu[0], *qemu[1:], *cli, hostile_bundles[case], img11, "--threads", "1", timeout=300)
        lines = run.stderr.splitlines()
        assert run.rc == 1 and len(lines) == 1 and lines[0].startswith("edge_ocr_cli: error: "), run.stderr
        assert lines[0][len("edge_ocr_cli: error: "):] == _python_reason(hostile_bundles[case])
    run = run_core(qemu[0], *qemu[1:], *cli, x86_bundle, hostile_images["jpeg_30000"], "--threads", "1", timeout=300)
    lines = run.stderr.splitlines()
    assert run.rc == 1 and len(lines) == 2, run.stderr
    assert "decoded at 1/4 size" in lines[0] and "was built for X86" in lines[1], run.stderr
    assert run.peak_rss < IMAGE_RSS, f"peak RSS {run.peak_rss >> 20} MiB"
