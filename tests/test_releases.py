"""Every released bundle in the shipped registry (edge_ocr/releases.json) as CI checks it: its files against the
registry's sha256, its manifest against the bundle contract, verified on ARM when it was added, and one emulated ARM
run (Paddle Lite's aarch64 library under qemu, the runtime it ships to) that reads img_11's three lines."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import run_cli

FULL_CHARSET_RELEASE = "qat-distill"  # the recommended bundle: pi_install.sh and the Android demo default to it
LATIN_RELEASE = "qat-distill-latin"  # the recommended bundle for Latin text: the recognizer cut to printable ASCII


def _releases():
    from edge_ocr.releases import load_releases

    return load_releases()


def test_the_recommended_release_is_shipped_checked_and_verified():
    from edge_ocr.bundle import load_bundle
    from edge_ocr.releases import check_release

    releases = _releases()
    assert FULL_CHARSET_RELEASE in releases and LATIN_RELEASE in releases, sorted(releases)
    latin = load_bundle(check_release(releases[LATIN_RELEASE]))
    assert latin.manifest["charset"]["name"] == "latin" and latin.manifest["dictionary"]["characters"] == 94
    assert releases[LATIN_RELEASE].bytes < releases[FULL_CHARSET_RELEASE].bytes
    for release in releases.values():
        folder = check_release(release)  # sha256 and size of every file, nothing extra
        bundle = load_bundle(folder)  # the manifest against the bundle contract (schema, names, sha256)
        assert bundle.target == "arm" and release.verified_on_arm.get("passed"), release.name
        assert release.recipe.get("file") and release.recipe.get("sha256") and release.recipe.get("commit")
        assert os.path.isfile(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                           release.recipe["file"])), release.recipe["file"]
        assert release.accuracy.get("icdar2015", {}).get("rec_accuracy"), release.name
    proc = run_cli("models", "list")
    assert proc.returncode == 0 and FULL_CHARSET_RELEASE in proc.stdout and LATIN_RELEASE in proc.stdout, \
        proc.stdout + proc.stderr


@pytest.mark.slow
def test_every_release_reads_img11_on_the_emulated_arm_runtime(emulated_runtime, img11, tmp_path):
    releases = _releases()
    assert releases
    for name in releases:
        out = tmp_path / f"{name}.json"
        proc = run_cli("predict", "--bundle", name, "--engine", "lite-qemu", img11, "--json", str(out))
        assert proc.returncode == 0, proc.stderr[-2000:]
        texts = [line["text"] for line in json.loads(out.read_text())[0]["lines"]]
        assert texts == ["BEWARE OF", "MAINTENANCE", "VEHICLES"], (name, texts)
