"""The wheel: one import root (edge_ocr; the checkout's quantize/ and export/ folders inside it as edge_ocr.host),
the version written once, the type marker and the data files the runtime reads."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

import pytest

import edge_ocr

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> str:
    import shutil

    out = tmp_path_factory.mktemp("wheel")
    # from the tracked files only (what a clone has), built in a copy (setuptools writes build/ beside the sources);
    # offline: the venv's setuptools and wheel (the test extra), no build isolation
    source = out / "source"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if os.path.isfile(os.path.join(ROOT, name)) and not os.path.islink(os.path.join(ROOT, name)):
            os.makedirs(source / os.path.dirname(name), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, name), source / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                           "-q", str(source), "-w", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (name,) = [n for n in os.listdir(out) if n.endswith(".whl")]
    return str(out / name)


def test_the_wheel_has_one_import_root_its_data_and_one_version(wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"edge_ocr", f"edge_ocr-{edge_ocr.__version__}.dist-info"}
    for data in ("edge_ocr/py.typed", "edge_ocr/bundle.schema.json", "edge_ocr/releases.json",
                 "edge_ocr/engines/nb_format.json", "edge_ocr/engines/native/lite_run.cc",
                 "edge_ocr/bench/estimate/calibration.json", "edge_ocr/bench/estimate/native/bbcount.c",
                 "edge_ocr/host/quantize/compress/api.py", "edge_ocr/host/export/api.py",
                 "edge_ocr/bundles/qat-distill/rec.nb", "edge_ocr/bundles/qat-distill/manifest.json"):
        assert data in names, data
    assert "edge_ocr/bundles/qat-distill/ppocr_keys_v1.txt" not in names  # the official one is used
    metadata = zipfile.ZipFile(wheel).read(f"edge_ocr-{edge_ocr.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {edge_ocr.__version__}\n" in metadata
    # installed away from the checkout, the host tools import from the wheel's edge_ocr/host, and there is no
    # top-level quantize or export
    target = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target",
                           str(target), wheel], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe = ("import importlib.util as u, json\n"
             "from edge_ocr.releases import resolve_bundle\n"
             "print(json.dumps([u.find_spec(n) and u.find_spec(n).origin for n in "
             "('edge_ocr.host.quantize.compress.config', 'edge_ocr.host.export.api', 'quantize', 'export')]"
             " + [resolve_bundle('qat-distill')[0]]))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=str(tmp_path),
                          env={**os.environ, "PYTHONPATH": str(target)}, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    import json

    config, api, quantize, export, released = json.loads(proc.stdout)
    assert config == str(target / "edge_ocr" / "host" / "quantize" / "compress" / "config.py")
    assert api == str(target / "edge_ocr" / "host" / "export" / "api.py")
    assert quantize is None and export is None
    # the released bundles are package data: resolved by name, every file checked against the registry
    # (completed in the cache with the official dictionary, which the wheel does not carry)
    from edge_ocr.models import default_cache_dir

    assert released == os.path.join(default_cache_dir(), "releases", "qat-distill")
    assert sorted(os.listdir(released)) == ["cls.nb", "det.nb", "manifest.json", "ppocr_keys_v1.txt", "rec.nb"]


def test_the_version_is_written_once():
    """pyproject.toml reads edge_ocr.__version__; no other file of the package states one."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as handle:
        text = handle.read()
    assert 'dynamic = ["version"]' in text and 'version = { attr = "edge_ocr.__version__" }' in text
    assert not os.path.exists(os.path.join(ROOT, "setup.py"))
