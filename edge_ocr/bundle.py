"""Bundles: ``det.nb``, ``cls.nb``, ``rec.nb``, the dictionary and ``manifest.json``.

The manifest is the single source of every pre/post-processing parameter (``params``), of each model's
input spec and precision, and of the sha256 of every file, so the Python runtime and the C++ core agree.

``load_bundle`` is the one gate that ``predict``, ``eval``, ``verify`` and ``bench`` pass through: the manifest
must match ``validate_manifest``'s schema (types, ranges, file names that stay inside the bundle, every file the
runtime opens listed in ``files`` with its sha256), and every listed file must match its sha256 and, for ``.nb``
files, have a complete naive-buffer structure. Unknown top-level keys are allowed (later fields such as a
``charset``), unknown keys inside the fields the runtime reads are not.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from typing import Any

from .config import PipelineParams
from .engines.nb_file import check_nb_file
from .errors import ModelError
from .models import sha256_file

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
ROLES = ("det", "cls", "rec")
MAX_MANIFEST_BYTES = 1 << 20  # a real one is ~4 KB
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MODEL_KEYS = {"file", "precision", "fp16", "weight_only_bits", "unread_attrs_dropped", "program_compacted",
               "kernel_targets", "input", "source", "source_dir"}
_DICTIONARY_KEYS = {"file", "characters", "classes"}


@dataclass
class Bundle:
    path: str
    manifest: dict[str, Any]

    @property
    def params(self) -> PipelineParams:
        return PipelineParams.from_dict(self.manifest["params"])

    @property
    def target(self) -> str:
        return self.manifest["target"]

    def model_file(self, role: str) -> str | None:
        entry = self.manifest["models"].get(role)
        return os.path.join(self.path, entry["file"]) if entry else None

    @property
    def dictionary(self) -> str:
        return os.path.join(self.path, self.manifest["dictionary"]["file"])

    def total_bytes(self) -> int:
        return sum(os.path.getsize(os.path.join(self.path, name)) for name in self.manifest["files"])


_KIND_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
               float: "a number", type(None): "null"}


def _expect(value: Any, kind: type, where: str) -> Any:
    """``value`` if it is of ``kind`` (a bool is not an integer here), else a ``ValueError`` naming ``where``."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{where} must be {_KIND_NAMES[kind]}, not {_KIND_NAMES.get(type(value), 'a number')}")
    return value


def _file_name(value: Any, where: str) -> str:
    """A plain file name inside the bundle folder: no folders, no '..', no absolute path."""
    name = _expect(value, str, where)
    if not name or name in (".", "..", MANIFEST) or "/" in name or "\\" in name or "\x00" in name or len(name) > 255:
        raise ValueError(f"{where} must name a file inside the bundle folder, not {name!r}")
    return name


def _no_unknown_keys(entry: dict, known: set[str], where: str) -> None:
    unknown = sorted(set(entry) - known)
    if unknown:
        raise ValueError(f"{where} has unknown key(s) {', '.join(unknown)}")


def validate_manifest(manifest: Any) -> None:
    """Raise ``ValueError`` naming the first field that breaks the bundle schema (see the module docstring)."""
    _expect(manifest, dict, "the manifest")
    for key in ("format_version", "target", "opt_version", "models", "dictionary", "params", "files"):
        if key not in manifest:
            raise ValueError(f"missing {key!r}")
    version = _expect(manifest["format_version"], int, "format_version")
    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"format version {version} is not one this runtime reads (1 to {FORMAT_VERSION})")
    for key in ("target", "opt_version"):
        if not _expect(manifest[key], str, key):
            raise ValueError(f"{key} is empty")
    files = _expect(manifest["files"], dict, "files")
    if not files:
        raise ValueError("files is empty: nothing in the bundle would be verified")
    for name, digest in files.items():
        _file_name(name, f"files[{name!r}]")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ValueError(f"files[{name!r}] must be a lowercase hex sha256")
    used = []
    models = _expect(manifest["models"], dict, "models")
    _no_unknown_keys(models, set(ROLES), "models")
    for role in ("det", "rec"):
        if role not in models:
            raise ValueError(f"no {role} model")
    for role, entry in models.items():
        where = f"models.{role}"
        _expect(entry, dict, where)
        _no_unknown_keys(entry, _MODEL_KEYS, where)
        if "file" not in entry or "precision" not in entry:
            raise ValueError(f"{where} needs 'file' and 'precision'")
        used.append((where + ".file", _file_name(entry["file"], where + ".file")))
        _expect(entry["precision"], str, where + ".precision")
        _expect(entry.get("fp16", False), bool, where + ".fp16")
        for flag in ("unread_attrs_dropped", "program_compacted"):
            _expect(entry.get(flag, False), bool, f"{where}.{flag}")
        if entry.get("weight_only_bits", 0) not in (0, 8, 16):
            raise ValueError(f"{where}.weight_only_bits must be 0, 8 or 16")
        for key in ("kernel_targets", "input", "source"):
            _expect(entry.get(key, {}), dict, f"{where}.{key}")
        _expect(entry.get("source_dir", ""), str, where + ".source_dir")
    dictionary = _expect(manifest["dictionary"], dict, "dictionary")
    _no_unknown_keys(dictionary, _DICTIONARY_KEYS, "dictionary")
    used.append(("dictionary.file", _file_name(dictionary.get("file"), "dictionary.file")))
    for key in ("characters", "classes"):
        if key in dictionary and _expect(dictionary[key], int, f"dictionary.{key}") < 1:
            raise ValueError(f"dictionary.{key} must be at least 1")
    for where, name in used:
        if name not in files:
            raise ValueError(f"{where} {name!r} is not listed in files, so its sha256 would not be checked")
    PipelineParams.from_dict(_expect(manifest["params"], dict, "params"))


def _read_manifest(manifest_path: str) -> Any:
    try:
        info = os.stat(manifest_path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_MANIFEST_BYTES:
            raise ModelError(f"{manifest_path}: not a regular file of at most {MAX_MANIFEST_BYTES} bytes")
        with open(manifest_path, "rb") as handle:
            return json.loads(handle.read().decode("utf-8"), parse_constant=_refuse_constant)
    except OSError as exc:
        raise ModelError(f"{manifest_path}: unreadable manifest ({exc.strerror})") from exc
    except (ValueError, RecursionError) as exc:
        raise ModelError(f"{manifest_path}: unreadable manifest ({exc})") from exc


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a valid JSON number")


def _check_file(bundle_dir: str, name: str, expected: str) -> None:
    file_path = os.path.join(bundle_dir, name)
    try:
        info = os.lstat(file_path)
    except OSError:
        raise ModelError(f"bundle {bundle_dir} lacks {name}") from None
    if not stat.S_ISREG(info.st_mode):  # a symlink could point anywhere on the system
        raise ModelError(f"bundle {bundle_dir}: {name} is not a regular file (links are refused)")
    if sha256_file(file_path) != expected:
        raise ModelError(f"bundle {bundle_dir}: {name} does not match its sha256 in the manifest (damaged or edited)")


def load_bundle(path: str, check_files: bool = True) -> Bundle:
    """Read and validate ``path/manifest.json``; with ``check_files`` every file's sha256 and every ``.nb`` file's
    structure are checked too."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise ModelError(f"bundle folder {path} does not exist")
    if not os.path.isfile(manifest_path):
        raise ModelError(f"{path} is not a bundle: no {MANIFEST}")
    manifest = _read_manifest(manifest_path)
    try:
        validate_manifest(manifest)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{manifest_path}: {exc}") from exc
    bundle = Bundle(path, manifest)
    if check_files:
        for name, expected in manifest["files"].items():
            _check_file(path, name, expected)
        for role in ROLES:
            model = bundle.model_file(role)
            if model:
                check_nb_file(model)
    return bundle


def write_manifest(path: str, manifest: dict[str, Any]) -> str:
    """Write ``manifest.json`` atomically (temp file + rename)."""
    from .atomic import write_json

    target = os.path.join(path, MANIFEST)
    write_json(target, manifest)
    return target
