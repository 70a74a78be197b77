"""The host tools' Python API, called without the command line: evaluate, export, verify (compress runs through its
recipe in tests/test_recipes.py), and the release registry."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from edge_ocr.errors import ChecksumError, ModelError
from tests.conftest import REPO, label_subset, run_cli


def test_import_edge_ocr_loads_no_host_tool_until_asked():
    code = ("import sys, edge_ocr\n"
            "assert not {'paddle', 'quantize', 'export'} & set(sys.modules), sorted(sys.modules)\n"
            "assert callable(edge_ocr.evaluate) and not {'paddle', 'quantize', 'export'} & set(sys.modules)\n"
            "assert edge_ocr.compress.__module__ == 'edge_ocr.host.quantize.compress.api'\n"
            "assert edge_ocr.verify.__module__ == edge_ocr.export.__module__ == 'edge_ocr.host.export.api'\n"
            "assert 'paddle' not in sys.modules\n"
            "assert 'CompressConfig' in dir(edge_ocr)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.slow
def test_evaluate_from_python_matches_the_command_line(models_dir, shared, pipeline, tmp_path):
    from edge_ocr import EvalReport, evaluate

    det = label_subset(shared, "icdar2015", "test_label.txt", 2, tmp_path / "det.txt")
    rec = label_subset(shared, "ic15_rec", "rec_gt_test.txt", 6, tmp_path / "rec.txt")
    spec = f"tiny:det={det},rec={rec}"
    report = evaluate(models_dir, [spec], engine="paddle", threads=2, progress=False)
    assert isinstance(report, EvalReport)
    scores = report.headlines()["tiny"]
    assert set(scores) == {"det_hmean", "e2e_hmean", "rec_accuracy"}
    assert 0 < scores["det_hmean"] <= 1 and 0 < scores["rec_accuracy"] <= 1
    assert report.data["domains"]["tiny"]["rec"]["samples"] == 6 and report.data["settings"]["models"] == models_dir
    assert "| rec accuracy (exact) |" in report.to_markdown()
    # the same numbers through the CLI, and through a pipeline built by the caller
    proc = run_cli("eval", "--models", models_dir, "--engine", "paddle", "--domain", spec, "--json",
                   str(tmp_path / "cli.json"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    cli = json.loads((tmp_path / "cli.json").read_text())
    assert {k: v for k, v in cli["domains"]["tiny"].items() if not k.startswith("seconds")} == \
        {k: v for k, v in report.data["domains"]["tiny"].items() if not k.startswith("seconds")}
    assert evaluate(pipeline, [spec], progress=False).headlines() == report.headlines()
    with pytest.raises(TypeError, match="unknown options"):
        evaluate(models_dir, [spec], treads=2)


@pytest.mark.slow
def test_export_and_verify_from_python(models_dir, img11, tmp_path):
    from edge_ocr import ExportConfig, VerifyReport, export, verify
    from edge_ocr.errors import EdgeOCRError

    bundle = export(models_dir, str(tmp_path / "x86"), target="x86", include_cls=False)
    assert bundle.target == "x86" and set(bundle.manifest["models"]) == {"det", "rec"}
    report = verify(bundle.path, against=models_dir, samples=[img11], max_images=1)
    assert isinstance(report, VerifyReport) and report.passed, report.failed
    assert report.data["runtime"] == "wheel" and any(c["check"].startswith("rec:") for c in report.checks)
    assert "**passed**" in report.to_markdown()
    with pytest.raises(EdgeOCRError, match="weight_only_bits"):
        export(config=ExportConfig(models=models_dir, out=str(tmp_path / "y"), weight_only_bits=4))


@pytest.mark.slow
@pytest.mark.arm
def test_verify_from_python_runs_an_int8_fixture_bundle_on_arm(int8_arm_bundle, quantized, models_dir, img11,
                                                               emulated_runtime):
    from edge_ocr import verify

    report = verify(int8_arm_bundle, models_dir, [img11], quantized=quantized, max_images=1)
    assert report.data["runtime"] == "qemu" and report.data["precision"]["det"] == "int8"
    assert all(c["passed"] for c in report.checks if c["against"] == "expected"), report.failed
    assert report.passed


# ------------------------------------------------------------------------------------------------ release registry


def _fake_release(tmp_path, files: dict[str, bytes]) -> str:
    """A registry listing one release whose files are ``files`` (the registry only hashes them)."""
    folder = tmp_path / "bundles" / "demo"
    folder.mkdir(parents=True)
    entries = {}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    registry = tmp_path / "releases.json"
    registry.write_text(json.dumps({"format": 1, "root": ".", "releases": [{
        "name": "demo", "folder": "bundles/demo", "target": "arm", "precision": {"det": "int8"}, "files": entries,
        "accuracy": {"icdar2015": {"det_hmean": 0.5}}, "recipe": {"name": "tiny"}}]}))
    return str(registry)


def test_the_registry_resolves_a_release_and_refuses_a_changed_one(tmp_path):
    from edge_ocr.releases import describe, load_releases, resolve_bundle

    registry = _fake_release(tmp_path, {"manifest.json": b"{}", "det.nb": b"\x00" * 100})
    folder, release = resolve_bundle("demo", registry)
    assert folder == str(tmp_path / "bundles" / "demo") and release.bytes == 100
    assert "made by recipe tiny" in "\n".join(describe(release))
    assert resolve_bundle(str(tmp_path / "bundles" / "demo"), registry) == (str(tmp_path / "bundles" / "demo"), None)
    with pytest.raises(ModelError, match="released: demo"):
        resolve_bundle("nothing", registry)
    (tmp_path / "bundles" / "demo" / "det.nb").write_bytes(b"\x00" * 99 + b"\x01")  # same size, one byte changed
    with pytest.raises(ChecksumError, match="det.nb does not match its sha256"):
        resolve_bundle("demo", registry)
    (tmp_path / "bundles" / "demo" / "det.nb").write_bytes(b"\x00" * 100)
    (tmp_path / "bundles" / "demo" / "extra.nb").write_bytes(b"x")
    with pytest.raises(ChecksumError, match="extra.nb is not part of it"):
        resolve_bundle("demo", registry)
    os.remove(tmp_path / "bundles" / "demo" / "extra.nb")
    os.remove(tmp_path / "bundles" / "demo" / "det.nb")
    with pytest.raises(ChecksumError, match="det.nb is missing"):
        resolve_bundle("demo", registry)
    assert list(load_releases(registry)) == ["demo"]


@pytest.mark.parametrize("change, message", [
    (lambda r: r["releases"][0].update(folder="../outside"), "inside the registry's root"),
    (lambda r: r["releases"][0]["files"].pop("manifest.json"), "manifest.json included"),
    (lambda r: r["releases"].append(dict(r["releases"][0])), "listed twice"),
    (lambda r: r.update(format=9), "expected"),
])
def test_a_malformed_registry_is_refused(tmp_path, change, message):
    from edge_ocr.releases import load_releases

    registry = _fake_release(tmp_path, {"manifest.json": b"{}"})
    data = json.loads(open(registry).read())
    change(data)
    with open(registry, "w") as handle:
        json.dump(data, handle)
    with pytest.raises(ModelError, match=message):
        load_releases(registry)


def test_the_shipped_registry_lists_only_releases_whose_files_are_committed():
    from edge_ocr.releases import check_release, load_releases

    for release in load_releases().values():  # empty until a recipe's bundle is released and run on ARM
        assert check_release(release) and release.verified_on_arm.get("passed"), release.name
    proc = run_cli("models", "list")
    assert proc.returncode == 0 and "released bundles" in proc.stdout


@pytest.mark.slow
def test_the_same_models_export_to_the_same_bytes(models_dir, tmp_path):
    """opt leaves stack bytes after its version string; export clears them, so a model gives one .nb (a recipe run
    twice on the same trained models ships identical files; only the manifest's "created" differs)."""
    from edge_ocr import export

    first, second = (export(models_dir, str(tmp_path / name), target="arm", include_cls=False) for name in "ab")
    for name in ("det.nb", "rec.nb"):
        with open(os.path.join(first.path, name), "rb") as a, open(os.path.join(second.path, name), "rb") as b:
            data = a.read()
            assert data == b.read(), name
        assert data[2:18] == b"v2.13-rc" + bytes(8)
    assert first.manifest["files"] == second.manifest["files"]
