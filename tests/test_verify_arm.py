"""``edge-ocr verify`` runs the ARM bundle itself (here under qemu-aarch64) and catches tampering on that path."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from edge_ocr.bundle import write_manifest
from edge_ocr.models import sha256_file
from tests.conftest import run_cli


def _one_line(proc) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("edge-ocr:")]
    assert proc.returncode != 0 and lines and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    return lines[-1]


def _rehash(bundle) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name] = sha256_file(str(bundle / name))
    write_manifest(str(bundle), manifest)


def test_int8_arm_bundle_verifies_on_the_arm_runtime(emulated_runtime, int8_arm_bundle, quantized, models_dir,
                                                     img11, tmp_path):
    # this fixture is calibrated on 12 crops: what it costs against FP32 is reported, and gates only with
    # --gate-fp32 (here with its text-change limits lifted); the limits against its own quantized models gate
    proc = run_cli("verify", int8_arm_bundle, "--against", models_dir, "--quantized", quantized,
                   "--samples", img11, "--gate-fp32", "--limit", "fp32.rec_line_change=1",
                   "--limit", "fp32.rec_sure_change=1",
                   "--json", str(tmp_path / "v.json"), "--markdown", str(tmp_path / "v.md"))
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["runtime"] == "qemu" and report["emulated"] and report["precision"]["rec"] == "int8"
    expected = report["stats"]["expected"]
    assert expected["det"]["flipped"] / expected["det"]["pixels"] < 0.002
    assert expected["rec"]["lines"] >= 3 and expected["cls"]["crops"] >= 3
    assert report["thresholds"]["fp32"]["rec_line_change"] == 1.0 and report["gate"] == "every check"
    # with --gate-fp32 every check gates, except the 4 det ones (any-reason box misses and corner moves, 2 sides)
    # that only report what the reference was unsure of
    assert all(c["gates"] != c.get("reported_only", False) for c in report["checks"])
    assert sum(c.get("reported_only", False) for c in report["checks"]) == 4
    assert "| expected | rec: share of lines whose text changes |" in (tmp_path / "v.md").read_text()
    assert "although the reference was sure" in (tmp_path / "v.md").read_text()


def test_rec_line_comparison_tells_rounding_from_a_sure_change():
    """A line the reference read with a small margin may change (int8 rounding on another CPU); a line it was sure
    of must not: only the second is a sure change."""
    from edge_ocr.host.export.verify import SURE_GAP, compare_lines

    charset = ["blank", "a", "b", "c"]

    def line(*frames):  # frames as (class, probability of that class; the rest shared by the others)
        probs = np.full((len(frames), 4), 0.0, np.float32)
        for t, (cls, p) in enumerate(frames):
            probs[t] = (1 - p) / 3
            probs[t, cls] = p
        return probs

    theirs = np.stack([line((1, 0.99), (0, 0.9), (2, 0.95)),    # "ab", sure
                       line((1, 0.99), (0, 0.9), (2, 0.40)),    # "ab", the b barely
                       line((3, 0.97), (0, 0.9), (3, 0.97))])   # "cc"
    same = compare_lines(theirs, theirs.copy(), charset)
    assert same["changed_lines"] == 0 and same["sure_changes"] == 0
    mine = theirs.copy()
    mine[1, 2] = line((3, 0.45))[0]  # rounding: the b that had 0.40 becomes a c that the reference gave 0.2
    mine[2, 2] = line((1, 0.9))[0]   # a sure c becomes an a
    result = compare_lines(theirs, mine, charset)
    assert result["changed_lines"] == 2 and result["changed_chars"] == 2
    assert result["sure_changes"] == 1 and result["largest_gap_of_a_change"] >= SURE_GAP
    broken = compare_lines(theirs, np.full_like(theirs, np.nan), charset)  # NaN outputs read as changes
    assert broken["changed_lines"] == 3 and broken["sure_changes"] == 3


def test_det_comparison_tells_a_merge_at_the_threshold_from_a_sure_change():
    """Two words whose gap the reference scored just under the threshold: a bundle that merges them through that gap
    is reported (the reference was unsure there); one that merges them through a gap the reference was sure of, or
    loses a word it was sure of, is a sure change."""
    from edge_ocr.config import DetParams
    from edge_ocr.det import boxes_from_prob_map
    from edge_ocr.host.export.verify import DET_SURE_MARGIN, match_boxes, sure_box_changes

    params = DetParams()
    shape = (200, 400, 3)  # the image; the map is at half its size

    def prob_map(gap: float, second: float = 0.95) -> np.ndarray:
        prob = np.full((100, 200), 0.01, np.float32)
        prob[40:60, 20:90] = 0.95
        prob[40:60, 96:170] = second
        prob[44:56, 90:96] = gap
        return prob

    def compare(theirs: np.ndarray, mine: np.ndarray) -> dict:
        ref_boxes, _ = boxes_from_prob_map(theirs, params, shape[1], shape[0])
        my_boxes, _ = boxes_from_prob_map(mine, params, shape[1], shape[0])
        flips = (theirs > params.thresh) != (mine > params.thresh)
        sure = np.abs(theirs - params.thresh) >= DET_SURE_MARGIN
        matched = match_boxes(list(ref_boxes), list(my_boxes))
        return {"ref_boxes": len(ref_boxes), "boxes": len(my_boxes),
                **sure_box_changes(list(ref_boxes), matched["outcomes"], flips & sure, shape)}

    assert compare(prob_map(0.28), prob_map(0.28)) == {"ref_boxes": 2, "boxes": 2, "sure_lost_boxes": 0,
                                                       "unsure_lost_boxes": 0, "sure_moved_boxes": 0,
                                                       "max_sure_corner_move_rel": 0.0}
    at_the_edge = compare(prob_map(0.28), prob_map(0.32))  # merged through pixels 0.02 from the threshold
    assert at_the_edge["boxes"] == 1 and at_the_edge["sure_lost_boxes"] == 0 and at_the_edge["unsure_lost_boxes"] == 2
    sure_gap = compare(prob_map(0.02), prob_map(0.9))  # merged through a gap the reference was sure of
    assert sure_gap["boxes"] == 1 and sure_gap["sure_lost_boxes"] == 2
    lost = compare(prob_map(0.02), prob_map(0.02, second=0.05))  # a sure word vanished
    assert lost["boxes"] == 1 and lost["sure_lost_boxes"] == 1 and lost["unsure_lost_boxes"] == 0


def test_int8_bundle_needs_its_quantized_models(int8_arm_bundle, models_dir, img11):
    assert "give --quantized" in _one_line(run_cli("verify", int8_arm_bundle, "--against", models_dir,
                                                   "--samples", img11))


def test_int8_bundle_without_an_arm_runtime_fails_in_one_line(int8_arm_bundle, quantized, models_dir, img11,
                                                              tmp_path):
    proc = run_cli("verify", int8_arm_bundle, "--against", models_dir, "--quantized", quantized, "--samples", img11,
                   env={"EDGE_OCR_LITE_RUNNER": str(tmp_path / "none")})
    assert "cannot run this int8 ARM bundle here" in _one_line(proc)


def test_reference_must_be_the_bundles_source(int8_arm_bundle, models_dir, img11):
    # the FP32 models are not what an int8 bundle was exported from
    proc = run_cli("verify", int8_arm_bundle, "--against", models_dir, "--quantized", models_dir, "--samples", img11)
    assert "was not exported from the quantized models" in _one_line(proc)


@pytest.mark.parametrize("model", ["det.nb", "cls.nb", "rec.nb"])
def test_a_changed_byte_in_any_model_is_caught(int8_arm_bundle, quantized, models_dir, img11, tmp_path, model):
    bundle = shutil.copytree(int8_arm_bundle, tmp_path / "b")
    with open(bundle / model, "r+b") as handle:
        handle.seek(-200, 2)
        byte = handle.read(1)
        handle.seek(-200, 2)
        handle.write(bytes([byte[0] ^ 0xFF]))
    proc = run_cli("verify", str(bundle), "--against", models_dir, "--quantized", quantized, "--samples", img11)
    assert "sha256" in _one_line(proc)


def test_a_manifest_naming_a_file_outside_the_bundle_is_refused(int8_arm_bundle, quantized, models_dir, img11,
                                                                tmp_path):
    bundle = shutil.copytree(int8_arm_bundle, tmp_path / "b")
    shutil.copy(bundle / "rec.nb", tmp_path / "rec.nb")
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["models"]["rec"]["file"] = "../rec.nb"
    write_manifest(str(bundle), manifest)
    proc = run_cli("verify", str(bundle), "--against", models_dir, "--quantized", quantized, "--samples", img11)
    line = _one_line(proc)
    assert "rec" in line and "inside the bundle" in line and "../rec.nb" in line


def test_a_bundle_built_for_x86_posing_as_arm_is_refused(emulated_runtime, arm_bundle, x86_bundle, models_dir,
                                                         img11, tmp_path):
    bundle = shutil.copytree(arm_bundle, tmp_path / "b")
    for name in ("det.nb", "cls.nb", "rec.nb"):
        shutil.copy(f"{x86_bundle}/{name}", bundle / name)
    _rehash(bundle)
    proc = run_cli("verify", str(bundle), "--against", models_dir, "--samples", img11)
    assert "built for X86" in _one_line(proc)


def test_a_wrong_dictionary_fails_on_the_arm_path(emulated_runtime, arm_bundle, models_dir, img11, tmp_path):
    bundle = shutil.copytree(arm_bundle, tmp_path / "b")
    keys = bundle / "ppocr_keys_v1.txt"
    chars = keys.read_text(encoding="utf-8").splitlines()
    chars[10], chars[11] = chars[11], chars[10]
    keys.write_text("\n".join(chars) + "\n", encoding="utf-8")
    _rehash(bundle)
    proc = run_cli("verify", str(bundle), "--against", models_dir, "--samples", img11, "--max-images", "1",
                   "--json", str(tmp_path / "v.json"))
    assert "dictionary matches the source models'" in _one_line(proc)
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["runtime"] == "qemu"
    assert [c["check"] for c in report["checks"] if not c["passed"]] == ["dictionary matches the source models'"]


def test_fp32_arm_bundle_falls_back_to_its_x86_twin_without_an_arm_runtime(arm_bundle, models_dir, img11, tmp_path):
    proc = run_cli("verify", arm_bundle, "--against", models_dir, "--samples", img11, "--json",
                   str(tmp_path / "v.json"), env={"EDGE_OCR_LITE_RUNNER": str(tmp_path / "none")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "v.json").read_text())["runtime"] == "x86-twin"
