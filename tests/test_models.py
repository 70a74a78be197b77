"""Model registry: pulling from a mirror, checksum failures leaving nothing behind, safe tar extraction."""

import io
import os
import tarfile

import pytest

from edge_ocr.errors import ChecksumError, ModelError
from edge_ocr.models import MODEL_SETS, STAMP, pull, resolve_models, safe_extract, verify
from tests.conftest import copy_models


def test_registry_matches_shared_checksums(shared):
    listed = {}
    with open(os.path.join(shared, "SHA256SUMS")) as handle:
        for line in handle:
            digest, path = line.split(maxsplit=1)
            listed[path.strip().removeprefix("./models/ppocrv2/")] = digest
    for artifact in MODEL_SETS["ppocrv2"]:
        for rel, digest in artifact.sha256.items():
            assert listed[rel] == digest, rel


def test_pull_from_mirror_installs_and_verifies(models_dir, tmp_path):
    folder = pull(mirror=models_dir, cache=str(tmp_path))
    assert folder == str(tmp_path / "ppocrv2")
    assert os.path.isfile(os.path.join(folder, STAMP))
    verify(folder)
    paths = resolve_models(folder)
    assert paths.det.endswith("ch_PP-OCRv2_det_infer") and paths.dictionary.endswith("ppocr_keys_v1.txt")
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []  # no staging left over
    assert pull(mirror=models_dir, cache=str(tmp_path)) == folder  # second call is a no-op


def test_pull_racing_another_process_uses_its_install(models_dir, tmp_path, monkeypatch):
    """Two commands pulling at once: the one that renames second finds the set installed and keeps it."""
    import shutil

    import edge_ocr.models as models

    def other_process_wins(staging: str, final: str) -> str:
        shutil.copytree(staging, final)  # the other process's complete install lands first ...
        raise OSError(39, "Directory not empty")  # ... so our rename onto it fails, as os.replace does

    monkeypatch.setattr(models, "replace_dir", other_process_wins)
    folder = pull(mirror=models_dir, cache=str(tmp_path))
    verify(folder)
    assert [n for n in os.listdir(tmp_path) if n.startswith(".")] == []


def test_checksum_mismatch_leaves_nothing(models_dir, tmp_path):
    mirror = copy_models(models_dir, str(tmp_path / "mirror"))
    params = os.path.join(mirror, "ch_PP-OCRv2_rec_infer", "inference.pdiparams")
    with open(params, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError, match="ch_PP-OCRv2_rec_infer/inference.pdiparams"):
        pull(mirror=mirror, cache=str(cache))
    assert os.listdir(cache) == []


def test_mirror_of_tars(models_dir, tmp_path):
    mirror = tmp_path / "tars"
    mirror.mkdir()
    for artifact in MODEL_SETS["ppocrv2"]:
        if artifact.is_tar:
            with tarfile.open(mirror / f"{artifact.name}.tar", "w") as archive:
                archive.add(os.path.join(models_dir, artifact.name), arcname=artifact.name)
        else:
            (mirror / artifact.name).write_bytes(open(os.path.join(models_dir, artifact.name), "rb").read())
    verify(pull(mirror=str(mirror), cache=str(tmp_path / "cache")))


def _tar_with(tmp_path, member: tarfile.TarInfo, data: bytes = b"x") -> str:
    path = tmp_path / "evil.tar"
    with tarfile.open(path, "w") as archive:
        archive.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return str(path)


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape.txt", "a/../../b.txt"])
def test_tar_refuses_unsafe_paths(tmp_path, name):
    info = tarfile.TarInfo(name)
    info.size = 1
    with pytest.raises(ModelError, match="unsafe path"):
        safe_extract(_tar_with(tmp_path, info), str(tmp_path / "out"))


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_refuses_links(tmp_path, kind):
    info = tarfile.TarInfo("model/inference.pdmodel")
    info.type = kind
    info.linkname = "/etc/passwd"
    with pytest.raises(ModelError, match="link"):
        safe_extract(_tar_with(tmp_path, info), str(tmp_path / "out"))
    assert not (tmp_path / "out" / "model").exists()


def test_resolve_models_errors(models_dir, tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_models(str(tmp_path / "none"))
    broken = copy_models(models_dir, str(tmp_path / "m"))
    os.remove(os.path.join(broken, "ch_PP-OCRv2_det_infer", "inference.pdiparams"))
    with pytest.raises(ModelError, match="ch_PP-OCRv2_det_infer has no inference.pdiparams"):
        resolve_models(broken)


def test_unknown_set_and_missing_mirror(tmp_path):
    with pytest.raises(ModelError, match="unknown model set"):
        pull("ppocrv9", cache=str(tmp_path))
    with pytest.raises(ModelError, match="does not exist"):
        pull(mirror=str(tmp_path / "nowhere"), cache=str(tmp_path))
