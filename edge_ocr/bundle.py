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
import stat
from dataclasses import dataclass
from typing import Any

from .config import PipelineParams
from .contract import FORMAT_VERSION, MANIFEST, MAX_MANIFEST_BYTES, ROLES, bundle_schema
from .engines.nb_file import check_nb_file
from .errors import ModelError
from .models import sha256_file
from .schema_check import check, show

_SCHEMA = bundle_schema()

__all__ = ["FORMAT_VERSION", "MANIFEST", "ROLES", "Bundle", "load_bundle", "validate_manifest", "write_manifest"]


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


def _listed_files(manifest: dict, schema: dict) -> None:
    """``x-listed-in-files``: every file the runtime opens is listed in ``files``, so its sha256 is checked."""
    for where in schema["x-listed-in-files"]:
        node: Any = manifest
        for key in where.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and node not in manifest["files"]:
            raise ValueError(f"{where} {show(node)} is not listed in files, so its sha256 would not be checked")


def validate_manifest(manifest: Any) -> None:
    """Raise ``ValueError`` naming the first field that breaks the bundle schema (``edge_ocr/bundle.schema.json``,
    the same one the C++ core checks; see the module docstring)."""
    schema = _SCHEMA
    check(schema, manifest, root=schema)
    _listed_files(manifest, schema)


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
    """``x-files``: a regular file in the bundle folder, never followed through a link, whose sha256 is ``expected``
    (the C++ core's CheckBundleFile gives the same reasons)."""
    file_path = os.path.join(bundle_dir, name)
    try:
        info = os.lstat(file_path)
    except OSError:
        raise ModelError(f"bundle {bundle_dir} lacks {show(name)}") from None
    if not stat.S_ISREG(info.st_mode):  # a symlink could point anywhere on the system
        raise ModelError(f"bundle {bundle_dir}: {show(name)} is not a regular file (links are refused)")
    if sha256_file(file_path) != expected:
        raise ModelError(f"bundle {bundle_dir}: {show(name)} does not match its sha256 in the manifest "
                         "(damaged or edited)")


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
