"""Registry of released bundles: compressed bundles a user runs without training, beside the official models.

``edge_ocr/releases.json`` (or the file ``$EDGE_OCR_RELEASES`` names) lists each release: its folder
(``bundles/<name>/``, relative to the registry's ``root``, itself relative to the registry file), every file with its
sha256 and size, its accuracy per domain and its drop against FP32 (from its compress report), the recipe that made
it (file, sha256, commit) and whether it passed verification on the ARM runtime. ``--bundle NAME`` resolves a name
through it, and every file is checked against the registry first: a changed, missing or extra file is refused.

A release is added from a finished compress run with ``add_release`` (``edge-ocr models add-release``), which copies
the bundle into the registry's root and writes its entry.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field

from .errors import ChecksumError, ModelError

log = logging.getLogger(__name__)

RELEASES_ENV = "EDGE_OCR_RELEASES"
REGISTRY_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "releases.json")
FORMAT = 1


@dataclass(frozen=True)
class Release:
    name: str
    folder: str  # absolute
    files: dict[str, dict]  # file name -> {"sha256", "bytes"}
    target: str
    precision: dict[str, str]
    accuracy: dict[str, dict[str, float | None]]  # domain -> {det_hmean, e2e_hmean, rec_accuracy}
    drop: dict[str, dict[str, float]] = field(default_factory=dict)  # domain -> metric -> points below FP32
    recipe: dict = field(default_factory=dict)  # {"name", "file", "sha256", "commit"}
    verified_on_arm: dict = field(default_factory=dict)  # {"passed", "runtime"}
    description: str = ""
    built: dict = field(default_factory=dict)  # {"created", "wall_seconds", "machine"} of the compress run
    charset: dict | None = None  # {"name", "characters"} of a charset bundle (its recognizer reads only those)

    @property
    def bytes(self) -> int:
        """The bundle's size: every file but the manifest (as ``Bundle.total_bytes`` counts it)."""
        return sum(entry["bytes"] for name, entry in self.files.items() if name != "manifest.json")

    @property
    def is_int8(self) -> bool:
        return any(p.startswith("int") for p in self.precision.values())

    def to_dict(self, root: str) -> dict:
        return {"name": self.name, "folder": os.path.relpath(self.folder, root), "description": self.description,
                "target": self.target, "precision": self.precision, "bytes": self.bytes, "files": self.files,
                "accuracy": self.accuracy, "drop": self.drop, "recipe": self.recipe,
                "verified_on_arm": self.verified_on_arm, "built": self.built,
                **({"charset": self.charset} if self.charset else {})}


def registry_path(path: str | None = None) -> str:
    return path or os.environ.get(RELEASES_ENV) or REGISTRY_FILE


def _read(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ModelError(f"release registry {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"release registry {path} cannot be read: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("releases"), list):
        raise ModelError(f"release registry {path}: expected {{\"format\": {FORMAT}, \"root\": ..., \"releases\": "
                         "[...]}")
    return data


def _root(path: str, data: dict) -> str:
    """The folder the releases' ``folder`` paths start from: the registry's ``root`` (the checkout, for the shipped
    registry), or, in an installed wheel, the package itself (pyproject.toml installs bundles/ as edge_ocr/bundles/)."""
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), data.get("root", ".")))
    installed = os.path.dirname(REGISTRY_FILE)
    if os.path.abspath(path) == REGISTRY_FILE and not os.path.isdir(os.path.join(root, "bundles")) and \
            os.path.isdir(os.path.join(installed, "bundles")):
        return installed
    return root


def _release(entry: dict, root: str, where: str) -> Release:
    try:
        name, folder, files = entry["name"], entry["folder"], entry["files"]
        if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
            raise ValueError(f"bad name {name!r}")
        if not isinstance(folder, str) or os.path.isabs(folder) or ".." in folder.replace("\\", "/").split("/"):
            raise ValueError(f"folder {folder!r} must be a path inside the registry's root")
        if not isinstance(files, dict) or "manifest.json" not in files:
            raise ValueError("files must list every file of the bundle, manifest.json included")
        for file_name, info in files.items():
            if "/" in file_name or "\\" in file_name or file_name.startswith("."):
                raise ValueError(f"file name {file_name!r} is not a plain name inside the bundle")
            if not isinstance(info.get("sha256"), str) or len(info["sha256"]) != 64 or \
                    not isinstance(info.get("bytes"), int):
                raise ValueError(f"{file_name}: needs sha256 (64 hex digits) and bytes")
        return Release(name=name, folder=os.path.join(root, folder), files=files, target=str(entry["target"]),
                       precision=dict(entry["precision"]), accuracy=dict(entry.get("accuracy", {})),
                       drop=dict(entry.get("drop", {})), recipe=dict(entry.get("recipe", {})),
                       verified_on_arm=dict(entry.get("verified_on_arm", {})),
                       description=str(entry.get("description", "")), built=dict(entry.get("built") or {}),
                       charset=dict(entry["charset"]) if entry.get("charset") else None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"release registry {where}: entry {entry.get('name') if isinstance(entry, dict) else entry!r}"
                         f" is malformed: {exc}") from None


def load_releases(path: str | None = None) -> dict[str, Release]:
    """Every release of the registry, by name."""
    path = registry_path(path)
    if path == REGISTRY_FILE and not os.path.isfile(path):
        return {}  # an installation without the registry file (no package data): no releases
    data = _read(path)
    root = _root(path, data)
    releases: dict[str, Release] = {}
    for entry in data["releases"]:
        release = _release(entry, root, path)
        if release.name in releases:
            raise ModelError(f"release registry {path}: {release.name} is listed twice")
        releases[release.name] = release
    return releases


def official_digests() -> dict[str, str]:
    """sha256 -> file name of every file of the official model set (the dictionary among them): a release does not
    carry such a file, it takes the verified official one (``check_release``)."""
    from .models import DEFAULT_SET, artifacts_of

    return {digest: rel for artifact in artifacts_of(DEFAULT_SET) for rel, digest in artifact.sha256.items()}


def _check_files(release: Release, folder: str, optional: set[str] = frozenset()) -> None:
    """Every file of ``folder`` matches the registry (sha256 and size) and nothing else is there; the names in
    ``optional`` may be absent."""
    from .models import sha256_file

    present = {name for name in os.listdir(folder) if not name.startswith(".")}
    extra = sorted(present - set(release.files))
    if extra:
        raise ChecksumError(f"release {release.name} was changed: {', '.join(extra)} is not part of it")
    for name, info in release.files.items():
        path = os.path.join(folder, name)
        if name in optional and not os.path.lexists(path):
            continue
        if os.path.islink(path) or not os.path.isfile(path):
            raise ChecksumError(f"release {release.name} was changed: {name} is missing or not a regular file")
        if os.path.getsize(path) != info["bytes"] or sha256_file(path) != info["sha256"]:
            raise ChecksumError(f"release {release.name} was changed: {name} does not match its sha256 in the "
                                "registry (refusing to run it; restore it, e.g. git checkout, or re-install)")


def check_release(release: Release) -> str:
    """A folder holding the release, every file matching the registry. Files of the official model set (the
    dictionary) are not shipped with a release: the release folder is completed in the cache
    (``<cache>/releases/<name>``) with the verified official file, its other files copied once."""
    from .atomic import replace_dir
    from .models import default_cache_dir, default_models

    if not os.path.isdir(release.folder):
        raise ModelError(f"release {release.name}: its folder {release.folder} is missing")
    official = official_digests()
    borrowed = {name for name, info in release.files.items() if info["sha256"] in official}
    _check_files(release, release.folder, optional=borrowed)
    missing = sorted(name for name in borrowed if not os.path.exists(os.path.join(release.folder, name)))
    if not missing:
        return release.folder
    complete = os.path.join(default_cache_dir(), "releases", release.name)
    try:
        _check_files(release, complete)
        return complete
    except (ChecksumError, OSError):
        pass  # not assembled yet, or from another version of the release
    source = default_models()  # pulled (mirror or official URL) and verified
    os.makedirs(os.path.dirname(complete), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{release.name}-", dir=os.path.dirname(complete))
    try:
        for name in release.files:
            origin = os.path.join(source, official[release.files[name]["sha256"]]) if name in missing else \
                os.path.join(release.folder, name)
            shutil.copyfile(origin, os.path.join(staging, name))
        _check_files(release, staging)
        replace_dir(staging, complete)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return complete


def resolve_bundle(value: str, registry: str | None = None) -> tuple[str, Release | None]:
    """``--bundle`` to a folder: a bundle folder as given, or a released bundle's name (checked against the
    registry)."""
    if os.path.isdir(value) or os.sep in value or "/" in value:
        return value, None
    releases = load_releases(registry)
    if value not in releases:
        known = ", ".join(releases) or "none yet"
        raise ModelError(f"--bundle {value}: no such folder, and no released bundle of that name (released: {known})")
    release = releases[value]
    return check_release(release), release


def release_entry(name: str, bundle_dir: str, report: dict, folder: str, description: str = "",
                  root: str | None = None) -> dict:
    """A registry entry for ``bundle_dir`` (every file hashed) from its compress report. A recipe file inside
    ``root`` (the checkout) is named relative to it: no machine's absolute path goes into the registry."""
    from .bundle import load_bundle
    from .evaluation.domains import by_domain
    from .models import sha256_file

    bundle = load_bundle(bundle_dir)  # the manifest's own checks first
    files = {entry: {"sha256": sha256_file(os.path.join(bundle_dir, entry)),
                     "bytes": os.path.getsize(os.path.join(bundle_dir, entry))}
             for entry in sorted(os.listdir(bundle_dir)) if not entry.startswith(".")}
    verification = report.get("verification") or {}
    recipe_file = report.get("recipe_file")
    if recipe_file and root and os.path.isabs(recipe_file) and \
            os.path.commonpath([os.path.abspath(recipe_file), root]) == root:
        recipe_file = os.path.relpath(recipe_file, root)
    machine = report.get("machine")
    charset = bundle.manifest.get("charset")
    return {
        "name": name, "folder": folder, "description": description, "target": bundle.target,
        "precision": {role: e["precision"] for role, e in bundle.manifest["models"].items()},
        "bytes": bundle.total_bytes(), "files": files,
        "accuracy": by_domain(report.get("compressed")), "drop": by_domain(report.get("drop")),
        "recipe": {"name": report.get("recipe_name") or report.get("recipe"), "file": recipe_file,
                   "sha256": report.get("recipe_sha256"), "commit": report.get("commit")},
        "built": {"created": report.get("created"), "wall_seconds": report.get("wall_seconds"),
                  "machine": machine if isinstance(machine, str) else None},
        "verified_on_arm": {"passed": bool(verification.get("passed")), "runtime": verification.get("runtime"),
                            "images": len(verification.get("images", []))},
        **({"charset": {"name": charset["name"], "characters": charset["characters"]}} if charset else {}),
    }


def add_release(name: str, bundle_dir: str, report: dict, registry: str | None = None,
                description: str = "", verification: dict | None = None) -> Release:
    """Copy ``bundle_dir`` to ``<root>/bundles/<name>/`` and list it in the registry (replacing an entry of that
    name); returns the release as the registry now reads it. ``verification``: an ``edge-ocr verify --json`` report
    of this bundle (its files' sha256 must be this bundle's) recorded instead of the compress run's own."""
    from .atomic import write_json
    from .bundle import load_bundle

    if verification is not None:
        files = load_bundle(bundle_dir).manifest["files"]
        if verification.get("bundle_files") != files:
            raise ModelError(f"the verification report is not of {bundle_dir}: its files' sha256 differ")
        report = {**report, "verification": verification}
    path = registry_path(registry)
    data = _read(path)
    root = _root(path, data)
    folder = os.path.join("bundles", name)
    target = os.path.join(root, folder)
    if os.path.abspath(bundle_dir) != os.path.abspath(target):
        if os.path.exists(target):
            shutil.rmtree(target)
        shutil.copytree(bundle_dir, target, ignore=shutil.ignore_patterns(".*"))
    entry = release_entry(name, target, report, folder, description, root)
    official = official_digests()
    for file_name, info in entry["files"].items():  # the official dictionary is taken from the official models
        if info["sha256"] in official and os.path.isfile(os.path.join(target, file_name)):
            os.remove(os.path.join(target, file_name))
    data["releases"] = [e for e in data["releases"] if e.get("name") != name] + [entry]
    write_json(path, data)
    return load_releases(path)[name]


def describe(release: Release) -> list[str]:
    """Lines for ``edge-ocr models list``: size, accuracy per domain and how it was made."""
    recipe = release.recipe
    made = f"recipe {recipe.get('name') or '?'}"
    if recipe.get("file"):
        made += f" ({os.path.basename(recipe['file'])}, sha256 {str(recipe.get('sha256'))[:12]}…)"
    if recipe.get("commit"):
        made += f" at commit {str(recipe['commit'])[:10]}"
    built = release.built
    if built.get("wall_seconds"):
        made += f", {built['wall_seconds'] / 60:.0f} min on {built.get('machine') or '?'}"
    arm = release.verified_on_arm
    verified = (f"verified on ARM ({arm.get('runtime')})" if arm.get("passed") else "NOT verified on ARM")
    precision = ", ".join(f"{role} {p}" for role, p in release.precision.items())
    lines = [f"  {release.bytes / 1e6:.3f} MB, target {release.target} ({precision}); {verified}",
             f"  made by {made}"]
    for domain, metrics in release.accuracy.items():
        drop = release.drop.get(domain, {})
        cells = [f"{key} {value:.4f}" + (f" ({-drop[key]:+.2f} vs FP32)" if key in drop else "")
                 for key, value in metrics.items() if value is not None]
        if cells:
            lines.append(f"  {domain}: " + ", ".join(cells))
    if release.charset:
        lines.append(f"  reads only the {release.charset['name']} charset ({release.charset['characters']} "
                     "characters): its scores count the lines outside it as misread")
    if release.description:
        lines.insert(0, f"  {release.description}")
    return lines
