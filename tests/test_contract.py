"""The bundle contract (edge_ocr/contract.py): one schema from config.py's rules, the generated files up to date, the
Python checks and the schema in agreement, and the det input bounded by the memory it implies (issue #25, class 3).
The C++ core's side: tests/test_cpp_contract.py."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os

import numpy as np
import pytest

from edge_ocr import contract
from edge_ocr.bundle import validate_manifest
from edge_ocr.config import _RULES, MAX_DET_PIXELS, MAX_DET_SIDE, MAX_DET_SIDE_LEN, DetParams, PipelineParams
from edge_ocr.det import resize_for_det
from edge_ocr.schema_check import check


def test_generated_files_are_up_to_date():
    """bundle.schema.json and the C++ header are what the generator writes now (run `python -m edge_ocr.contract`
    after changing config.py's rules or the manifest rules)."""
    for path, text in contract.generated_files().items():
        with open(path, encoding="utf-8") as handle:
            assert handle.read() == text, f"{path} is out of date: run python -m edge_ocr.contract"


def test_schema_file_is_the_generators_output_and_valid_json():
    with open(contract.SCHEMA_PATH, encoding="utf-8") as handle:
        assert json.load(handle) == contract.bundle_schema()


def test_every_parameter_has_one_rule_and_its_default_in_the_schema():
    params = contract.bundle_schema()["properties"]["params"]["properties"]
    defaults = PipelineParams().to_dict()
    names = set()
    for section, rule in params.items():
        if rule.get("type") == "object":
            for name, sub in rule["properties"].items():
                names.add(f"{section}.{name}")
                assert sub["default"] == json.loads(json.dumps(defaults[section][name]))
        else:
            names.add(section)
            assert rule["default"] == defaults[section]
    assert names == set(_RULES)


def test_cpp_header_carries_the_defaults_and_limits():
    header = contract.cpp_header()
    assert "inline constexpr int kDefaultDetLimitSideLen = 960;" in header
    assert "inline constexpr int kDefaultRecBatchSize = 6;" in header
    assert 'inline constexpr std::array<const char*, 2> kDefaultClsLabels{"0", "180"};' in header
    assert f"inline constexpr int64_t kLimitMaxDetPixels = {MAX_DET_PIXELS};" in header
    text = header.split('R"schema(')[1].split(')schema"')[0]
    assert json.loads(text) == contract.bundle_schema()


# Values each rule must refuse, and one it must accept, by kind of rule.
_HOSTILE = [None, "1", True, [], {}, float("nan"), float("inf"), -1e300, 1e300, 2**70, -(2**70), 0, -1, 0.5]


@pytest.mark.parametrize("name", sorted(_RULES))
def test_validate_and_the_manifest_schema_agree_on_every_rule(name, tmp_path):
    """PipelineParams.validate (flags, the API) and the manifest's schema (bundles, and the C++ core reading the same
    schema) accept and refuse the same values, with the same reason."""
    section, _, field = name.rpartition(".")
    manifest_schema = contract.bundle_schema()
    for value in _HOSTILE + [PipelineParams().to_dict()[section][field] if section else None]:
        params = PipelineParams()
        setattr(getattr(params, section) if section else params, field, value)
        try:
            params.validate()
            by_validate = None
        except ValueError as exc:
            by_validate = str(exc)
        data = json.loads(json.dumps(PipelineParams().to_dict()))
        (data[section] if section else data)[field] = value
        try:
            check(manifest_schema["properties"]["params"], data, "params", root=manifest_schema)
            by_schema = None
        except ValueError as exc:
            by_schema = str(exc)
        assert (by_validate is None) == (by_schema is None), (name, value, by_validate, by_schema)
        if by_validate:
            assert by_schema == "params." + by_validate


def test_batch_size_zero_and_oversized_det_input_are_refused():
    for edit, message in [
        (lambda p: setattr(p.rec, "batch_size", 0), "rec.batch_size must be an integer from 1 to 256, not 0"),
        (lambda p: setattr(p.cls, "batch_size", 0), "cls.batch_size must be an integer from 1 to 256, not 0"),
        (lambda p: setattr(p.det, "limit_side_len", 4096), f"det.limit_side_len must be an integer from 32 to "
                                                           f"{MAX_DET_SIDE_LEN}, not 4096"),
    ]:
        params = PipelineParams()
        edit(params)
        with pytest.raises(ValueError) as info:
            params.validate()
        assert str(info.value) == message


def _manifest() -> dict:
    return {
        "format_version": 1, "target": "x86", "opt_version": "v2.13-rc",
        "models": {role: {"file": f"{role}.nb", "precision": "fp32"} for role in ("det", "cls", "rec")},
        "dictionary": {"file": "keys.txt"},
        "params": PipelineParams().to_dict(),
        "files": {name: "0" * 64 for name in ("det.nb", "cls.nb", "rec.nb", "keys.txt")},
    }


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("models/det/file", "../det.nb", 'models.det.file must be a file name inside the bundle folder, not '
                                         '"../det.nb"'),
        ("models/det/file", "/etc/passwd", "models.det.file must be a file name inside the bundle folder"),
        ("models/det/file", "sub/det.nb", "models.det.file must be a file name inside the bundle folder"),
        ("models/det/file", "manifest.json", "models.det.file must be a file name inside the bundle folder"),
        ("dictionary/file", "x" * 256, "dictionary.file must be a file name inside the bundle folder, not a string "
                                       "of 256 bytes"),
        ("files/..", "0" * 64, 'a key of files must be a file name inside the bundle folder, not ".."'),
        ("files/det.nb", "0" * 63, 'files["det.nb"] must be a lowercase hex sha256'),
        ("files/det.nb", "A" * 64, 'files["det.nb"] must be a lowercase hex sha256'),
        ("params/rec/batch_size", 0, "params.rec.batch_size must be an integer from 1 to 256, not 0"),
        ("params/rec/batch_size", 6.0, "params.rec.batch_size must be an integer, not a number"),
        ("params/det/limit_type", "huge", "params.det.limit_type must be one of max, min, resize_long, not \"huge\""),
        ("params/det/mean", [0.1, 0.2], "params.det.mean must be a list of 3, not a list of 2"),
        ("params/cls/image_shape", [1, 48, 192], "params.cls.image_shape[0] must be 3, not 1"),
        ("params/det/bogus", 1, 'params.det has unknown key(s) "bogus"'),
        ("models/det/weight_only_bits", 8.0, "models.det.weight_only_bits must be one of 0, 8, 16, not 8.0"),
        ("format_version", 2, "format_version must be an integer from 1 to 1, not 2"),
        ("target", "", "target is empty"),
        ("models/det/file", "det\n.nb", 'models.det.file "det\\n.nb" is not listed in files'),
    ],
)
def test_manifest_reasons(path, value, message):
    manifest = _manifest()
    *parents, last = path.split("/")
    node = manifest
    for key in parents:
        node = node[key]
    node[last] = value
    with pytest.raises(ValueError) as info:
        validate_manifest(manifest)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_missing_params_take_the_schema_defaults():
    manifest = _manifest()
    manifest["params"] = {"det": {"thresh": 0.25}}
    validate_manifest(manifest)
    params = PipelineParams.from_dict(manifest["params"])
    assert params.det.thresh == 0.25 and params.det.box_thresh == DetParams().box_thresh and params.rec.batch_size == 6


def test_unknown_top_level_keys_stay_allowed():
    manifest = _manifest()
    manifest["charset"] = {"name": "latin"}
    validate_manifest(copy.deepcopy(manifest))


@pytest.mark.parametrize("limit_type", ["max", "min", "resize_long"])
@pytest.mark.parametrize("shape", [(720, 1280), (1000, 1000), (300, 12000), (12000, 300), (40, 40), (8000, 6000)])
def test_det_input_stays_within_the_pixel_and_side_caps(limit_type, shape):
    """Whatever the limit type, the largest limit_side_len and the image's shape, the det input's area stays within
    MAX_DET_PIXELS (plus the rounding to multiples of 32) and its sides within MAX_DET_SIDE."""
    params = dataclasses.replace(DetParams(), limit_type=limit_type, limit_side_len=MAX_DET_SIDE_LEN)
    resized, _, _ = resize_for_det(np.zeros(shape + (3,), np.uint8), params)
    h, w = resized.shape[:2]
    assert max(h, w) <= MAX_DET_SIDE + 16
    assert h * w <= (math.isqrt(MAX_DET_PIXELS) + 16) ** 2, (h, w)


def test_default_det_sizes_are_unchanged():
    """The caps never touch PaddleOCR's defaults on ordinary photos."""
    resized, _, _ = resize_for_det(np.zeros((720, 1280, 3), np.uint8), DetParams())
    assert resized.shape[:2] == (544, 960)
    params = dataclasses.replace(DetParams(), limit_type="min", limit_side_len=736)
    resized, _, _ = resize_for_det(np.zeros((720, 1280, 3), np.uint8), params)
    assert resized.shape[:2] == (736, 1312)


_PEAK = ("import resource, subprocess, sys\n"
         "code = subprocess.run(sys.argv[1:], capture_output=True).returncode\n"
         "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")


@pytest.mark.slow
def test_largest_det_input_stays_under_1_5_gb(x86_bundle, img11, tmp_path):
    """Issue #25, class 3: a manifest with limit_type "min" and the largest limit_side_len on img_11 (4.04 GB with
    4096 before the cap), and --det-limit-side-len at the cap on a 64 MP photo (7.23 GB with 4096 on Lite): one whole
    `edge-ocr predict` each, peak RSS under 1.5 GB. 4096 itself is refused before any work."""
    import shutil
    import subprocess
    import sys

    import cv2

    from edge_ocr.bundle import MANIFEST

    bundle = str(tmp_path / "min")
    shutil.copytree(x86_bundle, bundle)
    with open(os.path.join(bundle, MANIFEST)) as handle:
        manifest = json.load(handle)
    manifest["params"]["det"].update(limit_type="min", limit_side_len=MAX_DET_SIDE_LEN)
    with open(os.path.join(bundle, MANIFEST), "w") as handle:
        json.dump(manifest, handle)
    big = str(tmp_path / "big.jpg")
    cv2.imwrite(big, cv2.resize(cv2.imread(img11), (8000, 8000)), [cv2.IMWRITE_JPEG_QUALITY, 80])
    cli = [sys.executable, "-m", "edge_ocr", "predict"]
    runs = {"min": cli + [img11, "--bundle", bundle],
            "64 MP": cli + [big, "--bundle", x86_bundle, "--det-limit-side-len", str(MAX_DET_SIDE_LEN)],
            "4096": cli + [big, "--bundle", x86_bundle, "--det-limit-side-len", "4096"]}
    for name, args in runs.items():
        out = subprocess.run([sys.executable, "-c", _PEAK, *args], capture_output=True, text=True, timeout=600)
        code, peak_kb = map(int, out.stdout.split())
        print(f"\npredict, {name}: exit {code}, peak RSS {peak_kb / 1024:.0f} MiB")
        assert code == (2 if name == "4096" else 0)
        assert peak_kb * 1024 < 1.5e9
