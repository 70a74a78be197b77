"""A ``.nb`` is verified before Paddle Lite sees it (issue #25, class 1): one description of the format
(edge_ocr/engines/nb_format.json), a Python verifier and a C++ one that must agree on every damaged file, a child
process for the first load of a file, and fuzzing through predict.

The bulk (thousands of mutants per model) runs the static verifiers in-process; a sample of the mutants both accept
is loaded in a child process and a few of those run through ``edge-ocr predict``. Zero signals: every mutant is a
clean refusal or a run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from benchmarks.property_soak import (
    apply_mutation,
    build_nb_verify_tool,
    cpp_verdicts,
    header_mutations,
    mutant_bundle,
    nb_layout,
    nb_mutations,
    predict_mutant,
    python_verdict,
)
from edge_ocr.engines import nb_probe
from edge_ocr.engines.nb_file import check_nb_file
from edge_ocr.engines.nb_program import FORMAT, NbFormatError, verify_nb
from edge_ocr.errors import ModelError
from tests.conftest import REPO, run_cli
from tests.test_cpp_arm import arm_build  # noqa: F401  (the cross-built C++ CLI, a fixture)

ROLES = ("det", "cls", "rec")


@pytest.fixture(scope="session")
def nb_tool(tmp_path_factory) -> str:
    """The C++ verifier (android_demo/cpp's nb_verify_tool) built for this host."""
    if not shutil.which("cmake"):
        pytest.fail("cmake is missing: scripts/setup.sh installs the C++ toolchain")
    return build_nb_verify_tool(str(tmp_path_factory.mktemp("nb-verify-build")))


@pytest.fixture(scope="module")
def models(x86_bundle) -> dict:
    out = {}
    for role in ROLES:
        with open(os.path.join(x86_bundle, f"{role}.nb"), "rb") as handle:
            out[role] = handle.read()
    return out


def reference_models(shared: str) -> list[str]:
    folder = os.path.join(shared, "models", "reference", "ch_PP-OCRv2_slim_lite_v2.10_arm")
    return [os.path.join(folder, name) for name in sorted(os.listdir(folder)) if name.endswith(".nb")]


def align_corners_mutant(data: bytes) -> bytes:
    """det.nb with one byte of an attribute name changed (``align_corners`` -> ``align_cUrners``): a file every static
    check accepts (the name is still sorted among its op's attributes) that makes Paddle Lite abort at load (the
    interpolation op's attribute is missing)."""
    end = nb_layout(data)["params"]
    at = data.find(b"align_corners\x00", 26, end)
    assert at > 0, "no align_corners attribute in det.nb's program"
    return data[: at + 7] + b"U" + data[at + 8 :]


# ------------------------------------------------------------------------------------------------ one description


def test_generated_cpp_header_matches_the_json():
    """The C++ verifier reads nb_format.json through a committed header; it must be what the generator writes now."""
    proc = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "gen_nb_format_header.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    header = open(os.path.join(REPO, "android_demo", "cpp", "src", "nb_format_generated.h"), encoding="utf-8").read()
    for name, fields in FORMAT["tables"].items():  # and it holds every table and field of the description
        for index, field in enumerate(fields):
            assert f"constexpr int k{name}_{field['name']} = {index};" in header


def test_the_generator_check_fails_on_a_changed_description(tmp_path, monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", os.path.join(REPO, "scripts", "gen_nb_format_header.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    changed = json.loads(json.dumps(FORMAT))
    changed["limits"]["max_blocks"] += 1
    committed = open(gen.HEADER_PATH, encoding="utf-8").read()
    assert gen.render(FORMAT) == committed and gen.render(changed) != committed


def test_real_models_pass_both_verifiers(x86_bundle, arm_bundle, shared, nb_tool):
    paths = [os.path.join(b, f"{role}.nb") for b in (x86_bundle, arm_bundle) for role in ROLES]
    paths += reference_models(shared)  # opt 2.10's, not compacted
    for path in paths:
        summary = check_nb_file(path)
        assert summary.params and summary.kernels and summary.opt_version.startswith("v2.1"), path
    proc = subprocess.run([nb_tool, *paths], capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines() == ["ok"] * len(paths), proc.stdout


# ------------------------------------------------------------------------------------------------ static checks


@pytest.mark.parametrize("case, reason", [
    ("largest param 0x7FFFFFF0", "largest param has 2147483632 bytes"),
    ("meta_version 1", "naive-buffer format 1 is not one this runtime loads"),
    ("meta_version 0", "naive-buffer format 0"),
    ("param count 0", "parameters of the program are not stored"),
    ("param count 1", "parameters of the program are not stored"),
    ("first param size 0x7FFFFFF0", "truncated or damaged"),
    ("topology size 2^63", "truncated or damaged"),
    ("params version 1", "params version 1"),
    ("program 1000 x 0xFF", "damaged Paddle Lite model (program:"),
    ("root offset 0", "root offset at 0 is a null offset"),
])
def test_header_cases_of_the_issue_are_refused_by_both(models, nb_tool, tmp_path, case, reason):
    mutation = header_mutations(models["det"])[case]
    with pytest.raises(NbFormatError, match=reason.replace("(", r"\(").replace("^", r"\^")):
        verify_nb(apply_mutation(models["det"], mutation))
    path = tmp_path / "det.nb"
    path.write_bytes(models["det"])
    [verdict] = cpp_verdicts(nb_tool, str(path), [mutation])
    assert verdict.startswith("refused: "), verdict


@pytest.mark.parametrize("damage, reason", [
    ("unsorted_attrs", "is not sorted by name"),
    ("undeclared_input", "is not a declared variable"),
    ("kernel_of_another_op", "is not one for this op"),
    ("dims_disagree", "need"),
    ("string_without_nul", "NUL"),
])
def test_specific_damage_is_named(models, nb_tool, tmp_path, damage, reason):
    """Damage that keeps every size right is caught by meaning: the right check names it, in Python and C++."""
    data = bytearray(models["det"])
    end = nb_layout(bytes(data))["params"]
    if damage == "unsorted_attrs":  # 'strides' -> 'atrides': now before 'paddings' in a sorted vector
        at = data.find(b"strides\x00", 26, end)
        data[at] = ord("a")
    elif damage == "undeclared_input":  # an op's argument renamed to a variable nobody declared
        at = data.find(b"relu_4.tmp_0\x00", 26, end)
        data[at] = ord("R")
    elif damage == "kernel_of_another_op":
        at = data.find(b"depthwise_conv2d/def/", 26, end)
        data[at] = ord("e")
    elif damage == "dims_disagree":  # a convolution's filter with one more output channel than its data holds
        weight = next(p for p in verify_nb(bytes(data)).params if len(p.dims) == 4)
        dims = b"".join(d.to_bytes(8, "little", signed=True) for d in weight.dims)
        at = data.find(dims, end)
        assert at > 0 and data.find(dims, at + 1) < 0
        data[at] += 1
    else:
        at = data.find(b"NCHW\x00", 26, end)
        data[at + 4] = ord("X")
    with pytest.raises(NbFormatError, match=reason):
        verify_nb(bytes(data))
    path = tmp_path / "det.nb"
    path.write_bytes(models["det"])
    [verdict] = cpp_verdicts(nb_tool, str(path), [("put", 0, bytes(data))])
    assert verdict.startswith("refused: ") and reason in verdict, verdict


def test_python_and_cpp_agree_on_a_sample_of_mutants(models, nb_tool, tmp_path):
    """A quick share of the fuzzing (the slow test does 2,000 flips a model): both verifiers give the same verdict,
    and the Python one only ever raises NbFormatError."""
    for role in ROLES:
        data = models[role]
        mutations = nb_mutations(data, seed=1, flips=120, truncations=15, overwrites=15)
        python = [python_verdict(apply_mutation(data, m)) for m in mutations]
        path = tmp_path / f"{role}.nb"
        path.write_bytes(data)
        cpp = cpp_verdicts(nb_tool, str(path), mutations)
        disagree = [(m, p, c) for m, p, c in zip(mutations, python, cpp) if (p == "ok") != (c == "ok")]
        assert not disagree, disagree[:5]
        refused = sum(p != "ok" for p in python)
        assert 0 < refused < len(mutations), (role, refused)


@pytest.mark.slow
def test_fuzz_2000_flips_truncations_and_overwrites_of_each_model(models, nb_tool, tmp_path):
    """At least 2,000 single-byte flips plus truncations and overwrites of each model of a bundle, through both
    static verifiers in-process: same verdicts, no exception but a refusal."""
    totals = {}
    for role in ROLES:
        data = models[role]
        mutations = nb_mutations(data, seed=25, flips=2000, truncations=100, overwrites=100)
        mutations += list(header_mutations(data).values())
        python = [python_verdict(apply_mutation(data, m)) for m in mutations]
        path = tmp_path / f"{role}.nb"
        path.write_bytes(data)
        cpp = cpp_verdicts(nb_tool, str(path), mutations)
        disagree = [(m, p, c) for m, p, c in zip(mutations, python, cpp) if (p == "ok") != (c == "ok")]
        assert not disagree, disagree[:5]
        totals[role] = (len(mutations), sum(p != "ok" for p in python))
    print("\n.nb mutants (total, refused statically):", totals)


@pytest.mark.slow
def test_fuzzed_mutants_load_and_predict_without_a_signal(models, x86_bundle, img11, tmp_path):
    """The mutants both verifiers accept, loaded in a child process (what LiteEngine's probe does): a crash there is
    a refusal; a sample of those that load runs through ``edge-ocr predict`` on the bundle with the mutant in place
    and the manifest re-hashed: exit 0, 1 or 2 with one line, never a signal."""
    signals, counts = [], {}
    for role in ROLES:
        data = models[role]
        end = nb_layout(data)["params"]
        mutations = [m for m in nb_mutations(data, seed=3, flips=400, truncations=0, overwrites=40) if m[1] < end]
        accepted = [m for m in mutations if python_verdict(apply_mutation(data, m)) == "ok"][:12]
        loaded = []
        for k, mutation in enumerate(accepted):
            path = tmp_path / f"{role}-{k}.nb"
            path.write_bytes(apply_mutation(data, mutation))
            record = nb_probe.run_probe(str(path), "wheel")
            if record["ok"]:
                loaded.append(mutation)
            else:
                assert record["reason"].startswith("Paddle Lite "), record
        for k, mutation in enumerate(loaded[:2]):
            folder = mutant_bundle(x86_bundle, f"{role}.nb", apply_mutation(data, mutation),
                                   str(tmp_path / f"bundle-{role}-{k}"))
            run = predict_mutant(folder, img11, "wheel", str(tmp_path / f"cache-{role}-{k}"), timeout=600)
            if run["signal"]:
                signals.append((role, mutation, run))
            assert run["rc"] in (0, 1, 2), run
            if run["rc"]:
                assert run["last"].startswith("edge-ocr:"), run
        counts[role] = (len(accepted), len(loaded))
    assert not signals, signals
    print("\n.nb mutants accepted statically, then loaded:", counts)


# ------------------------------------------------------------------------------------------------ the probe


def test_probe_turns_a_crash_into_one_line_and_remembers_it(models, tmp_path, monkeypatch):
    from edge_ocr.engines.lite import LiteEngine

    monkeypatch.setenv("EDGE_OCR_CACHE", str(tmp_path / "cache"))
    bad = tmp_path / "det.nb"
    bad.write_bytes(align_corners_mutant(models["det"]))
    verify_nb(bad.read_bytes())  # statically fine: only loading it shows the damage
    with pytest.raises(ModelError, match=r"det\.nb: Paddle Lite crashed loading it \(SIG(ABRT|SEGV)\)"):
        LiteEngine(str(bad), runtime="wheel")
    records = os.listdir(tmp_path / "cache" / "nb-probe")
    assert len(records) == 1 and json.load(open(tmp_path / "cache" / "nb-probe" / records[0]))["ok"] is False

    def no_second_probe(*args, **kwargs):
        raise AssertionError("the verdict should have come from the cache")

    monkeypatch.setattr(nb_probe, "run_probe", no_second_probe)
    with pytest.raises(ModelError, match="crashed loading it"):
        LiteEngine(str(bad), runtime="wheel")
    good = tmp_path / "good.nb"
    good.write_bytes(models["cls"])
    monkeypatch.undo()
    monkeypatch.setenv("EDGE_OCR_CACHE", str(tmp_path / "cache"))
    LiteEngine(str(good), runtime="wheel").close()
    assert len(os.listdir(tmp_path / "cache" / "nb-probe")) == 2


def test_loose_det_model_is_verified_and_probed(models, x86_bundle, img11, tmp_path):
    """``--det-model X.nb`` has no sha256 to check: it is verified like any other, and its first load is probed."""
    env = {"EDGE_OCR_CACHE": str(tmp_path / "cache")}
    cases = {"truncated.nb": (models["det"][: len(models["det"]) // 3], "truncated or damaged"),
             "crashes.nb": (align_corners_mutant(models["det"]), "Paddle Lite crashed loading it")}
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        proc = run_cli("predict", img11, "--bundle", x86_bundle, "--det-model", str(tmp_path / name), env=env)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        errors = [line for line in proc.stderr.splitlines() if line.startswith("edge-ocr:")]
        assert len(errors) == 1 and reason in errors[0] and name in errors[0], proc.stderr


def test_probe_can_be_turned_off(models, tmp_path, monkeypatch):
    monkeypatch.setenv(nb_probe.PROBE_ENV, "0")
    monkeypatch.setenv("EDGE_OCR_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "cls.nb"
    path.write_bytes(models["cls"])
    assert nb_probe.check_loads(str(path), "wheel", "test") is None
    assert not (tmp_path / "cache" / "nb-probe").exists()


# ------------------------------------------------------------------------------------------------ ARM runtimes


@pytest.mark.arm
def test_emulated_arm_runtime_refuses_damage_itself_and_names_a_crash(arm_bundle, emulated_runtime, tmp_path):
    """The aarch64 edge_ocr_lite verifies in C++ before Paddle Lite reads a file (here without the Python check in
    front), and a load that crashes is one line naming the signal."""
    from edge_ocr.engines.lite import LiteEngine
    from edge_ocr.engines.native.emulated import EmulatedPredictor

    data = open(os.path.join(arm_bundle, "det.nb"), "rb").read()
    truncated = tmp_path / "truncated.nb"
    truncated.write_bytes(data[: len(data) - 1000])
    with pytest.raises(ModelError, match="truncated or damaged Paddle Lite model"):
        EmulatedPredictor(str(truncated), threads=1)
    bad = tmp_path / "det.nb"
    bad.write_bytes(align_corners_mutant(data))
    with pytest.raises(ModelError, match=r"Paddle Lite crashed loading it \(SIG(ABRT|SEGV)\) on the emulated ARM"):
        LiteEngine(str(bad), threads=1, runtime="qemu")


@pytest.mark.arm
@pytest.mark.slow
def test_arm_cpp_cli_refuses_damage_and_survives_a_crashing_load(arm_build, arm_bundle, img11, tmp_path):  # noqa: F811
    """The C++ CLI on ARM (cross-built, under qemu): a damaged model is refused by the C++ verifier, and a model that
    passes it but crashes Paddle Lite is loaded first in a forked child: exit 1 with one line, not a signal."""
    from tests.test_cpp_arm import SYSROOT

    det = open(os.path.join(arm_bundle, "det.nb"), "rb").read()
    rec = open(os.path.join(arm_bundle, "rec.nb"), "rb").read()
    cases = {"det.nb": (align_corners_mutant(det), "Paddle Lite crashed loading it (SIG"),
             "rec.nb": (rec[:-5000], "truncated or damaged Paddle Lite model")}
    for name, (content, reason) in cases.items():
        folder = mutant_bundle(arm_bundle, name, content, str(tmp_path / name))
        proc = subprocess.run(["qemu-aarch64", "-L", SYSROOT, os.path.join(arm_build, "edge_ocr_cli"), folder, img11,
                               "--threads", "1"], capture_output=True, text=True, timeout=900)
        errors = [line for line in proc.stderr.splitlines() if line.startswith("edge_ocr_cli: error:")]
        assert proc.returncode == 1 and len(errors) == 1 and reason in errors[0], (proc.returncode, proc.stderr[-2000:])


# ------------------------------------------------------------------------------------------------ libFuzzer


@pytest.mark.slow
def test_libfuzzer_on_the_cpp_verifier(tmp_path, models):
    """The C++ .nb check under libFuzzer with ASan and UBSan for 20 s, seeded with a real model: no crash, no
    sanitizer report, no leak, no timeout."""
    for tool in ("clang", "clang++"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing: apt-get install clang (the libFuzzer tests need it)")
    build = tmp_path / "build"
    env = {**os.environ, "CC": "clang", "CXX": "clang++"}
    for command in (["cmake", "-S", os.path.join(REPO, "android_demo", "cpp"), "-B", str(build),
                     "-DCMAKE_BUILD_TYPE=Release", "-DEDGE_OCR_FUZZ=ON"],
                    ["cmake", "--build", str(build), "--target", "fuzz_nb", "-j", "2"]):
        proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "cls.nb").write_bytes(models["cls"])
    # one allocation above 256 MB for a <= 0.6 MB input is a verifier bug (libFuzzer reports its stack); the process
    # as a whole (ASan shadow and quarantine, the growing corpus of 0.5 MB inputs) gets 4 GB
    proc = subprocess.run([str(build / "fuzz_nb"), "-max_total_time=20", "-timeout=10", "-rss_limit_mb=4096",
                           "-malloc_limit_mb=256",
                           f"-max_len={len(models['cls']) + 4096}", str(corpus)],
                          capture_output=True, text=True, timeout=300)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert "ERROR:" not in log and "runtime error" not in log, log[-3000:]
    runs = [line for line in log.splitlines() if line.startswith("Done ")]
    assert runs, log[-2000:]
    print("\nlibFuzzer fuzz_nb:", runs[-1])
