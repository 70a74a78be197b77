"""Bundles: manifest content and round trip, targets, refusals."""

import json
import os

import numpy as np
import pytest

from edge_ocr.bundle import load_bundle
from edge_ocr.config import PipelineParams
from edge_ocr.engines.lite import inspect_nb
from edge_ocr.errors import EdgeOCRError
from tests.conftest import run_cli


def test_export_writes_the_params_it_is_given(models_dir, tmp_path):
    """Non-default parameters travel in the manifest and come back (defaults alone would pass if ignored)."""
    from edge_ocr.host.export.bundle import export_bundle

    params = PipelineParams()
    params.det.box_thresh, params.det.limit_side_len, params.rec.drop_score = 0.55, 736, 0.3
    params.cls.thresh, params.crop.rotate_ratio, params.use_cls = 0.8, 2.0, False
    out = export_bundle(models_dir, str(tmp_path / "b"), target="x86", params=params, include_cls=False)
    assert load_bundle(out).params == params != PipelineParams()


def test_manifest_round_trip(x86_bundle, models_dir):
    bundle = load_bundle(x86_bundle)
    m = bundle.manifest
    assert m["target"] == "x86" and m["opt_version"].startswith("v2.13")
    assert set(m["models"]) == {"det", "cls", "rec"}
    assert m["models"]["rec"]["input"]["shape"] == [-1, 3, 32, -1]
    assert m["models"]["det"]["precision"] == "fp32"
    assert m["dictionary"]["classes"] == 6625
    assert bundle.params == PipelineParams()
    assert set(m["files"]) == {"det.nb", "cls.nb", "rec.nb", "ppocr_keys_v1.txt"}
    src = m["models"]["det"]["source"]["inference.pdiparams"]
    assert src == "e3ea67f672a00088ad73929bd807ab720f6a311be0e9816ecdd42ec28a8a322f"


def test_arm_bundle_kernels_are_arm(arm_bundle):
    info = inspect_nb(os.path.join(arm_bundle, "det.nb"))
    assert info.device_target == "arm"
    assert load_bundle(arm_bundle).manifest["models"]["rec"]["kernel_targets"].get("arm", 0) > 0


def test_edited_manifest_params_are_validated(x86_bundle, tmp_path):
    import shutil

    copy = shutil.copytree(x86_bundle, tmp_path / "b")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["params"]["det"]["nonsense"] = 1
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EdgeOCRError, match="nonsense"):
        load_bundle(str(copy))


def test_export_refuses_to_overwrite_a_non_bundle(models_dir, tmp_path):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("precious")
    proc = run_cli("export", "--models", models_dir, "--target", "x86", "--out", str(target))
    assert proc.returncode != 0 and "not a bundle" in proc.stderr
    assert (target / "notes.txt").read_text() == "precious"


def test_export_bad_model_folder(tmp_path):
    proc = run_cli("export", "--models", str(tmp_path), "--target", "x86", "--out", str(tmp_path / "o"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no det model folder with inference.pdmodel and inference.pdiparams" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_unread_attrs_are_dropped_and_the_arm_nb_computes_the_same(quantized, shared, tmp_path, emulated_runtime):
    """opt copies every op attribute into the .nb; those Paddle Lite never reads (oneDNN/cuDNN switches, graph
    bookkeeping) and the weights' PaddleSlim ranges (``Y0_threshold``: opt keeps the scales it derives) are left out
    by default. The int8 ARM .nb files must be smaller and compute bit for bit the same;
    what they keep must still be all that opt and the kernels need."""
    from edge_ocr.cls import resize_norm_padded
    from edge_ocr.engines.lite import LiteEngine, convert_to_nb
    from edge_ocr.program import UNREAD_BY_LITE, load_program_desc, write_program_without
    from tests.conftest import word_crops

    crops = word_crops(shared, 3)
    batches = {"cls": np.stack([resize_norm_padded(c, 48, 192) for c in crops]
                               + [resize_norm_padded(c[::-1, ::-1], 48, 192) for c in crops]).astype(np.float32),
               "rec": np.stack([resize_norm_padded(c, 32, 320) for c in crops]).astype(np.float32)}
    for role, batch in batches.items():
        model = os.path.join(quantized, role)
        before = {a.name for b in load_program_desc(model).blocks for op in b.ops for a in op.attrs}
        assert {"op_callstack", "use_mkldnn", "op_role"} <= before
        dropped = write_program_without(os.path.join(model, "inference.pdmodel"), str(tmp_path / "stripped.pdmodel"))
        assert dropped > 100
        outputs, sizes = {}, {}
        for keep in (True, False):
            nb = convert_to_nb(model, str(tmp_path / f"{role}-keep-{keep}.nb"), target="arm", keep_attrs=keep)
            sizes[keep] = os.path.getsize(nb)
            engine = LiteEngine(nb, threads=1, runtime="qemu")
            try:
                outputs[keep] = engine.run(batch)
            finally:
                engine.close()
            with open(nb, "rb") as handle:
                data = handle.read()
            present = {name for name in UNREAD_BY_LITE if name.encode() in data}
            assert bool(present) == keep, present
            if not keep:  # (opt carries it into QAT models' .nb files; PTQ's lose it in opt anyway)
                assert b"Y0_threshold" not in data
        assert np.array_equal(outputs[True], outputs[False]), role
        assert sizes[False] < sizes[True] - 40_000, (role, sizes)


def test_compacted_program_reads_back_the_same_and_keeps_the_weights(x86_bundle, models_dir, tmp_path):
    """edge_ocr.host.export.nb_compact: every table, vector and string of the program read back field for field; the
    weights' bytes untouched; a file of another format is refused, not rewritten."""
    from edge_ocr.host.export.bundle import export_bundle
    from edge_ocr.host.export.nb_compact import HEADER, NbFormatError, compact_nb, compact_nb_bytes, read_program

    assert load_bundle(x86_bundle).manifest["models"]["cls"]["program_compacted"] is True  # export's default
    plain = export_bundle(models_dir, str(tmp_path / "plain"), target="x86", compact_program=False)
    with open(os.path.join(plain, "cls.nb"), "rb") as handle:
        original = handle.read()
    out, result = compact_nb_bytes(original)
    assert result.program_after < 0.6 * result.program_before, result
    assert read_program(out) == read_program(original)
    size = HEADER.unpack_from(original)[2]
    assert out[HEADER.size + result.program_after :] == original[HEADER.size + size :]  # the weights, byte for byte
    with open(os.path.join(x86_bundle, "cls.nb"), "rb") as handle:
        written = handle.read()  # what export wrote (the bytes after opt's version string's NUL are its garbage)
    assert written[HEADER.size - 8 :] == out[HEADER.size - 8 :]
    # one kernel per op still (each distinct kernel name is stored once now)
    plain_info = inspect_nb(os.path.join(plain, "cls.nb"))
    assert inspect_nb(os.path.join(x86_bundle, "cls.nb")).ops == plain_info.ops and sum(plain_info.ops.values()) > 20
    broken = tmp_path / "other.nb"
    broken.write_bytes(b"\x01\x00" + original[2:])
    with pytest.raises(NbFormatError, match="format 1 is not one"):
        compact_nb(str(broken))
    assert broken.read_bytes() == b"\x01\x00" + original[2:]


def test_compacted_weight_only_recognizer_runs_the_same_on_arm(quantized, shared, tmp_path, emulated_runtime):
    """The case that shaped the compaction: a recognizer whose FP32 weights opt packs in int16 does not load when a
    variable's name is shared between its VarDesc and an op's argument; strings are shared per kind of field only.
    The compacted .nb (without the calibration thresholds, too) must load and compute bit for bit what opt's own
    does."""
    from edge_ocr.cls import resize_norm_padded
    from edge_ocr.engines.lite import LiteEngine, convert_to_nb
    from edge_ocr.host.export.nb_compact import compact_nb
    from tests.conftest import word_crops

    batch = np.stack([resize_norm_padded(c, 32, 320) for c in word_crops(shared, 2)]).astype(np.float32)
    plain = convert_to_nb(os.path.join(quantized, "rec"), str(tmp_path / "plain.nb"), target="arm", weight_only=True,
                          weight_bits=16)
    compacted = str(tmp_path / "compacted.nb")
    with open(plain, "rb") as src, open(compacted, "wb") as dst:
        dst.write(src.read())
    result = compact_nb(compacted)
    assert result.bytes_after < result.bytes_before - 50_000, result
    with open(compacted, "rb") as handle:
        data = handle.read()
    assert b"out_threshold" not in data and b"hard_swish_threshold" in data  # calibration only; op parameters stay
    outputs = []
    for nb in (plain, compacted):
        engine = LiteEngine(nb, threads=1, runtime="qemu")
        try:
            outputs.append(engine.run(batch))
        finally:
            engine.close()
    assert np.array_equal(outputs[0], outputs[1])
