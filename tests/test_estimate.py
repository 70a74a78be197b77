"""edge-ocr bench --estimate: the block counter (qemu TCG plugin + marked runner), the llvm-mca costing, and the
estimate report's labels."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from edge_ocr.bench.estimate.cores import CORES, parse_target
from edge_ocr.errors import EdgeOCRError
from tests.conftest import run_cli


def _tools():
    from edge_ocr.bench.estimate.costing import llvm_tools

    try:
        return llvm_tools("neoverse-n1")
    except EdgeOCRError as exc:  # a prerequisite: fail, never skip
        pytest.fail(f"{exc} (scripts/setup.sh installs llvm-19)")


def test_costing_of_known_blocks():
    """llvm-mca's steady state on blocks whose cost is known from the cores' FP pipes: 8 independent 128-bit FMLAs
    take 4 cycles on the A76 (N1 model: 2 FP/ASIMD pipes) and 8 on the A72 (A57 model: a Q-form FMLA occupies
    both pipes); a chain of 4 dependent FMLAs waits 4 x the 4-cycle accumulate latency on both."""
    from edge_ocr.bench.estimate.costing import run_mca

    _, mca, _ = _tools()
    independent = [f"fmla v{i}.4s, v16.4s, v17.4s" for i in range(8)]
    chain = ["fmla v0.4s, v16.4s, v17.4s"] * 4
    n1 = run_mca([independent, chain], mca, CORES["cortex-a76"].mca_cpu)
    a57 = run_mca([independent, chain], mca, CORES["cortex-a72"].mca_cpu)
    assert n1[0] == pytest.approx(4.0, abs=0.2)
    assert a57[0] == pytest.approx(8.0, abs=0.3)
    assert n1[1] >= 15.5 and a57[1] >= 15.5


def test_disassembly_keeps_block_boundaries():
    """An encoding LLVM cannot decode becomes `.inst` in its own block instead of shifting the next blocks."""
    from edge_ocr.bench.estimate.costing import disassemble

    mc, _, _ = _tools()
    blocks = [bytes.fromhex("1f2003d5"), bytes.fromhex("5f2b03d5ffffffff"), bytes.fromhex("c0035fd6")]
    assert disassemble(blocks, mc) == [["nop"], ["hint #90", ".inst 0xffffffff"], ["ret"]]


def test_targets():
    target = parse_target("cortex-a72@1.5")
    assert (target.core.name, target.ghz) == ("cortex-a72", 1.5)
    assert parse_target("a76").ghz == CORES["cortex-a76"].default_ghz
    for bad in ("cortex-a99@1", "cortex-a72@0", "cortex-a72@x", "@@"):
        with pytest.raises(EdgeOCRError):
            parse_target(bad)


def test_bad_target_is_one_line(tmp_path, img11):
    proc = run_cli("bench", "--estimate", "cortex-a99", "--bundle", f"x={tmp_path}", "--images", img11)
    assert proc.returncode == 2, proc.stderr
    assert "unknown core 'cortex-a99'" in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def tiny_nb(models_dir, tmp_path_factory) -> str:
    """The direction classifier (a small MobileNetV3) as an ARM .nb."""
    from edge_ocr.engines.lite import convert_to_nb

    out = tmp_path_factory.mktemp("estimate") / "cls-arm.nb"
    return convert_to_nb(os.path.join(models_dir, "ch_ppocr_mobile_v2.0_cls_infer"), str(out), target="arm")


def _instructions(trace, region) -> int:
    return sum(count * trace.blocks[b].ninsns for b, count in region.counts.items())


@pytest.mark.arm
@pytest.mark.slow
def test_block_counter_counts_marked_runs_only(tiny_nb):
    """Between the markers the plugin sees one Run(): the same input gives the same count in two regions of one
    process and in a second process (model loading and the warm-up run are outside), and a wider input more."""
    from edge_ocr.bench.estimate.trace import run_trace

    core = CORES["cortex-a72"]
    first = run_trace(tiny_nb, [(1, 3, 48, 192), (1, 3, 48, 192), (1, 3, 48, 384)], core)
    again = run_trace(tiny_nb, [(1, 3, 48, 192)], core)
    a, b, wide = (_instructions(first, r) for r in first.regions)
    c = _instructions(again, again.regions[0])
    assert a > 1_000_000
    # the same work each time; allocator paths differ by a few thousand instructions between processes
    assert abs(a - b) <= 0.005 * a and abs(a - c) <= 0.005 * a, (a, b, c)
    assert wide > 1.5 * a
    lib = [base for base, path in first.objects if path.endswith("libpaddle_light_api_shared.so")]
    assert lib, first.objects
    # most of the run is Paddle Lite's own code, not the runner's
    from edge_ocr.bench.estimate.attribute import Attributor

    where = Attributor(first.objects)
    in_lite = sum(count * first.blocks[blk].ninsns for blk, count in first.regions[0].counts.items()
                  if where.locate(first.blocks[blk].vaddr)[0] == "libpaddle_light_api_shared.so")
    assert in_lite > 0.5 * a


@pytest.mark.arm
@pytest.mark.slow
def test_estimate_report_is_labelled(arm_bundle, img11, tmp_path):
    """`bench --estimate` on a small image: every latency is labelled an estimate, with its method and validation
    error, and board rows given with --merge stay in their own table."""
    import cv2

    small = tmp_path / "small.jpg"
    image = cv2.imread(img11)
    cv2.imwrite(str(small), cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4)))
    board = tmp_path / "board.json"
    board.write_text(json.dumps({"machine": {"cpu": "Raspberry Pi 4 (Cortex-A72)", "arch": "aarch64"},
                                 "results": [{"name": "fp32-board", "threads": 1,
                                              "ms": {"e2e": {"median": 1234.5}, "det": {"median": 900.0}}}]}))
    proc = run_cli("bench", "--estimate", "cortex-a72@1.5", "--bundle", f"fp32={arm_bundle}", "--images",
                   str(small), "--merge", str(board), "--out-dir", str(tmp_path), "--name", "est",
                   env={"EDGE_OCR_CACHE": str(tmp_path / "cache")})  # no cached trace: this run traces
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((tmp_path / "est.json").read_text())
    markdown = (tmp_path / "est.md").read_text()
    assert report["kind"] == "estimate"
    (entry,) = report["estimates"]
    assert entry["target"] == "cortex-a72@1.5" and entry["e2e_ms"] > 0
    det = entry["models"]["det"]
    assert det["instructions"] > 1e6 and det["ms"] > 0
    assert sum(det["families"].values()) == pytest.approx(1.0, abs=1e-6)
    assert "**Estimates, not measurements.**" in markdown and "(est.)" in markdown and "llvm-mca" in markdown
    estimates, measured = markdown.split("## Measured on boards")
    assert "1234.5" in measured and "1234.5" not in estimates
    assert np.isfinite(entry["e2e_ms"])


def test_a72_pipe_rule():
    """On the A72, widening multiplies and sadalp share one pipe: a multiply-bound block takes at least one cycle
    per such op; other blocks and other cores keep llvm-mca's cycles."""
    from edge_ocr.bench.estimate import pipe_rule_cycles

    block = ["smull v8.8h, v0.8b, v6.8b", "smlal2 v8.8h, v0.16b, v6.16b", "sadalp v16.4s, v8.8h",
             "smull v9.8h, v1.8b, v6.8b", "smlal2 v9.8h, v1.16b, v6.16b", "sadalp v17.4s, v9.8h", "b.gt #-24"]
    assert pipe_rule_cycles(CORES["cortex-a72"], block, 4.0) == 2.0
    assert pipe_rule_cycles(CORES["cortex-a72"], block, 7.0) == 0.0
    assert pipe_rule_cycles(CORES["cortex-a76"], block, 4.0) == 0.0
    fp32 = ["fmla v0.4s, v1.4s, v2.s[0]"] * 6 + ["sadalp v16.4s, v8.8h"]
    assert pipe_rule_cycles(CORES["cortex-a72"], fp32, 3.0) == 0.0


def test_non_arm_bundle_is_refused(x86_bundle, img11):
    proc = run_cli("bench", "--estimate", "cortex-a76", "--bundle", f"x={x86_bundle}", "--images", img11)
    assert proc.returncode == 2, proc.stderr
    assert "--estimate runs ARM bundles" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.arm
@pytest.mark.slow
def test_compress_estimates_the_release_against_fp32(arm_bundle, models_dir, img11, tmp_path, monkeypatch):
    """What every compress report carries: the bundle's estimated latency beside the FP32 bundle's per core, with
    the ratio, labelled an estimate with its validation error (the released int8 bundle, on a small image)."""
    import cv2

    from edge_ocr.bench.estimate.bundles import against_markdown, estimate_against
    from edge_ocr.releases import check_release, load_releases

    monkeypatch.setenv("EDGE_OCR_CACHE", str(tmp_path / "cache"))  # no cached trace: this run traces
    small = tmp_path / "small.jpg"
    image = cv2.imread(img11)
    cv2.imwrite(str(small), cv2.resize(image, (image.shape[1] // 4, image.shape[0] // 4)))
    release = check_release(load_releases()["qat-distill"])
    estimate = estimate_against(release, arm_bundle, models_dir, [str(small)], ["cortex-a72@1.5"])
    (row,) = estimate["targets"].values()
    assert estimate["estimate"] is True and estimate["threads"] == 1 and estimate["images"] == ["small.jpg"]
    for side in ("bundle", "fp32"):
        assert row[side]["det_ms"] > 0 and row[side]["e2e_ms"] >= row[side]["det_ms"]
    assert row["ratio"]["e2e"] == pytest.approx(row["bundle"]["e2e_ms"] / row["fp32"]["e2e_ms"], rel=1e-2)
    # int8 and FP32 run different kernels: different work, not a copy of one number
    assert row["bundle"]["det_instructions"] != row["fp32"]["det_instructions"]
    assert "rk3399" in row["validation"]
    markdown = against_markdown(estimate)
    assert "estimates, not measurements" in markdown and "(est.)" in markdown and "llvm-mca" in markdown
    with pytest.raises(Exception, match="cortex-a99"):
        estimate_against(release, arm_bundle, models_dir, [str(small)], ["cortex-a99"])


def test_compress_refuses_an_unknown_estimate_core():
    from edge_ocr.errors import EdgeOCRError
    from edge_ocr.host.quantize.compress.config import CompressConfig

    with pytest.raises(EdgeOCRError, match="unknown core 'cortex-a99'"):
        CompressConfig(estimate=["cortex-a99"])
    assert CompressConfig(estimate=["Cortex-A76@2.84"]).estimate == ["cortex-a76@2.84"]
