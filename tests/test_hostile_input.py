"""Hostile but fair input (issue #19): every class of bad input gives a precise one-line reason, never a lost run,
an unbounded allocation, a process abort or a silently unverified model."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from edge_ocr.bundle import MANIFEST, load_bundle
from edge_ocr.engines.nb_file import check_nb_file
from edge_ocr.errors import ModelError
from tests.conftest import run_cli


def one_line_error(proc) -> str:
    """The single ``edge-ocr:`` line of a failed command (no traceback)."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("edge-ocr:")]
    assert errors, proc.stderr
    return errors[-1]


# ------------------------------------------------------------------------------------------ .nb structure


@pytest.fixture(scope="module")
def det_nb(x86_bundle) -> bytes:
    with open(os.path.join(x86_bundle, "det.nb"), "rb") as handle:
        return handle.read()


@pytest.mark.parametrize("cut", [0, 10, 25, 30, 4096, -100_000, -1])
def test_truncated_nb_is_refused_before_paddle_lite(det_nb, tmp_path, cut):
    from edge_ocr.engines.lite import LiteEngine

    path = tmp_path / "det.nb"
    path.write_bytes(det_nb[:cut] if cut >= 0 else det_nb[:len(det_nb) + cut])
    with pytest.raises(ModelError, match="too small|truncated|damaged"):
        LiteEngine(str(path))  # Paddle Lite itself aborts the process (rc 134) on these


@pytest.mark.parametrize("change", ["padded", "meta_version", "no_nul", "topology_size", "param_size", "garbage"])
def test_damaged_nb_header_and_sizes_are_refused(det_nb, tmp_path, change):
    data = bytearray(det_nb)
    topology = int.from_bytes(data[18:26], "little")
    params = 26 + topology
    if change == "padded":
        data += b"\0" * 7
    elif change == "meta_version":
        data[0:2] = (7).to_bytes(2, "little")
    elif change == "no_nul":
        data[2:18] = b"v" * 16
    elif change == "topology_size":
        data[18:26] = (len(data) * 4).to_bytes(8, "little")
    elif change == "param_size":
        data[params + 10 : params + 14] = (1 << 31).to_bytes(4, "little")  # the first param's total size
    else:
        data = bytearray(os.urandom(len(data)))
    path = tmp_path / "det.nb"
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="damaged|truncated|not a Paddle Lite|format 7"):
        check_nb_file(str(path))


def test_valid_nb_files_pass_the_structure_check(x86_bundle, shared):
    reference = os.path.join(shared, "models", "reference", "ch_PP-OCRv2_slim_lite_v2.10_arm")
    for path in [os.path.join(x86_bundle, f"{role}.nb") for role in ("det", "cls", "rec")] + [
        os.path.join(reference, name) for name in sorted(os.listdir(reference)) if name.endswith(".nb")
    ]:
        check_nb_file(path)


def test_nb_that_is_not_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.nb")
    with pytest.raises(ModelError, match="not a regular file"):
        check_nb_file(str(tmp_path / "fifo.nb"))  # would block in open() if it were opened


# ------------------------------------------------------------------------------------------ bundle manifests


def _clone(bundle: str, dest) -> str:
    """The bundle's files hard-linked (or copied) into ``dest``, so its manifest can be edited."""
    os.makedirs(dest)
    for name in os.listdir(bundle):
        try:
            os.link(os.path.join(bundle, name), os.path.join(dest, name))
        except OSError:
            shutil.copy(os.path.join(bundle, name), os.path.join(dest, name))
    os.remove(os.path.join(dest, MANIFEST))
    shutil.copy(os.path.join(bundle, MANIFEST), os.path.join(dest, MANIFEST))
    return str(dest)


def _edit_manifest(folder: str, edit) -> str:
    path = os.path.join(folder, MANIFEST)
    with open(path) as handle:
        manifest = json.load(handle)
    edit(manifest)
    with open(path, "w") as handle:
        json.dump(manifest, handle)
    return folder


def _set(path: str, value):
    def edit(manifest):
        *parents, last = path.split("/")
        node = manifest
        for key in parents:
            node = node[key]
        node[last] = value

    return edit


def _escape_rec(manifest):
    manifest["models"]["rec"]["file"] = "../x/rec.nb"
    manifest["files"]["../x/rec.nb"] = manifest["files"]["rec.nb"]


def _unlisted_model(manifest):
    del manifest["files"]["rec.nb"]


def _dictionary_elsewhere(manifest):
    manifest["dictionary"]["file"] = "/etc/passwd"


@pytest.mark.parametrize(
    "edit, message",
    [
        (_escape_rec, "inside the bundle folder"),
        (_unlisted_model, "not listed in files"),
        (_set("files", {}), "files is empty"),
        (_dictionary_elsewhere, "inside the bundle folder"),
        (_set("dictionary/file", "notes.txt"), "not listed in files"),
        (_set("format_version", "1"), "format_version must be an integer, not a string"),
        (_set("format_version", True), "format_version must be an integer, not a boolean"),
        (_set("models", ["det.nb"]), "models must be an object, not a list"),
        (_set("models/rec", "rec.nb"), "models.rec must be an object"),
        (_set("models/ocr", {"file": "det.nb", "precision": "fp32"}), "unknown key"),
        (_set("params/det/thresh", "0.3"), "det.thresh must be a number"),
        (_set("params/det/limit_side_len", 10**9), "det.limit_side_len must be an integer"),
        (_set("params/rec/batch_size", 0), "rec.batch_size"),
        (_set("params/max_image_pixels", 10**12), "max_image_pixels"),
        (_set("params/cls/labels", []), "cls.labels"),
        (_set("params/det", [1, 2]), "must be an object"),
        (_set("files/rec.nb", "not-a-digest"), "sha256"),
        (_set("opt_version", 2.13), "opt_version must be a string"),
    ],
)
def test_manifest_schema_violations_are_refused(x86_bundle, tmp_path, edit, message):
    folder = _edit_manifest(_clone(x86_bundle, tmp_path / "b"), edit)
    with pytest.raises(ModelError, match=message):
        load_bundle(folder)
    with pytest.raises(ModelError, match=message):
        load_bundle(folder, check_files=False)  # bench's size listing gets the same schema


def test_manifest_with_nan_or_deep_nesting_is_refused(x86_bundle, tmp_path):
    folder = _clone(x86_bundle, tmp_path / "b")
    path = os.path.join(folder, MANIFEST)
    text = open(path).read()
    open(path, "w").write(text.replace('"thresh": 0.3', '"thresh": NaN'))
    with pytest.raises(ModelError, match="NaN is not a valid JSON number"):
        load_bundle(folder)
    open(path, "w").write("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ModelError, match="unreadable manifest"):
        load_bundle(folder)


def test_manifest_extra_keys_stay_valid(x86_bundle, tmp_path):
    """Fields a later version may add at the top level (a charset, notes) do not break older runtimes."""
    folder = _edit_manifest(_clone(x86_bundle, tmp_path / "b"), _set("charset", {"name": "ppocr_keys_v1"}))
    assert load_bundle(folder).manifest["charset"] == {"name": "ppocr_keys_v1"}


def test_symlinked_bundle_file_is_refused(x86_bundle, tmp_path):
    folder = _clone(x86_bundle, tmp_path / "b")
    os.remove(os.path.join(folder, "ppocr_keys_v1.txt"))
    os.symlink(os.path.join(x86_bundle, "ppocr_keys_v1.txt"), os.path.join(folder, "ppocr_keys_v1.txt"))
    with pytest.raises(ModelError, match="not a regular file"):
        load_bundle(folder)


def test_truncated_nb_with_a_matching_sha256_is_refused(x86_bundle, tmp_path, img11):
    """A bundle whose export was cut short (and hashed as cut): the structure check catches what sha256 cannot."""
    from edge_ocr.models import sha256_file

    folder = _clone(x86_bundle, tmp_path / "b")
    rec = os.path.join(folder, "rec.nb")
    data = open(rec, "rb").read()
    os.remove(rec)
    open(rec, "wb").write(data[: len(data) // 2])
    _edit_manifest(folder, _set("files/rec.nb", sha256_file(rec)))
    assert "truncated" in one_line_error(run_cli("predict", img11, "--bundle", folder))


def test_predict_eval_and_verify_refuse_the_same_manifest(x86_bundle, models_dir, img11, tmp_path):
    folder = _edit_manifest(_clone(x86_bundle, tmp_path / "b"), _escape_rec)
    labels = tmp_path / "rec.txt"
    labels.write_text(f"{img11}\tBEWARE\n")
    for args in (["predict", img11, "--bundle", folder],
                 ["eval", "--bundle", folder, "--rec-labels", str(labels)],
                 ["verify", folder, "--against", models_dir, "--samples", img11]):
        assert "inside the bundle folder" in one_line_error(run_cli(*args)), args
