"""Bundles: ``det.nb``, ``cls.nb``, ``rec.nb``, the dictionary and ``manifest.json``.

The manifest is the single source of every pre/post-processing parameter (``params``), of each model's
input spec and precision, and of the sha256 of every file, so the Python runtime and the C++ core agree.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from .config import PipelineParams
from .errors import ModelError
from .models import sha256_file

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
ROLES = ("det", "cls", "rec")


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


def load_bundle(path: str, check_files: bool = True) -> Bundle:
    """Read and validate ``path/manifest.json``; with ``check_files`` every file's sha256 is checked too."""
    manifest_path = os.path.join(path, MANIFEST)
    if not os.path.isdir(path):
        raise ModelError(f"bundle folder {path} does not exist")
    if not os.path.isfile(manifest_path):
        raise ModelError(f"{path} is not a bundle: no {MANIFEST}")
    try:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ModelError(f"{manifest_path}: unreadable manifest ({exc})") from exc
    for key in ("format_version", "target", "models", "dictionary", "params", "files"):
        if key not in manifest:
            raise ModelError(f"{manifest_path}: missing {key!r}")
    if manifest["format_version"] > FORMAT_VERSION:
        raise ModelError(f"{manifest_path}: format version {manifest['format_version']} is newer than this runtime's")
    for role in ("det", "rec"):
        if role not in manifest["models"]:
            raise ModelError(f"{manifest_path}: no {role} model")
    try:
        PipelineParams.from_dict(manifest["params"])
    except (TypeError, ValueError) as exc:
        raise ModelError(f"{manifest_path}: bad params ({exc})") from exc
    bundle = Bundle(path, manifest)
    if check_files:
        for name, expected in manifest["files"].items():
            file_path = os.path.join(path, name)
            if not os.path.isfile(file_path):
                raise ModelError(f"bundle {path} lacks {name}")
            if sha256_file(file_path) != expected:
                raise ModelError(f"bundle {path}: {name} does not match its sha256 in the manifest (damaged or edited)")
    return bundle


def write_manifest(path: str, manifest: dict[str, Any]) -> str:
    """Write ``manifest.json`` atomically (temp file + rename)."""
    from .atomic import write_json

    target = os.path.join(path, MANIFEST)
    write_json(target, manifest)
    return target
